"""Helpers shared by the test suites: shared asset paths, free ports, real Triton and gateway processes."""

import dataclasses
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import localtriton.gateway
import pytest
from localtriton.process import ServerProcess, free_port
from localtriton.server import TritonServer, start_on_free_ports
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("SHARED_DIR", REPO_ROOT.parent / "shared"))
DEFAULT_MODEL_FILES = SHARED_DIR / "models" / "distilbert-base-uncased-finetuned-sst-2-english"
STAND_IN_MODEL = SHARED_DIR / "models" / "sentiment-distilbert-sst2-minilm"
SST2_DEV = SHARED_DIR / "data" / "sst2" / "dev.tsv"
COMMITTED_REPOSITORY = REPO_ROOT / "model_repository"


def require_shared(*paths: Path) -> None:
    """Fail the test that needs the shared assets, saying where they were looked for, when they are missing."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        pytest.fail(
            f"shared assets not found: {', '.join(missing)}; the slow tests need the shared/ folder beside the "
            "repository, or SHARED_DIR pointing at it (make test-fast needs neither)",
            pytrace=False,
        )


# Small gateway limits so the limit tests stay cheap.
MAX_TEXTS = 200
MAX_TEXT_CHARS = 5000
MAX_BODY_BYTES = 100_000

TINY_MODEL_NAME = "sentiment"  # the committed configs' name, so they are checked against a real export
REAL_MODEL_NAME = "sentiment-sst2"
# configs/cpu-strict.pbtxt: no ragged batching, so Triton batches like the GPU's onnxruntime backend.
STRICT_CONFIG = "cpu-strict"


# Every test Triton listens on free ports: tests may run beside a `make run` or a benchmark.
start_triton = start_on_free_ports


# A real ``python -m gateway`` process on a free port, started by the harness ``make gateway`` uses.
GatewayProcess = ServerProcess


def start_gateway(
    settings: dict[str, str], log_file: Path, wait_for: str = "/readyz", timeout_s: float = 60
) -> GatewayProcess:
    """Start a measured gateway with ``GATEWAY_*`` settings; return once ``wait_for`` answers 200.

    ``wait_for="/healthz"`` only waits for the process, for tests where Triton is meant to be away.
    """
    return localtriton.gateway.start_gateway(
        settings, log_file, ready_path=wait_for, timeout_s=timeout_s, cwd=REPO_ROOT
    )


@dataclass(frozen=True)
class RunningTriton:
    """Where the test Triton listens and what it serves."""

    server: TritonServer
    repository: Path

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.server.options.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.server.options.metrics_port}/metrics"


@dataclass
class RedisProcess:
    """A real redis-server on a free localhost port, persisting nothing."""

    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_redis(work_dir: Path) -> RedisProcess:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make system-deps` as root (Debian/Ubuntu)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return RedisProcess(process, port)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not listen on {port} within 10 s")


def gateway_settings(
    triton_url: str, repository: Path, model: str = TINY_MODEL_NAME, **overrides: str
) -> dict[str, str]:
    """``GATEWAY_*`` variables of a test gateway: one worker and small limits, over the harness's measured defaults.

    Those keep keys, quota and cache off unless a test asks: without a cache every request reaches Triton, which
    is what most tests are about.
    """
    return localtriton.gateway.gateway_settings(
        triton_url,
        repository,
        model,
        workers=1,
        **{
            "GATEWAY_MAX_TEXTS_PER_REQUEST": str(MAX_TEXTS),
            "GATEWAY_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS),
            "GATEWAY_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
            **overrides,
        },
    )


def restart(server: TritonServer) -> TritonServer:
    """The same server again, on the same ports, as after a crash and a restart."""
    return TritonServer(dataclasses.replace(server.options)).start(ready_timeout_s=120)


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``, read with Prometheus' own parser.

    The parser names a counter's samples ``<name>_total`` even where the exporter (Triton) leaves the suffix off.
    """
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in (name, f"{name}_total") and labels.items() <= sample.labels.items()
    )


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def gateway_batch_calls(gateway: GatewayProcess) -> tuple[float, float]:
    """(Triton calls, rows in them) the gateway's coalescer has made, from ``gateway_batch_rows`` on /metrics."""
    text = scrape(gateway.url + "/metrics")
    return metric_value(text, "gateway_batch_rows_count"), metric_value(text, "gateway_batch_rows_sum")
