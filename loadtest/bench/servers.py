"""Start and stop the real servers a benchmark needs, each on free ports of 127.0.0.1 only.

Triton is started through ``localtriton`` (the same code as ``make triton`` and the tests); the
gateway and the baseline are started as their own commands (``python -m gateway`` and uvicorn),
so the benchmark measures the processes users run, not an in-process stand-in.
"""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from localtriton.server import free_port, log_tail, stop_pid

LOCALHOST = "127.0.0.1"
BASELINE_APP = "loadtest.baselines.seed_pipeline_server:create_app"


class ServerStartError(RuntimeError):
    """A server exited or did not answer its readiness URL in time; the message has the end of its log."""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class ManagedProcess:
    """A server subprocess with its log file, stopped with SIGTERM (then SIGKILL) by ``stop``."""

    name: str
    process: subprocess.Popen
    log_file: Path
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, ready_path: str, timeout_s: float) -> "ManagedProcess":
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {self.process.returncode}. End of {self.log_file}:\n"
                    f"{log_tail(self.log_file)}"
                )
            if _answers(self.base_url + ready_path):
                return self
            time.sleep(0.2)
        self.stop()
        raise ServerStartError(
            f"{self.name} not ready at {self.base_url}{ready_path} after {timeout_s:.0f} s. End of {self.log_file}:\n"
            f"{log_tail(self.log_file)}"
        )

    def stop(self, timeout_s: float = 15) -> None:
        if self.process.poll() is None:
            stop_pid(self.process.pid, timeout_s, wait=self.process.wait)


def _spawn(name: str, command: list[str], env: dict[str, str], port: int, log_file: Path) -> ManagedProcess:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    return ManagedProcess(name=name, process=process, log_file=log_file, base_url=f"http://{LOCALHOST}:{port}")


def start_gateway(
    triton_url: str,
    repository: Path,
    model_name: str,
    workers: int,
    work_dir: Path,
    cache_size: int = 0,
    timeout_s: float = 60,
) -> ManagedProcess:
    """``python -m gateway`` configured by GATEWAY_* variables, ready when /readyz says Triton is.

    The answer cache is off unless ``cache_size`` is given: the corpus repeats every few hundred requests,
    so with it on the benchmark would measure cache hits instead of the model path. The cache gets its own
    system, fed a stream with a stated repeat rate (``repeated_stream``).
    """
    port = free_port()
    env = dict(os.environ)
    env.update(
        GATEWAY_TRITON_URL=triton_url,
        GATEWAY_MODEL_NAME=model_name,
        GATEWAY_MODEL_REPOSITORY=str(repository.resolve()),
        GATEWAY_HOST=LOCALHOST,
        GATEWAY_PORT=str(port),
        GATEWAY_WORKERS=str(workers),
        # Per-request logging would be a cost of the benchmark, not of serving; production ships warnings too.
        GATEWAY_LOG_LEVEL="warning",
        # The per-client quota (default 100/minute) would turn a capacity test into a quota test: every load
        # generator is one client address. In-flight permits (GATEWAY_MAX_IN_FLIGHT) stay as configured.
        GATEWAY_RATE_LIMIT="",
        GATEWAY_CACHE_SIZE=str(cache_size),
    )
    env.pop("REDIS_URL", None)  # no shared cache or quota from the environment either
    process = _spawn("gateway", [sys.executable, "-m", "gateway"], env, port, work_dir / f"gateway-{port}.log")
    return process.wait_ready("/readyz", timeout_s)


def start_baseline(checkpoint: Path, work_dir: Path, timeout_s: float = 180) -> ManagedProcess:
    """The seed-style pipeline server under uvicorn, one worker, as such servers are usually run."""
    port = free_port()
    env = dict(os.environ)
    env["SEED_BASELINE_MODEL"] = str(checkpoint.resolve())
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        BASELINE_APP,
        "--factory",
        "--host",
        LOCALHOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = _spawn("baseline", command, env, port, work_dir / f"baseline-{port}.log")
    return process.wait_ready("/healthz", timeout_s)
