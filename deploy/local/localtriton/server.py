"""Start, wait for and stop a local tritonserver process."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from localtriton.installation import TritonInstallation


class TritonStartError(RuntimeError):
    """tritonserver exited or did not become ready; the message carries the end of its log."""


@dataclass(frozen=True)
class TritonOptions:
    """How to run the server; defaults match the ports the gateway and the docs use."""

    repository: Path = Path("model_repository")
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    # Loopback only: Triton has no keys or quotas of its own, so only the gateway on this machine may reach it.
    address: str = "127.0.0.1"
    model_config_name: str = "cpu"
    work_dir: Path = Path("run")
    exit_timeout_s: int = 3
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def log_file(self) -> Path:
        return self.work_dir / f"triton-{self.http_port}.log"

    @property
    def ready_url(self) -> str:
        host = "127.0.0.1" if self.address in ("0.0.0.0", "::") else self.address
        return f"http://{host}:{self.http_port}/v2/health/ready"


def command(options: TritonOptions, installation: TritonInstallation, backend_dir: Path) -> list[str]:
    return [
        str(installation.binary),
        f"--model-repository={options.repository.resolve()}",
        f"--backend-directory={backend_dir.resolve()}",
        f"--model-config-name={options.model_config_name}",
        f"--http-address={options.address}",
        f"--http-port={options.http_port}",
        f"--grpc-address={options.address}",
        f"--grpc-port={options.grpc_port}",
        f"--metrics-address={options.address}",
        f"--metrics-port={options.metrics_port}",
        # No GPU here: GPU metrics and pinned (page-locked) host memory would only fail or waste RAM.
        "--allow-gpu-metrics=false",
        "--pinned-memory-pool-byte-size=0",
        # Shutdown waits this long for in-flight requests, then exits even if clients keep connections open.
        f"--exit-timeout-secs={options.exit_timeout_s}",
        *options.extra_args,
    ]


def log_tail(log_file: Path, lines: int = 30) -> str:
    if not log_file.exists():
        return "(no log written)"
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def is_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class TritonServer:
    """One tritonserver process. Usable as a context manager (tests) or started detached (make triton)."""

    def __init__(self, options: TritonOptions, installation: TritonInstallation | None = None) -> None:
        self.options = options
        self.installation = installation or TritonInstallation.from_wheel()
        self.process: subprocess.Popen | None = None

    def start(self, ready_timeout_s: float = 120, detached: bool = False) -> "TritonServer":
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        backend_dir = self.installation.assemble_backend_directory(self.options.work_dir / "backends")
        with self.options.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                command(self.options, self.installation, backend_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.installation.environment(dict(os.environ)),
                start_new_session=detached,  # survives `make triton` returning
            )
        self.wait_ready(ready_timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise TritonStartError(
                    f"tritonserver exited with code {self.process.returncode} before it was ready. "
                    f"End of {self.options.log_file}:\n{log_tail(self.options.log_file)}"
                )
            if is_ready(self.options.ready_url):
                return
            time.sleep(0.2)
        self.stop()
        raise TritonStartError(
            f"tritonserver was not ready at {self.options.ready_url} after {timeout_s:.0f} s. "
            f"End of {self.options.log_file}:\n{log_tail(self.options.log_file)}"
        )

    def stop(self, timeout_s: float = 15) -> int | None:
        if self.process is None:
            return None
        return stop_pid(self.process.pid, timeout_s, wait=self.process.wait)

    def __enter__(self) -> "TritonServer":
        return self.start() if self.process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stop_pid(pid: int, timeout_s: float, wait=None) -> int | None:
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


def free_port() -> int:
    """A localhost port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_on_free_ports(
    repository: Path, work_dir: Path, ready_timeout_s: float = 120, model_config_name: str = "cpu"
) -> TritonServer:
    """A tritonserver on free ports, ready when this returns: for tests, benchmarks and the soak.

    ``model_config_name`` picks ``configs/<name>.pbtxt`` of each model: ``cpu`` or ``cpu-strict``.
    """
    options = TritonOptions(
        repository=repository,
        http_port=free_port(),
        grpc_port=free_port(),
        metrics_port=free_port(),
        model_config_name=model_config_name,
        work_dir=work_dir,
        exit_timeout_s=1,
    )
    return TritonServer(options).start(ready_timeout_s=ready_timeout_s)
