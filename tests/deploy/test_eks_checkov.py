"""checkov finds no failed check in any rendered variant, and every skip says why."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from eks_support import CHECKOV, Rendered

pytestmark = pytest.mark.slow  # runs checkov from its own venv (.venv-checkov), about 10-20 s


def test_checkov_reports_no_failed_checks(rendered_variants: dict[str, Rendered], tmp_path: Path) -> None:
    if os.environ.get("SKIP_CHECKOV") == "1":
        pytest.skip("SKIP_CHECKOV=1")
    if not CHECKOV.is_file():
        pytest.fail(f"checkov not found at {CHECKOV}: create .venv-checkov (see docs/deploy-eks.md) or set CHECKOV")
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    for name, rendered in rendered_variants.items():
        shutil.copy(rendered.path, scan_dir / f"{name}.yaml")

    # --skip-download: no call to the vendor's API, so the scan works offline and gives the same answer.
    result = subprocess.run(
        [str(CHECKOV), "-d", str(scan_dir), "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    assert summary["resource_count"] >= sum(len(r.objects) for r in rendered_variants.values()) // 2
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert reason and reason != "No comment provided", f"{skipped['check_id']} on {skipped['resource']}"
    assert result.returncode == 0, result.stderr
