"""Gateways the client tests talk to: real ``python -m gateway`` processes in front of the session's Triton."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from client_helpers import API_KEY
from sentiment_client import SentimentClient
from support import GatewayProcess, RunningTriton, free_port, gateway_settings, start_gateway

from gateway.api.auth import digest

# Small enough that the test quota is spent in a fraction of a second; Retry-After is then 1 s.
RATE_LIMIT = "4/second"


@pytest.fixture(scope="session")
def client_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The tiny model (answers are cheap), the test limits of ``support``, no quota, no cache."""
    process = start_gateway(
        gateway_settings(triton.http_url, triton.repository), tmp_path_factory.mktemp("client-gateway") / "gateway.log"
    )
    yield process
    process.stop()


@pytest.fixture(scope="session")
def limited_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The same with the gateway's own per-client quota on."""
    settings = gateway_settings(triton.http_url, triton.repository, GATEWAY_RATE_LIMIT=RATE_LIMIT)
    process = start_gateway(settings, tmp_path_factory.mktemp("limited-gateway") / "gateway.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def keyed_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """API keys on: only ``API_KEY`` is accepted."""
    settings = gateway_settings(triton.http_url, triton.repository, GATEWAY_API_KEY_HASHES=digest(API_KEY))
    process = start_gateway(settings, tmp_path_factory.mktemp("keyed-gateway") / "gateway.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def orphan_gateway(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway whose Triton is not there: every scoring call is 503 model_unavailable with Retry-After."""
    settings = gateway_settings(f"127.0.0.1:{free_port()}", model_repository)
    process = start_gateway(settings, tmp_path_factory.mktemp("orphan-gateway") / "gateway.log", wait_for="/healthz")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(client_gateway: GatewayProcess) -> Iterator[SentimentClient]:
    with SentimentClient(client_gateway.url) as sync_client:
        yield sync_client
