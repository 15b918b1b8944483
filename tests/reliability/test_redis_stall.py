"""A real redis-server stopped with SIGSTOP (it accepts, never answers), then resumed: the quota and cache
stop waiting on it after the first short timeouts, and the breaker closes again once Redis answers."""

import signal
import time
from pathlib import Path

import httpx
import pytest
from reliability_helpers import percentile
from support import RunningTriton, gateway_settings, metric_value, scrape, start_gateway, start_redis

from gateway.pipeline.redis_guard import RESET_AFTER_S

pytestmark = pytest.mark.slow

DURING_STALL = 150


def breaker_state(gateway_url: str) -> float:
    return metric_value(scrape(gateway_url + "/metrics"), "gateway_redis_breaker_state")


def test_a_stalled_redis_costs_single_texts_under_100_ms_at_p99_and_the_breaker_closes_when_it_is_back(
    triton: RunningTriton, tmp_path: Path
) -> None:
    redis = start_redis(tmp_path)  # its own: SIGSTOP would stall every other test's Redis
    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        REDIS_URL=redis.url,
        GATEWAY_RATE_LIMIT="100000/minute",
        GATEWAY_CACHE_SIZE="10000",  # with REDIS_URL: the Redis cache
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            assert client.post("/v1/sentiment", json={"text": "before the stall"}).status_code == 200
            assert breaker_state(gateway.url) == 0
            redis.process.send_signal(signal.SIGSTOP)
            latencies, statuses = [], set()
            for index in range(DURING_STALL):
                started = time.monotonic()
                response = client.post("/v1/sentiment", json={"text": f"during the stall {index}"})
                latencies.append(time.monotonic() - started)
                statuses.add(response.status_code)
            open_during = breaker_state(gateway.url)
            redis.process.send_signal(signal.SIGCONT)
            time.sleep(RESET_AFTER_S)  # the open circuit tries Redis again after this
            deadline = time.monotonic() + 5
            while breaker_state(gateway.url) != 0 and time.monotonic() < deadline:
                client.post("/v1/sentiment", json={"text": "after the stall"})
                time.sleep(0.1)
            closed_after = breaker_state(gateway.url)
            quota = client.post("/v1/sentiment", json={"text": "after the stall"}).headers["x-ratelimit-remaining"]
    finally:
        gateway.stop()
        redis.process.send_signal(signal.SIGCONT)
        redis.stop()
    p99 = percentile(latencies, 0.99)
    print(f"{DURING_STALL} single texts, Redis SIGSTOPped: p99 {p99 * 1000:.1f} ms, max {max(latencies) * 1000:.0f} ms")
    assert statuses == {200}, "a stalled Redis must not fail a request"
    assert p99 < 0.1, f"p99 {p99 * 1000:.0f} ms during the stall"
    assert open_during == 1, "the breaker opened"
    assert closed_after == 0, "the breaker closed once Redis answered again"
    assert int(quota) < 100000 - 1, "the quota is counted in Redis again"
