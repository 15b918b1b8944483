"""The export's --calibration-data and --languages, run for real on the tiny checkpoint."""

import re
from pathlib import Path

import pytest
from support import SST2_DEV, require_shared
from test_export import run_export_cli

from contract.metadata import ServingMetadata

pytestmark = pytest.mark.slow


def test_calibration_is_fitted_reported_on_held_out_data_and_written(tiny_checkpoint: Path, tmp_path: Path) -> None:
    require_shared(SST2_DEV)
    args = ("--model", str(tiny_checkpoint), "--name", "calibrated", "--repository", str(tmp_path))
    result = run_export_cli(*args, "--calibration-data", str(SST2_DEV), "--languages", "en,de")
    assert result.returncode == 0, result.stderr
    # 872 dev sentences: 349 fit the temperature, 349 give the conformal scores, 174 are held out for the report.
    assert "temperature " in result.stderr and "(fitted on 349 texts), 349 conformal scores" in result.stderr
    report = re.search(
        r"held out \(174 texts\): ECE ([\d.]+) before, ([\d.]+) after; coverage ([\d.]+)%", result.stderr
    )
    assert report, result.stderr

    metadata = ServingMetadata.read(tmp_path / "calibrated" / "1")
    assert metadata.supported_languages == ["en", "de"]
    calibration = metadata.calibration
    assert calibration.source == str(SST2_DEV)
    assert calibration.temperature > 0
    assert calibration.conformal_scores == sorted(calibration.conformal_scores)
    assert len(calibration.conformal_scores) == 349
    printed = {"before": float(report[1]), "after": float(report[2])}  # printed to 4 decimals
    assert calibration.held_out_ece == pytest.approx(printed, abs=5e-5)


def test_too_little_calibration_data_is_one_clear_line(tiny_checkpoint: Path, tmp_path: Path) -> None:
    require_shared(SST2_DEV)
    small = tmp_path / "small.tsv"
    small.write_text("".join(SST2_DEV.read_text(encoding="utf-8").splitlines(keepends=True)[1:31]), encoding="utf-8")
    result = run_export_cli(
        "--model", str(tiny_checkpoint), "--repository", str(tmp_path), "--calibration-data", str(small)
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()[-1:]
    assert f"--calibration-data {small}: calibration needs at least 20 texts in each of its 3 splits" in line
    assert "Traceback" not in result.stderr
