"""The export, step by step: load, export, check, write."""

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

from export.checkpoint import load_checkpoint
from export.errors import ExportError
from export.onnx_export import export_onnx
from export.parity import DEFAULT_TOLERANCE, ParityReport, compare_with_pytorch
from export.repository import build_metadata, write_version
from export.timing import step

logger = logging.getLogger("export")


@dataclass(frozen=True)
class ExportRequest:
    """What to export and where; mirrors the command line."""

    model: str
    name: str = "sentiment"
    repository: Path = Path("model_repository")
    version: int = 1
    force: bool = False
    tolerance: float = DEFAULT_TOLERANCE


def run_export(request: ExportRequest) -> ParityReport:
    """Export ``request.model`` into the repository; raises ``ExportError`` on any user-fixable problem."""
    version_dir = request.repository / request.name / str(request.version)
    if version_dir.exists() and not request.force:
        # Fail before the minutes of loading and exporting, not after.
        raise ExportError(f"{version_dir} already exists; pass --force to overwrite it")

    with step(f"[1/4] load {request.model}"):
        checkpoint = load_checkpoint(request.model)
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as workdir:
        with step("[2/4] export to ONNX (optimum, dynamic batch and sequence axes)"):
            onnx_path = export_onnx(checkpoint, Path(workdir))
            input_names = [
                graph_input.name for graph_input in onnx.load(str(onnx_path), load_external_data=False).graph.input
            ]
        with step(f"[3/4] check ONNX Runtime against PyTorch (tolerance {request.tolerance:g})"):
            report = compare_with_pytorch(checkpoint, onnx_path, request.tolerance)
        logger.info("      max |logit difference| %.2e, labels agree: %s", report.max_abs_diff, report.labels_agree)
        with step(f"[4/4] write {version_dir}"):
            metadata = build_metadata(checkpoint, request.name, input_names)
            for line in write_version(
                checkpoint, onnx_path, metadata, request.repository, request.version, request.force
            ):
                logger.info("      %s", line)
    return report
