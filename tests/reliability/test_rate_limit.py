"""Per-caller quotas with the ``limits`` library: per key, or per client address when keys are off; in memory,
or shared through a real redis-server by several gateway processes; 429 with Retry-After and X-RateLimit-*."""

import time
from pathlib import Path

import httpx
import pytest
import redis
from support import GatewayProcess, RedisProcess, RunningTriton, gateway_settings, start_gateway

from gateway.api.auth import digest

pytestmark = pytest.mark.slow

KEY_A = "rate-limit-key-a-0123456789"
KEY_B = "rate-limit-key-b-0123456789"
QUOTA = 5


def classify(gateway: GatewayProcess, key: str | None = None, client: httpx.Client | None = None) -> httpx.Response:
    headers = {"X-API-Key": key} if key else None
    return (client or httpx).post(f"{gateway.url}/v1/sentiment", json={"text": "hi"}, headers=headers, timeout=30)


def assert_rate_limited(response: httpx.Response, quota: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["type"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-limit"] == str(quota)
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-reset"]) >= int(time.time())


def test_each_key_has_its_own_quota_and_successes_carry_the_headers(triton: RunningTriton, tmp_path: Path) -> None:
    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        GATEWAY_API_KEY_HASHES=f"{digest(KEY_A)},{digest(KEY_B)}",
        GATEWAY_RATE_LIMIT=f"{QUOTA}/minute",
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        remaining = []
        for _ in range(QUOTA):
            response = classify(gateway, KEY_A)
            assert response.status_code == 200, response.text
            assert response.headers["x-ratelimit-limit"] == str(QUOTA)
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert remaining == list(range(QUOTA - 1, -1, -1))
        assert_rate_limited(classify(gateway, KEY_A), QUOTA)
        assert classify(gateway, KEY_B).status_code == 200, "key B must not pay for key A"
        # Public paths are neither authenticated nor counted.
        assert all(httpx.get(gateway.url + "/healthz", timeout=30).status_code == 200 for _ in range(3 * QUOTA))
    finally:
        gateway.stop()


def test_without_keys_each_client_address_has_its_own_quota(triton: RunningTriton, tmp_path: Path) -> None:
    settings = gateway_settings(triton.http_url, triton.repository, GATEWAY_RATE_LIMIT=f"{QUOTA}/minute")
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        # Linux routes all of 127/8 to loopback: a second source address is a second client.
        with (
            httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as first,
            httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as second,
        ):
            assert [classify(gateway, client=first).status_code for _ in range(QUOTA)] == [200] * QUOTA
            assert_rate_limited(classify(gateway, client=first), QUOTA)
            assert classify(gateway, client=second).status_code == 200
    finally:
        gateway.stop()


def test_the_default_quota_is_100_per_minute(triton: RunningTriton, tmp_path: Path) -> None:
    settings = gateway_settings(triton.http_url, triton.repository)
    del settings["GATEWAY_RATE_LIMIT"]
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        assert classify(gateway).headers["x-ratelimit-limit"] == "100"
    finally:
        gateway.stop()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_replicas_sharing_redis_share_one_quota(
    triton: RunningTriton, redis_server: RedisProcess, tmp_path: Path, workers: str
) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        GATEWAY_API_KEY_HASHES=digest(KEY_A),
        GATEWAY_RATE_LIMIT=f"{QUOTA}/minute",
        GATEWAY_WORKERS=workers,
        REDIS_URL=redis_server.url,
    )
    replicas = [start_gateway(settings, tmp_path / f"gateway-{index}.log") for index in range(2)]
    try:
        # Alternate between the replicas (and, with two workers, between their workers): one quota for all.
        statuses = [classify(replicas[index % 2], KEY_A).status_code for index in range(QUOTA)]
        assert statuses == [200] * QUOTA
        for replica in replicas:
            assert_rate_limited(classify(replica, KEY_A), QUOTA)
        assert redis.Redis.from_url(redis_server.url).dbsize() > 0, "the quota was not kept in Redis"
    finally:
        for replica in replicas:
            replica.stop()


def test_an_unreachable_redis_lets_requests_through(triton: RunningTriton, tmp_path: Path) -> None:
    """The limiter fails open: a dead Redis must not take the service down with it."""
    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        GATEWAY_API_KEY_HASHES=digest(KEY_A),
        GATEWAY_RATE_LIMIT=f"{QUOTA}/minute",
        REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens on port 1
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        started = time.monotonic()
        statuses = [classify(gateway, KEY_A).status_code for _ in range(QUOTA + 2)]
        assert statuses == [200] * (QUOTA + 2)
        assert time.monotonic() - started < 10, "an unreachable Redis must not stall every request"
        assert "rate limiter storage unavailable" in gateway.log()
    finally:
        gateway.stop()
