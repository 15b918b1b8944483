"""The README's quick start on a fresh clone, offline, with the stand-in model: `make run` serves what it says.

The clone shares this checkout's virtualenv (``VENV=``) rather than installing its own, to keep the test to
a minute: its files are dated back so that make finds that virtualenv up to date, and the test stops before
anything runs if make would still install into it. Every server listens on free ports, so the test can run
beside the rest of the suite or a `make run`. Timings are printed (``pytest -s``), never asserted.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from localtriton.server import free_port
from markdown_it import MarkdownIt
from support import REPO_ROOT, SHARED_DIR

pytestmark = pytest.mark.slow

VENV = Path(sys.prefix)
LONG_AGO = 946_684_800  # 2000-01-01: older than any virtualenv's install stamp


def readme_offline_command() -> str:
    """The README's `make run` for machines without internet, as written in its quick start."""
    tokens = MarkdownIt("commonmark").parse((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    lines = [line for token in tokens if token.type == "fence" for line in token.content.splitlines()]
    (command,) = [line for line in lines if line.startswith("make run MODEL=../shared/")]
    return command


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Path]:
    """A fresh clone of the committed tree with shared/ beside it, as on the project's machines."""
    (tmp_path / "shared").symlink_to(SHARED_DIR)
    checkout = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(checkout)], check=True, timeout=120)
    for path in checkout.rglob("*"):
        os.utime(path, (LONG_AGO, LONG_AGO), follow_symlinks=False)
    yield checkout
    subprocess.run(["make", "stop", f"VENV={VENV}"], cwd=checkout, capture_output=True, timeout=60, check=False)


def make(
    clone: Path, command: str, *variables: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, float]:
    # The clone's own localtriton, not the one the shared virtualenv's editable install points at.
    env = {"HF_HUB_OFFLINE": "1", **os.environ, **(env or {}), "PYTHONPATH": str(clone / "deploy" / "local")}
    # As from a user's shell, not as a sub-make of `make test` (which would say "make[1]: ***" and pass its flags).
    for variable in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS"):
        env.pop(variable, None)
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", " ".join([command, *variables])],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result, time.monotonic() - started


def listening_addresses(pid: int) -> set[str]:
    sockets = psutil.Process(pid).net_connections(kind="inet")
    return {socket.laddr.ip for socket in sockets if socket.status == psutil.CONN_LISTEN}


def server_variables(gateway_port: int) -> tuple[str, ...]:
    """The shared virtualenv and free ports: the only make variables the README's commands get added."""
    return (
        f"VENV={VENV}",
        f"TRITON_HTTP_PORT={free_port()}",
        f"TRITON_GRPC_PORT={free_port()}",
        f"TRITON_METRICS_PORT={free_port()}",
        f"GATEWAY_PORT={gateway_port}",
    )


def assert_venv_up_to_date(clone: Path) -> None:
    up_to_date, _ = make(clone, "make --question setup", f"VENV={VENV}")
    assert up_to_date.returncode == 0, "make would install into the shared virtualenv; stopping before it does"


def test_offline_the_default_make_run_fails_within_seconds_in_one_line(clone: Path, tmp_path: Path) -> None:
    """No HF_HUB_OFFLINE: the hub is simply unreachable (a port nothing listens on) and nothing is cached."""
    assert_venv_up_to_date(clone)
    offline = {"HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_HOME": str(tmp_path / "empty-hf-cache")}
    result, seconds = make(clone, "make run", *server_variables(free_port()), env={**offline, "HF_HUB_OFFLINE": ""})
    assert result.returncode != 0
    assert seconds < 10
    errors = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(errors) == 1, result.stderr
    (line,) = errors
    assert "cannot reach the Hugging Face hub" in line and "make run MODEL=/path/to/checkpoint" in line
    assert "Retrying" not in result.stdout + result.stderr


def test_the_readme_quick_start_serves_on_a_fresh_clone(clone: Path) -> None:
    gateway_port = free_port()
    variables = server_variables(gateway_port)
    assert_venv_up_to_date(clone)

    command = readme_offline_command()
    first, first_s = make(clone, command, *variables)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    output = first.stdout + first.stderr
    assert '"label":"POSITIVE"' in output
    assert "Traceback" not in output and "warning" not in output.lower()

    gateway = f"http://127.0.0.1:{gateway_port}"
    info = httpx.get(gateway + "/", timeout=10).json()
    assert info["model"] == "sentiment" and info["labels"] == ["NEGATIVE", "POSITIVE"]
    triton_pid = int((clone / "run" / "triton.pid").read_text())
    # gRPC's IPv6 socket carries the IPv4 loopback address.
    assert listening_addresses(triton_pid) <= {"127.0.0.1", "::ffff:127.0.0.1"}

    again, again_s = make(clone, command, *variables)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing it" in again.stderr and "Triton already running" in again.stdout

    stopped, _ = make(clone, "make stop", *variables)
    assert stopped.returncode == 0 and "Triton stopped" in stopped.stdout
    restarted, restarted_s = make(clone, command, *variables)
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert "reusing it" in restarted.stderr and "Triton ready" in restarted.stdout
    print(
        f"\nmake run on a fresh clone: first {first_s:.1f} s, again while serving {again_s:.1f} s, "
        f"after make stop {restarted_s:.1f} s"
    )
