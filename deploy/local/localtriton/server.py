"""Start, wait for and stop a local tritonserver process."""

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from localtriton.installation import TritonInstallation
from localtriton.process import LOCALHOST, ServerProcess, ServerStartError, free_port, spawn


class TritonStartError(ServerStartError):
    """tritonserver exited or did not become ready; the message carries the end of its log."""


@dataclass(frozen=True)
class TritonOptions:
    """How to run the server; defaults match the ports the gateway and the docs use."""

    repository: Path = Path("model_repository")
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    # Loopback only: Triton has no keys or quotas of its own, so only the gateway on this machine may reach it.
    address: str = LOCALHOST
    model_config_name: str = "cpu"
    work_dir: Path = Path("run")
    exit_timeout_s: int = 3
    # Explicit model control: these models load at start ("*": every model in the repository), and a version
    # exported later is loaded by POST /v2/repository/models/<name>/load, without a restart (make shadow/canary).
    load_models: tuple[str, ...] = ("*",)
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def log_file(self) -> Path:
        return self.work_dir / f"triton-{self.http_port}.log"

    @property
    def ready_host(self) -> str:
        return LOCALHOST if self.address in ("0.0.0.0", "::") else self.address


READY_PATH = "/v2/health/ready"


def command(options: TritonOptions, installation: TritonInstallation, backend_dir: Path) -> list[str]:
    return [
        str(installation.binary),
        f"--model-repository={options.repository.resolve()}",
        f"--backend-directory={backend_dir.resolve()}",
        f"--model-config-name={options.model_config_name}",
        "--model-control-mode=explicit",
        *(f"--load-model={name}" for name in options.load_models),
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


class TritonServer:
    """One tritonserver process. Usable as a context manager (tests) or started detached (make triton)."""

    def __init__(self, options: TritonOptions, installation: TritonInstallation | None = None) -> None:
        self.options = options
        self.installation = installation or TritonInstallation.from_wheel()
        self.server: ServerProcess | None = None

    @property
    def process(self) -> subprocess.Popen | None:
        return None if self.server is None else self.server.process

    def start(self, ready_timeout_s: float = 120, detached: bool = False) -> "TritonServer":
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        backend_dir = self.installation.assemble_backend_directory(self.options.work_dir / "backends")
        self.server = spawn(
            "tritonserver",
            command(self.options, self.installation, backend_dir),
            port=self.options.http_port,
            log_file=self.options.log_file,
            env=self.installation.environment(dict(os.environ)),
            detached=detached,  # survives `make triton` returning
            host=self.options.ready_host,
        )
        self.server.wait_ready(READY_PATH, ready_timeout_s, error=TritonStartError)
        return self

    def stop(self, timeout_s: float = 15) -> int | None:
        return None if self.server is None else self.server.stop(timeout_s)

    def __enter__(self) -> "TritonServer":
        return self.start() if self.server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
