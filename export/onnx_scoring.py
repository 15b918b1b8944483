"""Score texts with an exported ONNX classifier in ONNX Runtime: the one way the export runs its model.

The parity check against PyTorch, the int8-vs-fp32 agreement and the reference profile all score through
``OnnxScorer``. It feeds the inputs and reads the output that the serving metadata names, the tensors the
gateway asks Triton for, so a check passes only for the model as it will be served.
"""

from pathlib import Path

import numpy as np
import onnxruntime as ort
from transformers import PreTrainedTokenizerFast

from contract.metadata import ServingMetadata

BATCH_SIZE = 32


class OnnxScorer:
    """One ONNX Runtime session over one model file, with the checkpoint's tokenizer and the model's metadata."""

    def __init__(self, onnx_path: Path, tokenizer: PreTrainedTokenizerFast, metadata: ServingMetadata) -> None:
        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer
        self.metadata = metadata

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        """One padded batch of the model's inputs, texts truncated at the model's maximum as the gateway does."""
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.metadata.max_length, return_tensors="np"
        )
        return {name: encoded[name].astype(np.int64) for name in self.metadata.input_names}

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([self.metadata.output_name], inputs)[0]

    def logits(self, texts: list[str]) -> np.ndarray:
        """Logits [texts, labels], in batches: a large reference set pads each batch only to its own longest text."""
        return np.concatenate(
            [self.run(self.encode(texts[start : start + BATCH_SIZE])) for start in range(0, len(texts), BATCH_SIZE)]
        )

    def probabilities(self, texts: list[str]) -> np.ndarray:
        logits = self.logits(texts)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def token_counts(self, texts: list[str]) -> list[int]:
        encoded = self.tokenizer(texts, truncation=True, max_length=self.metadata.max_length)
        return [len(ids) for ids in encoded["input_ids"]]
