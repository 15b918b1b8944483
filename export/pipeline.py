"""The export, step by step: load, export, check, write."""

import dataclasses
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contract.drift_profile import TrafficProfile
from contract.labelled_data import load_tsv
from export.calibration import calibrate, split_examples
from export.checkpoint import load_checkpoint
from export.errors import ExportError
from export.onnx_export import ONNX_FILENAME, export_onnx
from export.onnx_scoring import OnnxScorer
from export.parity import DEFAULT_TOLERANCE, ParityReport, compare_with_pytorch
from export.quantize import compare_int8_with_fp32, quantize_int8
from export.repository import build_metadata, write_version
from export.timing import Steps

logger = logging.getLogger("export")


@dataclass(frozen=True)
class ExportRequest:
    """What to export and where; mirrors the command line."""

    model: str
    name: str = "sentiment"
    repository: Path = Path("model_repository")
    version: int = 1
    force: bool = False  # overwrite an existing version and its configs
    replace_version: bool = False  # overwrite an existing version, keeping (and checking) the configs
    tolerance: float = DEFAULT_TOLERANCE
    quantize: str | None = None  # "int8": write a dynamically quantized model for CPU serving
    parity_data: Path | None = None  # labelled TSV for the int8 report (default: built-in sentences)
    min_agreement: float = 0.97
    reference_data: Path | None = None  # sentence<TAB>label file of typical traffic; drift is measured against it
    calibration_data: Path | None = None  # labelled file: temperature, conformal scores and ECE (export.calibration)
    supported_languages: tuple[str, ...] = ("en",)  # what the checkpoint was trained on; v2 flags the others


def reference_profile(scorer: OnnxScorer, data: Path) -> TrafficProfile:
    """The served model's profile on ``data``: what drift is measured against."""
    texts = [example.text for example in load_tsv(data)]
    probabilities = scorer.probabilities(texts)
    return TrafficProfile.from_observations(
        labels=scorer.metadata.labels,
        label_indices=probabilities.argmax(axis=1).tolist(),
        scores=probabilities.max(axis=1).tolist(),
        tokens=scorer.token_counts(texts),
        source=str(data),
    )


def run_export(request: ExportRequest) -> ParityReport:
    """Export ``request.model`` into the repository; raises ``ExportError`` on any user-fixable problem."""
    version_dir = request.repository / request.name / str(request.version)
    if version_dir.exists() and not (request.force or request.replace_version):
        # Fail before the minutes of loading and exporting, not after.
        raise ExportError(f"{version_dir} already exists; pass --force to overwrite it (make export FORCE=1)")

    optional_steps = [request.quantize == "int8", request.reference_data is not None, request.calibration_data]
    step = Steps(total=4 + sum(map(bool, optional_steps)))
    with step(f"load {request.model}"):
        checkpoint = load_checkpoint(request.model)
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as workdir:
        with step("export to ONNX (optimum, dynamic batch and sequence axes)"):
            onnx_path = export_onnx(checkpoint, Path(workdir))
            metadata = build_metadata(checkpoint, request.name, onnx_path, request.quantize or "fp32")
        with step(f"check ONNX Runtime against PyTorch (tolerance {request.tolerance:g})"):
            scorer = OnnxScorer(onnx_path, checkpoint.tokenizer, metadata)
            report = compare_with_pytorch(checkpoint, scorer, request.tolerance)
        logger.info("      max |logit difference| %.2e, labels agree: %s", report.max_abs_diff, report.labels_agree)
        if request.quantize == "int8":
            with step("quantize to int8 and compare with fp32"):
                fp32_scorer = scorer
                onnx_path = quantize_int8(onnx_path, Path(workdir) / "int8" / ONNX_FILENAME)
                scorer = OnnxScorer(onnx_path, checkpoint.tokenizer, metadata)
                quantization = compare_int8_with_fp32(fp32_scorer, scorer, request.parity_data, request.min_agreement)
            for line in quantization.lines():
                logger.info("      %s", line)
        profile = None
        if request.reference_data:
            with step(f"profile the reference set {request.reference_data}"):
                profile = reference_profile(scorer, request.reference_data)
            fractions = dict(zip(profile.labels, (round(f, 3) for f in profile.label_fractions), strict=True))
            logger.info("      %d texts, predicted label fractions %s", profile.texts, fractions)
        calibration = None
        if request.calibration_data:
            with step(f"calibrate on {request.calibration_data} (temperature, conformal scores)"):
                try:
                    fitted = calibrate(
                        split_examples(load_tsv(request.calibration_data)),
                        metadata.labels,
                        scorer.probabilities,
                        str(request.calibration_data),
                    )
                except ValueError as error:
                    raise ExportError(f"--calibration-data {request.calibration_data}: {error}") from None
            for line in fitted.lines():
                logger.info("      %s", line)
            calibration = fitted.calibration
        metadata = dataclasses.replace(
            metadata, supported_languages=list(request.supported_languages), calibration=calibration
        )
        with step(f"write {version_dir}"):
            for line in write_version(
                checkpoint, onnx_path, metadata, request.repository, request.version, request.force, profile
            ):
                logger.info("      %s", line)
    return report
