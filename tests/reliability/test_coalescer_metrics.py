"""The coalescer is visible on /metrics: queued rows, call slots, queue wait and tokenize time, merged over workers.

The lingering model runs one batch per second, so while its first call runs the next requests are sure to
be queued in the gateway: the gauges are read while that is so, then again once everything has answered.
"""

import asyncio
from pathlib import Path

import httpx
import pytest
from reliability_helpers import send, summary
from support import RunningTriton, gateway_settings, metric_value, scrape, start_gateway

pytestmark = pytest.mark.slow

REQUESTS = 8


async def test_queued_rows_slots_queue_wait_and_tokenize_time_move_with_the_load(
    paced_triton: RunningTriton, tmp_path: Path
) -> None:
    settings = gateway_settings(
        paced_triton.http_url,
        paced_triton.repository,
        "lingering",
        GATEWAY_WORKERS="2",  # the gauges must add up over the workers' files
        GATEWAY_BATCH_CALLS_IN_FLIGHT="1",
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        before = scrape(gateway.url + "/metrics")
        async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as client:
            load = [asyncio.create_task(send(client, "/v1/sentiment", {"text": f"row {i}"})) for i in range(REQUESTS)]
            await asyncio.sleep(0.5)  # every first call is in Triton for a second; the rest wait behind it
            during = scrape(gateway.url + "/metrics")
            outcomes = await asyncio.gather(*load)
        after = scrape(gateway.url + "/metrics")
    finally:
        gateway.stop()
    assert all(outcome.status == 200 for outcome in outcomes), summary(outcomes)

    # One slot per worker, and both workers may hold one; somewhere at least two requests share a worker.
    assert 1 <= metric_value(during, "gateway_coalescer_call_slots_in_use") <= 2
    assert metric_value(during, "gateway_coalescer_queued_rows", bucket="16") >= 1
    assert metric_value(after, "gateway_coalescer_call_slots_in_use") == 0
    assert metric_value(after, "gateway_coalescer_queued_rows", bucket="16") == 0

    def grown(name: str) -> float:
        return metric_value(after, name) - metric_value(before, name)

    assert grown("gateway_coalescer_queue_wait_seconds_count") == REQUESTS, "one wait per request's rows"
    # The requests queued behind a one-second call waited most of that second.
    assert grown("gateway_coalescer_queue_wait_seconds_sum") > 0.5
    assert grown("gateway_tokenize_duration_seconds_count") == REQUESTS
    assert grown("gateway_tokenize_duration_seconds_sum") > 0
