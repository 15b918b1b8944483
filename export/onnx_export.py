"""Export the loaded model to ONNX with optimum, batch and sequence axes dynamic."""

import logging
import warnings
from pathlib import Path

from optimum.exporters.onnx import onnx_export_from_model
from torch.jit import TracerWarning

from export.checkpoint import Checkpoint

ONNX_FILENAME = "model.onnx"


def export_onnx(checkpoint: Checkpoint, output_dir: Path) -> Path:
    """Write ``model.onnx`` into ``output_dir`` and return its path.

    optimum's own validation is off: ``export.parity`` runs a stricter check on a padded batch of
    real sentences, which is the case that matters for serving.

    Two framework messages are silenced because no user can act on them: the tracer's warning that a
    tensor built from shapes becomes a constant (transformers' attention-mask helper; the parity check
    on a padded batch of mixed lengths proves the graph is right), and optimum's note that deduplicating
    tied weights needs accelerate (a sequence classifier ties no weights).
    """
    optimum_logger = logging.getLogger("optimum.exporters.onnx.base")
    level = optimum_logger.level
    optimum_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TracerWarning)
            onnx_export_from_model(
                checkpoint.model,
                output_dir,
                task="text-classification",
                do_validation=False,
                preprocessors=[checkpoint.tokenizer],
            )
    finally:
        optimum_logger.setLevel(level)
    return output_dir / ONNX_FILENAME
