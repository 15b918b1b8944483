"""Export the loaded model to ONNX with optimum, batch and sequence axes dynamic."""

from pathlib import Path

from optimum.exporters.onnx import onnx_export_from_model

from export.checkpoint import Checkpoint

ONNX_FILENAME = "model.onnx"


def export_onnx(checkpoint: Checkpoint, output_dir: Path) -> Path:
    """Write ``model.onnx`` into ``output_dir`` and return its path.

    optimum's own validation is off: ``export.parity`` runs a stricter check on a padded batch of
    real sentences, which is the case that matters for serving.
    """
    onnx_export_from_model(
        checkpoint.model,
        output_dir,
        task="text-classification",
        do_validation=False,
        preprocessors=[checkpoint.tokenizer],
    )
    return output_dir / ONNX_FILENAME
