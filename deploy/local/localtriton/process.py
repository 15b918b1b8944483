"""One local server process: spawned with its log file, waited for on a readiness URL, stopped by signal.

Triton, the gateway and the benchmark's baseline all go through here, so a test, a benchmark and
``make run`` start, wait for and stop their servers the same way.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

LOCALHOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A server exited or did not answer its readiness URL in time; the message carries the end of its log."""


def free_port() -> int:
    """A localhost port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        return probe.getsockname()[1]


def log_tail(log_file: Path, lines: int = 30) -> str:
    if not log_file.exists():
        return "(no log written)"
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def http_status(url: str) -> int | None:
    """The status ``url`` answers with, or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def stop_pid(pid: int, timeout_s: float, wait: Callable[..., int] | None = None) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout_s``. ``wait`` reaps our own child; others are polled."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    if wait is not None:
        try:
            return wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            return wait()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return -signal.SIGKILL


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process reuses the pid: not ours to stop, but alive
        return True
    return True


def wait_until_ready(url: str, timeout_s: float, exit_code: Callable[[], int | None]) -> str | None:
    """Poll ``url`` until it answers 200 (None), the server exits or ``timeout_s`` passes (what went wrong)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = exit_code()
        if code is not None:
            return f"exited with code {code} before it was ready"
        if http_status(url) == 200:
            return None
        time.sleep(0.2)
    return f"was not ready at {url} after {timeout_s:.0f} s"


@dataclass
class ServerProcess:
    """A server subprocess listening on ``port`` of 127.0.0.1, with the file its output goes to."""

    name: str
    process: subprocess.Popen
    port: int
    log_file: Path
    host: str = LOCALHOST

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def wait_ready(
        self, ready_path: str, timeout_s: float, error: type[ServerStartError] = ServerStartError
    ) -> "ServerProcess":
        """Return once ``ready_path`` answers 200; if it exits or never does, stop it and raise ``error``."""
        problem = wait_until_ready(self.url + ready_path, timeout_s, exit_code=self.process.poll)
        if problem is not None:
            self.stop()
            raise error(f"{self.name} {problem}. End of {self.log_file}:\n{log_tail(self.log_file)}")
        return self

    def stop(self, timeout_s: float = 15) -> int | None:
        """SIGTERM (SIGKILL after ``timeout_s``), then SIGKILL to what is left of its process group; the exit
        code, also when it had already exited.

        A server stopped in order ends its own children; one that was SIGKILLed (a fault test, the OOM killer)
        leaves them orphaned: Triton's Python-backend stubs, busy in an execution, then live on with their model
        and shared memory. They are still in the server's process group (``spawn``), so that group ends them.
        """
        code = self.process.returncode if self.process.poll() is not None else None
        if code is None:
            code = stop_pid(self.process.pid, timeout_s, wait=self.process.wait)
        kill_group(self.process.pid)
        return code


def kill_group(group: int) -> None:
    """SIGKILL every process left in ``group``; a group with nobody left is already gone."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return


def spawn(
    name: str,
    command: list[str],
    port: int,
    log_file: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    detached: bool = False,
    host: str = LOCALHOST,
) -> ServerProcess:
    """Start ``command`` with its output in ``log_file``; ``detached`` lets it outlive the caller (``make run``)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=detached,
            # Its own process group either way (a new session is one too): what it starts can be ended with it.
            process_group=None if detached else 0,
        )
    return ServerProcess(name=name, process=process, port=port, log_file=log_file, host=host)
