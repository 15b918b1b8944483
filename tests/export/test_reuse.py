"""make run keeps an export only when it was made with the options asked now: here, the calibration set."""

from pathlib import Path

import pytest

from contract.calibration import Calibration
from contract.metadata import ServingMetadata
from export.reuse import compare_with_existing

pytestmark = pytest.mark.fast

HUB_ID = "distilbert-base-uncased-finetuned-sst-2-english"


def exported(version_dir: Path, calibrated_on: str | None) -> Path:
    version_dir.mkdir(parents=True)
    calibration = Calibration(1.3, [0.1, 0.2], source=calibrated_on) if calibrated_on else None
    ServingMetadata("sentiment", HUB_ID, 512, ["NEGATIVE", "POSITIVE"], calibration=calibration).write(version_dir)
    return version_dir


def test_an_export_calibrated_on_the_file_asked_is_kept(tmp_path: Path) -> None:
    version_dir = exported(tmp_path / "1", "cal.tsv")
    assert compare_with_existing(version_dir, HUB_ID, "fp32", None, Path("cal.tsv")).reuse
    assert compare_with_existing(version_dir, HUB_ID, "fp32", None, None).reuse  # calibration not asked: kept


@pytest.mark.parametrize("calibrated_on", [None, "other.tsv"])
def test_an_export_not_calibrated_on_the_file_asked_is_made_again(tmp_path: Path, calibrated_on: str | None) -> None:
    version_dir = exported(tmp_path / "1", calibrated_on)
    verdict = compare_with_existing(version_dir, HUB_ID, "fp32", None, Path("cal.tsv"))
    assert not verdict.reuse
    assert verdict.reason == f"{version_dir} is not calibrated on cal.tsv: exporting again"
