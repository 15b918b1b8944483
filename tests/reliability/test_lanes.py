"""Interactive traffic beside bulk work, on a real gateway and Triton: single texts keep their latency while a
bulk caller sends large batches, and the bulk caller keeps at least half of what it gets alone."""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from reliability_helpers import percentile
from support import RunningTriton, gateway_settings, metric_value, scrape, start_gateway

from gateway.pipeline.batching import INTERACTIVE_GONE_S

pytestmark = pytest.mark.slow

PHASE_S = 3.0
SINGLE_TEXTS = 60
# 32 texts of about 150 tokens: 32 rows of the 256-token bucket, 8,192 padded tokens a request: bulk, sent in
# calls of GATEWAY_BULK_CALL_S of work beside single texts, GATEWAY_BULK_ALONE_CALL_S alone.
BULK_BUCKET = "256"
BULK = {"texts": [f"bulk text {index} " + "quite good but long " * 35 for index in range(32)]}


@dataclass(frozen=True)
class BulkCalls:
    """The 256-token bucket's Triton calls over one phase: the difference of two scrapes."""

    calls: float
    rows: float
    seconds: float

    @classmethod
    def between(cls, before: str, after: str) -> "BulkCalls":
        def delta(name: str) -> float:
            return metric_value(after, name, bucket=BULK_BUCKET) - metric_value(before, name, bucket=BULK_BUCKET)

        calls = delta("gateway_triton_request_duration_seconds_count")
        assert calls, f"no Triton call of the {BULK_BUCKET}-token bucket"
        return cls(calls, delta("gateway_batch_rows_sum"), delta("gateway_triton_request_duration_seconds_sum"))

    @property
    def mean_s(self) -> float:
        return self.seconds / self.calls

    @property
    def mean_rows(self) -> float:
        return self.rows / self.calls


async def singles(client: httpx.AsyncClient, count: int) -> list[float]:
    """Seconds each of ``count`` single texts took, one after another (an interactive user)."""
    latencies = []
    for index in range(count):
        started = time.monotonic()
        response = await client.post("/v1/sentiment", json={"text": f"an interactive text {index}"})
        assert response.status_code == 200, response.text
        latencies.append(time.monotonic() - started)
    return latencies


async def bulk_rows(client: httpx.AsyncClient, stop: asyncio.Event) -> int:
    """Texts one bulk caller had answered until ``stop``."""
    rows = 0
    while not stop.is_set():
        response = await client.post("/v1/sentiment/batch", json=BULK)
        assert response.status_code == 200, response.text
        rows += len(BULK["texts"])
    return rows


async def test_single_texts_keep_their_latency_beside_a_bulk_caller_that_keeps_half_its_throughput(
    strict_triton: RunningTriton, tmp_path: Path
) -> None:
    # One shape per execution, as on a GPU: Triton never merges a small request into a bulk call.
    settings = gateway_settings(strict_triton.http_url, strict_triton.repository, GATEWAY_MAX_TEXT_CHARS="2000")
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            await singles(client, 10)  # warm: connections, the first calls of each bucket
            quiet = await singles(client, SINGLE_TEXTS)
            await asyncio.sleep(INTERACTIVE_GONE_S)  # no single text since: bulk runs alone

            started, before = time.monotonic(), scrape(gateway.url + "/metrics")
            stop = asyncio.Event()
            alone = [asyncio.create_task(bulk_rows(client, stop)) for _ in range(2)]
            await asyncio.sleep(PHASE_S)
            stop.set()
            alone_rate = sum(await asyncio.gather(*alone)) / (time.monotonic() - started)
            after_alone = scrape(gateway.url + "/metrics")

            started = time.monotonic()
            stop = asyncio.Event()
            beside = [asyncio.create_task(bulk_rows(client, stop)) for _ in range(2)]
            await asyncio.sleep(0.5)  # the bulk callers hold their slot
            loaded = await singles(client, SINGLE_TEXTS)
            stop.set()
            beside_rate = sum(await asyncio.gather(*beside)) / (time.monotonic() - started)
            after_beside = scrape(gateway.url + "/metrics")
    finally:
        gateway.stop()
    alone_calls = BulkCalls.between(before, after_alone)
    beside_calls = BulkCalls.between(after_alone, after_beside)
    quiet_p99, loaded_p99 = percentile(quiet, 0.99), percentile(loaded, 0.99)
    quiet_p95, loaded_p95 = percentile(quiet, 0.95), percentile(loaded, 0.95)
    print(
        f"single text p99 {quiet_p99 * 1000:.1f} ms quiet, {loaded_p99 * 1000:.1f} ms beside bulk; "
        f"p95 {quiet_p95 * 1000:.1f} / {loaded_p95 * 1000:.1f} ms; bulk {alone_rate:.0f} texts/s alone, "
        f"{beside_rate:.0f} beside single texts; bulk calls alone {alone_calls.mean_s * 1000:.1f} ms, "
        f"{alone_calls.mean_rows:.1f} rows; beside {beside_calls.mean_s * 1000:.1f} ms, {beside_calls.mean_rows:.1f}"
    )
    # Bulk calls are sized in time: beside single texts, GATEWAY_BULK_CALL_S (10 ms) of work at the rate bulk
    # calls drain; alone, GATEWAY_BULK_ALONE_CALL_S (0.25 s, here the whole 32-row request), which a CPU runs
    # more efficiently.
    assert beside_calls.mean_rows < alone_calls.mean_rows, "bulk calls are cut short while single texts come"
    # A small request never waits in the gateway for a slot behind bulk (one is left to it); at Triton it waits
    # for the bulk execution running, a short one, and it shares the 2 cores with that execution. The bound is
    # quiet p95 plus 3 of the bulk calls measured beside it: a margin for a shared machine. p95: of 60 requests,
    # p99 is the slowest one. docs/batching.md has the figures.
    bound_s = quiet_p95 + 3 * beside_calls.mean_s
    assert loaded_p95 <= bound_s, f"p95 {loaded_p95 * 1000:.1f} ms, bound {bound_s * 1000:.1f} ms"
    assert beside_rate >= alone_rate / 2, f"bulk {beside_rate:.0f} texts/s beside singles, {alone_rate:.0f} alone"
