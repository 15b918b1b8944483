"""Whether an existing export already is what was asked for, so ``make run`` keeps it instead of exporting again.

Same checkpoint means the same hub id, or a local folder whose files have the same digest (wherever it
lies now); the precision, the drift reference set and the calibration set must match too. Anything else
is exported over it, so that ``make run MODEL=X`` always serves X.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from contract.drift_profile import TrafficProfile
from contract.metadata import METADATA_FILENAME, ServingMetadata
from export.source import checkpoint_digest, is_local


@dataclass(frozen=True)
class Verdict:
    """Keep the existing export or export again, and the one line that says which and why."""

    reuse: bool
    reason: str  # empty when there is nothing to say: no export yet, and the export's own steps follow


def compare_with_existing(
    version_dir: Path, model: str, precision: str, reference_data: Path | None, calibration_data: Path | None = None
) -> Verdict:
    if not (version_dir / METADATA_FILENAME).exists():
        return Verdict(False, "")
    try:
        metadata = ServingMetadata.read(version_dir)
    except (ValueError, TypeError, json.JSONDecodeError):
        return Verdict(False, f"{version_dir} holds an export this version cannot read: exporting {model} over it")
    if is_local(model):
        local = Path(model).expanduser()
        same_checkpoint = local.is_dir() and metadata.source_digest == checkpoint_digest(local)
    else:
        same_checkpoint = metadata.source == model
    if not same_checkpoint:
        return Verdict(False, f"{version_dir} holds {metadata.source}, not {model}: exporting {model} over it")
    mismatch = _settings_mismatch(version_dir, metadata, precision, reference_data, calibration_data)
    if mismatch:
        return Verdict(False, mismatch)
    return Verdict(True, f"{version_dir} already holds {model} ({precision}): reusing it (FORCE=1 exports again)")


def _settings_mismatch(
    version_dir: Path,
    metadata: ServingMetadata,
    precision: str,
    reference_data: Path | None,
    calibration_data: Path | None,
) -> str:
    """Why an export of the right checkpoint was made with other options, or empty when it was not."""
    if metadata.precision != precision:
        return f"{version_dir} is a {metadata.precision} export, {precision} asked: exporting again"
    if reference_data is not None:
        profile = TrafficProfile.read(version_dir)
        if profile is None or profile.source != str(reference_data):
            return f"{version_dir} has no reference profile of {reference_data}: exporting again"
    calibrated_on = metadata.calibration.source if metadata.calibration else None
    if calibration_data is not None and calibrated_on != str(calibration_data):
        return f"{version_dir} is not calibrated on {calibration_data}: exporting again"
    return ""
