"""Run an exported ONNX classifier over many texts in ONNX Runtime: for the int8 report and the reference profile."""

from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.checkpoint import Checkpoint

BATCH_SIZE = 32


def onnx_probabilities(onnx_path: Path, checkpoint: Checkpoint, texts: list[str]) -> np.ndarray:
    """Softmax probabilities [texts, labels], texts truncated at the model's maximum like the gateway does."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_names = [graph_input.name for graph_input in session.get_inputs()]
    batches = []
    for start in range(0, len(texts), BATCH_SIZE):
        encoded = checkpoint.tokenizer(
            texts[start : start + BATCH_SIZE],
            padding=True,
            truncation=True,
            max_length=checkpoint.max_length,
            return_tensors="np",
        )
        batches.append(session.run(["logits"], {name: encoded[name].astype(np.int64) for name in input_names})[0])
    logits = np.concatenate(batches)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def token_counts(checkpoint: Checkpoint, texts: list[str]) -> list[int]:
    encoded = checkpoint.tokenizer(texts, truncation=True, max_length=checkpoint.max_length)
    return [len(ids) for ids in encoded["input_ids"]]
