"""Triton away, slow, full or different: the gateway answers 503/504/429 (never 500) and recovers by itself."""

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
from localtriton.server import TritonServer
from support import TINY_MODEL_NAME, GatewayProcess, gateway_settings, restart, start_gateway

from gateway.errors import ErrorBody

pytestmark = pytest.mark.slow


def triton_url(server: TritonServer) -> str:
    return f"127.0.0.1:{server.options.http_port}"


def error_type(response: httpx.Response) -> str:
    return ErrorBody.model_validate(response.json()).error.type


def test_triton_stopped_gives_503_and_both_recover_without_restarting_the_gateway(
    own_triton: TritonServer, model_repository: Path, tmp_path: Path
) -> None:
    gateway = start_gateway(
        gateway_settings(triton_url(own_triton), model_repository, TINY_MODEL_NAME), tmp_path / "gateway.log"
    )
    try:
        assert httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "before"}).status_code == 200
        own_triton.stop()

        readiness = httpx.get(gateway.url + "/readyz")
        assert readiness.status_code == 503 and "unreachable" in readiness.json()["reason"]
        started = time.monotonic()
        down = httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "while down"}, timeout=30)
        assert down.status_code == 503 and error_type(down) == "model_unavailable"
        assert down.headers["retry-after"] == "1"
        assert time.monotonic() - started < 2, "an unreachable Triton must fail fast, not hang"
        assert httpx.get(gateway.url + "/healthz").status_code == 200  # alive, just not ready

        back = restart(own_triton)
        try:
            assert httpx.get(gateway.url + "/readyz").status_code == 200
            assert httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "after"}).status_code == 200
        finally:
            back.stop()
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log()


def test_a_slow_triton_gives_504_within_the_deadline(
    slow_triton: TritonServer, slow_repository: Path, tmp_path: Path
) -> None:
    settings = gateway_settings(triton_url(slow_triton), slow_repository, "slow", GATEWAY_TRITON_TIMEOUT_S="0.3")
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        started = time.monotonic()
        response = httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "slow"}, timeout=30)
        elapsed = time.monotonic() - started
        assert response.status_code == 504 and error_type(response) == "inference_timeout"
        assert elapsed < 1.0, f"answered after {elapsed:.2f} s; the deadline is 0.3 s"
        assert httpx.get(gateway.url + "/healthz").status_code == 200
    finally:
        gateway.stop()


async def test_tritons_queue_policy_rejection_is_429(
    slow_triton: TritonServer, slow_repository: Path, tmp_path: Path
) -> None:
    # Five call slots: the gateway's own slots (two by default) would otherwise keep Triton's queue from filling.
    settings = gateway_settings(triton_url(slow_triton), slow_repository, "slow", GATEWAY_BATCH_CALLS_IN_FLIGHT="5")
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        # One runs, one waits in Triton's queue of one, the rest are rejected by its queue policy.
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            responses = await asyncio.gather(*(client.post("/v1/sentiment", json={"text": f"t{i}"}) for i in range(5)))
        statuses = sorted(response.status_code for response in responses)
        assert 200 in statuses and 429 in statuses and set(statuses) <= {200, 429}, statuses
        rejected = next(response for response in responses if response.status_code == 429)
        assert error_type(rejected) == "overloaded" and "queue" in rejected.json()["error"]["message"]
        assert "retry-after" in rejected.headers
    finally:
        gateway.stop()


def test_metadata_that_contradicts_tritons_model_stops_the_gateway_at_start(
    triton, model_repository: Path, tmp_path: Path
) -> None:
    repository = tmp_path / "repository"
    version_dir = repository / TINY_MODEL_NAME / "1"
    shutil.copytree(model_repository / TINY_MODEL_NAME / "1" / "tokenizer", version_dir / "tokenizer")
    metadata = json.loads((model_repository / TINY_MODEL_NAME / "1" / "serving_metadata.json").read_text())
    metadata["labels"] = ["NEGATIVE", "NEUTRAL", "POSITIVE"]
    (version_dir / "serving_metadata.json").write_text(json.dumps(metadata))

    log_file = tmp_path / "gateway.log"
    try:
        start_gateway(gateway_settings(triton.http_url, repository, TINY_MODEL_NAME), log_file, timeout_s=30)
    except RuntimeError as error:
        assert "exited" in str(error)
    else:
        raise AssertionError("the gateway started despite the mismatch")
    assert "does not match its serving metadata" in log_file.read_text()
    assert "expected 3 logits" in log_file.read_text()


def test_readiness_is_503_while_triton_is_not_there_yet(model_repository: Path, tmp_path: Path) -> None:
    settings = gateway_settings("127.0.0.1:9", model_repository, TINY_MODEL_NAME)  # nothing listens on port 9
    gateway: GatewayProcess = start_gateway(settings, tmp_path / "gateway.log", wait_for="/healthz")
    try:
        assert httpx.get(gateway.url + "/readyz").status_code == 503
        response = httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "anyone?"})
        assert response.status_code == 503 and error_type(response) == "model_unavailable"
    finally:
        gateway.stop()
