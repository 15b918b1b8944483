"""A worker's memory under the worst load admission lets in (maximum bodies of windowed texts, many at once): bounded
while it lasts, back near the start once the worker has been idle a moment; and the Python-backend stub bounded."""

import asyncio
from pathlib import Path

import httpx
import psutil
import pytest
from reliability_helpers import send, summary
from support import RunningTriton, gateway_settings, start_gateway

pytestmark = pytest.mark.slow

# docs/reliability.md states these bounds; the EKS memory limit is set from them.
PEAK_BOUND_MB = 400
# Measured 19-24 MB above start 2 s after the load, with the idle trim (120-150 MB without it); margin for a
# shared machine, and still far below what an untrimmed worker keeps.
SETTLED_ABOVE_START_MB = 60
# The idle trim runs after GATEWAY_IDLE_TRIM_S (1 s) of quiet; this leaves it as long again to finish.
SETTLE_S = 2.0
# The stub of the CPU config runs one model instance; what it holds is bounded by the batches the gateway's call
# slots let reach it, not by the burst (measured: about 20 MB growth; the unbounded Triton backlog grew
# a stub to 8.7 GB).
STUB_GROWTH_BOUND_MB = 300
CONCURRENT = 16
MAX_BODY = 2_000_000
STUB = "triton_python_backend_stub"


def worker_rss_mb(gateway_pid: int) -> float:
    """The largest RSS among the uvicorn workers under the gateway's supervisor."""
    return max(child.memory_info().rss for child in psutil.Process(gateway_pid).children(recursive=True)) / 2**20


def stub_rss_mb(triton: RunningTriton) -> float:
    """The largest RSS among Triton's Python-backend stubs (one per model instance)."""
    children = psutil.Process(triton.server.process.pid).children(recursive=True)
    return max(child.memory_info().rss for child in children if child.name() == STUB) / 2**20


async def test_worker_rss_stays_bounded_under_the_worst_admitted_load_and_comes_back(
    triton: RunningTriton, tmp_path: Path
) -> None:
    settings = {
        **gateway_settings(triton.http_url, triton.repository),
        "GATEWAY_WORKERS": "2",
        "GATEWAY_MAX_TEXT_CHARS": "20000",
        "GATEWAY_MAX_BODY_BYTES": str(MAX_BODY),
    }
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    # 99 texts of 19,900 characters with windows: the body limit's worth, refused (413) only once tokenized.
    heaviest = {"texts": ["word " * 3980] * 99, "long_text": "windows"}
    admitted = {"texts": ["w " * 3000] * 8, "long_text": "windows"}
    try:
        start = worker_rss_mb(gateway.process.pid)
        peak = start
        stub_start = stub_peak = stub_rss_mb(triton)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
            load = [
                asyncio.create_task(send(client, "/v1/sentiment/batch", heaviest if i % 2 else admitted))
                for i in range(CONCURRENT)
            ]
            while not all(task.done() for task in load):
                peak = max(peak, worker_rss_mb(gateway.process.pid))
                stub_peak = max(stub_peak, stub_rss_mb(triton))
                await asyncio.sleep(0.05)
            outcomes = [task.result() for task in load]
        await asyncio.sleep(SETTLE_S)
        settled = worker_rss_mb(gateway.process.pid)
        stub_settled = stub_rss_mb(triton)
    finally:
        gateway.stop()
    print(
        f"worker RSS: start {start:.0f} MB, peak {peak:.0f} MB, settled {settled:.0f} MB; stub: start "
        f"{stub_start:.0f} MB, peak {stub_peak:.0f} MB, settled {stub_settled:.0f} MB; {summary(outcomes)}"
    )
    # 504: a deadline missed when other work on the machine slows Triton below the rate admission measured.
    assert {outcome.status for outcome in outcomes} <= {200, 413, 429, 504}, summary(outcomes)
    assert peak < PEAK_BOUND_MB
    assert settled < start + SETTLED_ABOVE_START_MB, f"the worker kept {settled - start:.0f} MB after the load"
    assert stub_peak < stub_start + STUB_GROWTH_BOUND_MB
