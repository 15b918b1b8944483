"""Gateway processes for the tests, all real: each talks HTTP to a real tritonserver on localhost."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from localtriton.server import TritonServer
from support import (
    REAL_MODEL_NAME,
    TINY_MODEL_NAME,
    GatewayProcess,
    RunningTriton,
    gateway_settings,
    start_gateway,
    start_triton,
)

SLOW_MODEL_SOURCE = Path(__file__).parent / "slow_model"


@pytest.fixture(scope="session")
def gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The tiny model behind two workers, so multiprocess metrics are exercised too."""
    settings = gateway_settings(triton.http_url, triton.repository, TINY_MODEL_NAME, GATEWAY_WORKERS="2")
    process = start_gateway(settings, tmp_path_factory.mktemp("gateway") / "gateway.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def real_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    # Room for texts ten times the model's maximum (the long-text tests).
    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        REAL_MODEL_NAME,
        GATEWAY_MAX_TEXT_CHARS="60000",
        GATEWAY_MAX_BODY_BYTES="200000",
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("real-gateway") / "gateway.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def slow_repository(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with only the slow model, sharing the tiny model's tokenizer."""
    repository = tmp_path_factory.mktemp("slow-repository")
    version_dir = repository / "slow" / "1"
    shutil.copytree(model_repository / TINY_MODEL_NAME / "1" / "tokenizer", version_dir / "tokenizer")
    shutil.copyfile(SLOW_MODEL_SOURCE / "config.pbtxt", repository / "slow" / "config.pbtxt")
    shutil.copyfile(SLOW_MODEL_SOURCE / "model.py", version_dir / "model.py")
    metadata = json.loads((model_repository / TINY_MODEL_NAME / "1" / "serving_metadata.json").read_text())
    (version_dir / "serving_metadata.json").write_text(
        json.dumps({**metadata, "model_name": "slow", "max_batch_size": 1})
    )
    return repository


@pytest.fixture(scope="session")
def slow_triton(slow_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    server = start_triton(slow_repository, tmp_path_factory.mktemp("slow-triton"))
    yield server
    server.stop()
