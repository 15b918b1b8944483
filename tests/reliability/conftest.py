"""Fixtures of the reliability suite: paced Triton models, and the gateway the fuzzing tests target.

Everything is a real process on 127.0.0.1 and free ports, stopped at the end of its scope.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_helpers import PacedModel, write_paced_repository
from support import GatewayProcess, RunningTriton, gateway_settings, start_gateway, start_triton

# One execution per 0.1 s, four texts each: a capacity of about 40 requests/s that no CPU contention changes.
PACED = PacedModel(name="paced", sleep_s=0.1, max_batch_size=4, max_queue_size=64)
# One execution per second: long enough to catch requests in flight, and past short deadlines.
LINGERING = PacedModel(name="lingering", sleep_s=1.0, max_batch_size=8, max_queue_size=64)


@pytest.fixture(scope="session")
def paced_repository(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_paced_repository(tmp_path_factory.mktemp("paced-repository"), model_repository, [PACED, LINGERING])


@pytest.fixture(scope="session")
def paced_triton(paced_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    server = start_triton(paced_repository, tmp_path_factory.mktemp("paced-triton"))
    try:
        yield RunningTriton(server=server, repository=paced_repository)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def open_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The tiny model, auth and quota off: the target of the fuzzing tests."""
    process = start_gateway(
        gateway_settings(triton.http_url, triton.repository), tmp_path_factory.mktemp("open-gateway") / "gateway.log"
    )
    yield process
    process.stop()
