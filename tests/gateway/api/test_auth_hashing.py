"""The digest command operators run to configure GATEWAY_API_KEY_HASHES; tests/reliability/test_auth.py checks
the keys against a running gateway."""

import subprocess
import sys

import pytest
from support import REPO_ROOT

from gateway.api.auth import digest

pytestmark = pytest.mark.fast

KEY = "s3cret-key-for-tests-0123456789"


def test_the_hash_command_prints_the_digest_to_configure() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.api.auth", "hash", KEY],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == digest(KEY)
