"""The coalescer through a real gateway and Triton: concurrent answers equal sequential ones, and share calls.

Its queue logic and its lanes on the event loop, without servers: tests/gateway/pipeline/test_batching.py.
"""

import asyncio
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from google.protobuf import text_format
from support import (
    SST2_DEV,
    TINY_MODEL_NAME,
    GatewayProcess,
    RunningTriton,
    gateway_batch_calls,
    gateway_settings,
    start_gateway,
    start_triton,
)
from tritonclient.grpc import model_config_pb2

pytestmark = pytest.mark.slow


def corpus(count: int, seed: int) -> list[str]:
    """SST-2 sentences of every length, some repeated five times over so they need windows (long_text=windows)."""
    sentences = [line.split("\t")[0] for line in SST2_DEV.read_text().splitlines()[1:]]
    chosen = random.Random(seed).sample(sentences, count)
    return [" ".join([text] * 40) if index % 10 == 0 else text for index, text in enumerate(chosen)]


def scores(result: dict) -> list[float]:
    return [result["scores"][label] for label in sorted(result["scores"])]


async def test_concurrent_clients_get_exactly_the_answers_of_sequential_requests(
    real_gateway: GatewayProcess,
) -> None:
    texts = corpus(60, seed=10)
    async with httpx.AsyncClient(base_url=real_gateway.url, timeout=60) as client:

        async def one(text: str) -> dict:
            response = await client.post("/v1/sentiment", json={"text": text, "long_text": "windows"})
            assert response.status_code == 200, response.text
            return response.json()

        sequential = [await one(text) for text in texts]
        concurrent = await asyncio.gather(*(one(text) for text in texts))
    for alone, together in zip(sequential, concurrent, strict=True):
        assert {key: alone[key] for key in ("label", "truncated", "windows", "model", "model_version")} == {
            key: together[key] for key in ("label", "truncated", "windows", "model", "model_version")
        }
        np.testing.assert_allclose(scores(together), scores(alone), atol=1e-5)


async def test_concurrent_batch_requests_keep_their_order(real_gateway: GatewayProcess) -> None:
    texts = corpus(80, seed=11)
    batches = [texts[start : start + 20] for start in range(0, len(texts), 20)]
    async with httpx.AsyncClient(base_url=real_gateway.url, timeout=60) as client:
        singles = [
            (await client.post("/v1/sentiment", json={"text": text})).json() for text in (batches[0] + batches[2])
        ]
        answers = await asyncio.gather(*(client.post("/v1/sentiment/batch", json={"texts": b}) for b in batches))
    results = [response.json()["results"] for response in answers]
    assert [len(result) for result in results] == [20, 20, 20, 20]
    for alone, together in zip(singles, results[0] + results[2], strict=True):
        assert together["label"] == alone["label"] and together["truncated"] == alone["truncated"]
        np.testing.assert_allclose(scores(together), scores(alone), atol=1e-5)


async def test_concurrent_requests_share_triton_calls(real_gateway: GatewayProcess) -> None:
    calls_before, rows_before = gateway_batch_calls(real_gateway)
    texts = corpus(64, seed=12)
    async with httpx.AsyncClient(base_url=real_gateway.url, timeout=60) as client:
        answers = await asyncio.gather(*(client.post("/v1/sentiment", json={"text": text}) for text in texts))
    assert all(response.status_code == 200 for response in answers)
    calls_after, rows_after = gateway_batch_calls(real_gateway)
    calls, rows = calls_after - calls_before, rows_after - rows_before
    assert rows == len(texts), "every text went to Triton exactly once"
    assert calls < len(texts) / 2, f"{calls:.0f} Triton calls for {len(texts)} concurrent single-text requests"


SMALL_MAX_BATCH = 16


@pytest.fixture(scope="module")
def small_batch_gateway(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The tiny model exported with ``max_batch_size`` 16 (config and metadata agree), on its own Triton."""
    repository = tmp_path_factory.mktemp("small-batch")
    model_dir = shutil.copytree(model_repository / TINY_MODEL_NAME, repository / TINY_MODEL_NAME)
    config_file = model_dir / "configs" / "cpu.pbtxt"
    config = text_format.Parse(config_file.read_text(), model_config_pb2.ModelConfig())
    config.max_batch_size = SMALL_MAX_BATCH
    config_file.write_text(text_format.MessageToString(config))
    metadata_file = model_dir / "1" / "serving_metadata.json"
    metadata_file.write_text(json.dumps({**json.loads(metadata_file.read_text()), "max_batch_size": SMALL_MAX_BATCH}))
    triton = start_triton(repository, tmp_path_factory.mktemp("small-batch-triton"))
    running = RunningTriton(server=triton, repository=repository)
    gateway = start_gateway(
        gateway_settings(running.http_url, repository), tmp_path_factory.mktemp("small-batch-gateway") / "gateway.log"
    )
    yield gateway
    gateway.stop()
    triton.stop()


def test_a_batch_over_max_batch_size_is_split_at_the_exported_limit_and_answered_in_order(
    small_batch_gateway: GatewayProcess, gateway: GatewayProcess
) -> None:
    texts = [f"review number {i}: " + "fine " * (i % 30) for i in range(50)]  # two buckets, 50 > 16
    calls_before, rows_before = gateway_batch_calls(small_batch_gateway)
    split = httpx.post(f"{small_batch_gateway.url}/v1/sentiment/batch", json={"texts": texts}, timeout=60)
    whole = httpx.post(f"{gateway.url}/v1/sentiment/batch", json={"texts": texts}, timeout=60)  # max 256: unsplit
    assert split.status_code == 200 and whole.status_code == 200
    calls_after, rows_after = gateway_batch_calls(small_batch_gateway)
    assert rows_after - rows_before == len(texts)
    # Triton refuses a batch over its max_batch_size, so the 200 says every call fitted; and it took several.
    assert calls_after - calls_before >= len(texts) / SMALL_MAX_BATCH
    for alone, together in zip(split.json()["results"], whole.json()["results"], strict=True):
        assert alone["label"] == together["label"]
        np.testing.assert_allclose(scores(alone), scores(together), atol=1e-5)
