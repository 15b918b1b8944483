"""Load shedding: a bounded number of requests in flight per worker, the rest refused at once with 429;
and overload at three times the measured capacity keeps accepted latency bounded with zero other 5xx."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from reliability_helpers import SHED, closed_loop, open_loop, percentile, send, summary
from support import RunningTriton, gateway_settings, start_gateway

pytestmark = pytest.mark.slow

MAX_IN_FLIGHT = 4


async def test_requests_beyond_the_in_flight_limit_are_refused_at_once(
    paced_triton: RunningTriton, tmp_path: Path
) -> None:
    settings = gateway_settings(paced_triton.http_url, paced_triton.repository, "lingering", GATEWAY_MAX_IN_FLIGHT="2")
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as client:
            holders = [asyncio.create_task(send(client, "/v1/sentiment", {"text": f"slow {i}"})) for i in range(2)]
            await asyncio.sleep(0.3)  # both permits taken, each for about a second
            refused = await asyncio.gather(*(send(client, "/v1/sentiment", {"text": f"x{i}"}) for i in range(6)))
            batch_refused = await send(client, "/v1/sentiment/batch", {"texts": ["x"]})
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
            held = await asyncio.gather(*holders)
            after = await send(client, "/v1/sentiment", {"text": "permits are back"})
        assert [outcome.status for outcome in held] == [200, 200]
        for outcome in [*refused, batch_refused]:
            assert outcome.status == 429 and outcome.error_type == "overloaded", summary(refused)
            assert outcome.headers.get("retry-after") == "1"
            assert outcome.elapsed_s < 0.5, f"a refusal took {outcome.elapsed_s:.2f} s; it must not queue"
        assert health.status_code == 200 and ready.status_code == 200, "health routes take no permit"
        assert after.status == 200, "every permit must be released"
    finally:
        gateway.stop()


async def test_overload_at_three_times_capacity_sheds_the_excess_and_keeps_latency_bounded(
    paced_triton: RunningTriton, tmp_path: Path
) -> None:
    settings = gateway_settings(
        paced_triton.http_url,
        paced_triton.repository,
        "paced",
        GATEWAY_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
        GATEWAY_TRITON_TIMEOUT_S="5",
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        async with httpx.AsyncClient(
            base_url=gateway.url, timeout=30, limits=httpx.Limits(max_connections=400)
        ) as client:
            measured = await closed_loop(client, "/v1/sentiment", MAX_IN_FLIGHT, duration_s=3, max_requests=1000)
            served = [outcome for outcome in measured if outcome.status == 200]
            assert len(served) == len(measured), summary(measured)
            capacity = len(served) / 3
            p99_at_capacity = percentile([outcome.elapsed_s for outcome in served], 0.99)

            started = time.monotonic()
            overload = await open_loop(client, "/v1/sentiment", 3 * capacity, duration_s=4, max_requests=2000)
            took = time.monotonic() - started
        accepted = [outcome for outcome in overload if outcome.status == 200]
        shed = [outcome for outcome in overload if outcome.status in SHED]
        assert len(accepted) + len(shed) == len(overload), f"other answers under overload: {summary(overload)}"
        assert len(shed) > len(overload) / 3, f"too little shed at 3x capacity: {summary(overload)}"
        assert accepted, summary(overload)
        p99_accepted = percentile([outcome.elapsed_s for outcome in accepted], 0.99)
        # Unbounded queueing would add (3 - 1) * 4 s of backlog: seconds. Shedding keeps it near the capacity p99.
        assert p99_accepted < max(4 * p99_at_capacity, 1.0), (
            f"accepted p99 {p99_accepted:.3f} s vs {p99_at_capacity:.3f} s at capacity"
        )
        assert max(outcome.elapsed_s for outcome in shed) < 1.0
        print(
            f"capacity {capacity:.1f} req/s (p99 {p99_at_capacity * 1000:.0f} ms); offered {len(overload) / took:.1f}"
            f" req/s for {took:.1f} s: {summary(overload)}; accepted p99 {p99_accepted * 1000:.0f} ms"
        )
    finally:
        gateway.stop()
