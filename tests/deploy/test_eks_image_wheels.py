"""The gateway image's pins resolve to wheels for its platform: pip's real resolver against the package registry.

Slow tier: it needs the registry (pip's index) and takes about ten seconds of resolving.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eks_support import EKS_DIR

pytestmark = pytest.mark.slow

DOCKER_DIR = EKS_DIR / "docker"


def test_gateway_wheels_resolve_for_the_image_platform(tmp_path: Path) -> None:
    """pip resolves every pin to a CPython 3.11 x86-64 wheel, as the builder stage does (registry needed)."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed"),
            *("--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp"),
            # The bookworm base has glibc 2.36: these manylinux tags all run on it.
            *("--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64"),
            *("--platform", "manylinux2014_x86_64", "--target", str(tmp_path / "target")),
            *("--report", str(report), "-r", str(DOCKER_DIR / "gateway-requirements.txt")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    installed = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"fastapi", "uvicorn", "tokenizers", "tritonclient", "limits", "redis"} <= installed
