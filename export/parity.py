"""Check that ONNX Runtime reproduces PyTorch's logits before anything is served."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from export.errors import ExportError

if TYPE_CHECKING:  # torch and transformers load only when a check runs: the CLI reads DEFAULT_TOLERANCE first
    from export.checkpoint import Checkpoint
    from export.onnx_scoring import OnnxScorer

# Varied lengths on purpose: padding is where exported attention masks go wrong.
PARITY_SENTENCES = [
    "I love this movie, it was wonderful.",
    "This was a terrible waste of time.",
    "ok",
    "The plot meanders for an hour before anything happens, and when it does the payoff is thin, "
    "but the lead performance is so committed that I could not look away.",
    "Not bad at all!",
    "Service was slow 😒 but the food — 美味しい — made up for it.",
]
DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ParityReport:
    max_abs_diff: float
    labels_agree: bool


def compare_with_pytorch(
    checkpoint: "Checkpoint", scorer: "OnnxScorer", tolerance: float = DEFAULT_TOLERANCE
) -> ParityReport:
    """Run both on one padded batch; raise ``ExportError`` if logits differ by more than ``tolerance``."""
    inputs = scorer.encode(PARITY_SENTENCES)
    onnx_logits = scorer.run(inputs)

    import torch

    with torch.inference_mode():
        torch_logits = checkpoint.model(**{name: torch.from_numpy(array) for name, array in inputs.items()}).logits
    torch_logits = torch_logits.numpy()

    report = ParityReport(
        max_abs_diff=float(np.max(np.abs(onnx_logits - torch_logits))),
        labels_agree=bool(np.array_equal(onnx_logits.argmax(-1), torch_logits.argmax(-1))),
    )
    if not report.max_abs_diff <= tolerance:  # also catches NaN
        raise ExportError(
            f"ONNX Runtime and PyTorch disagree: max |logit difference| {report.max_abs_diff:.3g} "
            f"> tolerance {tolerance:g}; refusing to write a model that would serve different answers"
        )
    return report
