"""Session fixtures: a model repository exported for real, and a real tritonserver serving it.

Two models are exported once per session: a tiny random DistilBERT under the committed configs'
name (fast; proves the plumbing and that the committed configs fit an export) and the real
SST-2 stand-in (proves labels come out right).
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from localtriton.server import TritonServer
from support import (
    COMMITTED_REPOSITORY,
    DEFAULT_MODEL_FILES,
    REAL_MODEL_NAME,
    SST2_DEV,
    STAND_IN_MODEL,
    STRICT_CONFIG,
    TINY_MODEL_NAME,
    RedisProcess,
    RunningTriton,
    start_redis,
    start_triton,
)

from export.pipeline import ExportRequest, run_export
from export.random_checkpoint import build_random_checkpoint


def pytest_configure(config: pytest.Config) -> None:
    if not DEFAULT_MODEL_FILES.exists():
        raise pytest.UsageError(
            f"shared model files not found at {DEFAULT_MODEL_FILES}; the tests need the shared/ folder beside "
            "the repository, or SHARED_DIR pointing at it"
        )


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_checkpoint(tmp_path_factory.mktemp("tiny-checkpoint"), DEFAULT_MODEL_FILES)


@pytest.fixture(scope="session")
def model_repository(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Path:
    repository = tmp_path_factory.mktemp("model_repository")
    # Start from the committed configs: the export must accept them as they are.
    shutil.copytree(
        COMMITTED_REPOSITORY / TINY_MODEL_NAME,
        repository / TINY_MODEL_NAME,
        ignore=shutil.ignore_patterns("[0-9]*", "labels.txt"),  # a local `make export` may have left these
    )
    run_export(ExportRequest(model=str(tiny_checkpoint), name=TINY_MODEL_NAME, repository=repository))
    run_export(
        ExportRequest(model=str(STAND_IN_MODEL), name=REAL_MODEL_NAME, repository=repository, reference_data=SST2_DEV)
    )
    return repository


@pytest.fixture(scope="session")
def triton(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    server = start_triton(model_repository, tmp_path_factory.mktemp("triton"))
    try:
        yield RunningTriton(server=server, repository=model_repository)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def strict_triton(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    """Triton on the same models serving ``configs/cpu-strict.pbtxt``: one shape per batch, as on a GPU."""
    server = start_triton(model_repository, tmp_path_factory.mktemp("strict-triton"), model_config_name=STRICT_CONFIG)
    try:
        yield RunningTriton(server=server, repository=model_repository)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_triton(model_repository: Path, tmp_path: Path) -> Iterator[TritonServer]:
    """A Triton on the test models that this test may stop, kill and restart without disturbing the others."""
    server = start_triton(model_repository, tmp_path / "triton")
    yield server
    server.stop()
