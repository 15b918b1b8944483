"""A worker's memory under the worst load admission lets in: maximum bodies of windowed texts, many at once."""

import asyncio
import time
from pathlib import Path

import httpx
import psutil
import pytest
from reliability_helpers import send, summary
from support import RunningTriton, gateway_settings, start_gateway

pytestmark = pytest.mark.slow

# docs/reliability.md states these bounds; the EKS memory limit is set from them.
PEAK_BOUND_MB = 400
SETTLED_ABOVE_START_MB = 150
CONCURRENT = 16
MAX_BODY = 2_000_000


def worker_rss_mb(gateway_pid: int) -> float:
    """The largest RSS among the uvicorn workers under the gateway's supervisor."""
    return max(child.memory_info().rss for child in psutil.Process(gateway_pid).children(recursive=True)) / 2**20


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
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
            load = [
                asyncio.create_task(send(client, "/v1/sentiment/batch", heaviest if i % 2 else admitted))
                for i in range(CONCURRENT)
            ]
            while not all(task.done() for task in load):
                peak = max(peak, worker_rss_mb(gateway.process.pid))
                await asyncio.sleep(0.05)
            outcomes = [task.result() for task in load]
        time.sleep(1)
        settled = worker_rss_mb(gateway.process.pid)
    finally:
        gateway.stop()
    print(f"worker RSS: start {start:.0f} MB, peak {peak:.0f} MB, settled {settled:.0f} MB; {summary(outcomes)}")
    assert {outcome.status for outcome in outcomes} <= {200, 413, 429}, summary(outcomes)
    assert peak < PEAK_BOUND_MB
    assert settled < start + SETTLED_ABOVE_START_MB
