"""The Redis URL reaches redis-py as given: ElastiCache's rediss:// (TLS, AUTH) as well as the in-cluster redis://."""

import pytest
from redis.asyncio.connection import Connection, SSLConnection

from gateway.api.rate_limit import RateLimiter

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("url", "connection"),
    [("redis://:pw@redis:6379/0", Connection), ("rediss://:pw@master.cache.amazonaws.com:6379/0", SSLConnection)],
)
def test_the_quota_store_connects_with_the_urls_scheme_and_password(url: str, connection: type) -> None:
    pool = RateLimiter("10/minute", url).storage.bridge.storage.connection_pool
    assert pool.connection_class is connection
    assert pool.connection_kwargs["password"] == "pw"
