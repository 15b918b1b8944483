"""Per-caller quotas with the ``limits`` library: in memory, or in Redis shared by every replica."""

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.errors import RateLimited
from gateway.pipeline.redis_guard import REDIS_TIMEOUT_S, RedisSkipped, breaker_for

logger = logging.getLogger("gateway.api.rate_limit")


@dataclass(frozen=True)
class Quota:
    """What is left of a caller's quota, for the ``X-RateLimit-*`` headers."""

    limit: int
    remaining: int
    reset_epoch_s: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_epoch_s).encode()),
        ]


class RateLimiter:
    """A moving window per caller: no burst of twice the quota at a window's edge, as fixed windows allow."""

    def __init__(self, rate_limit: str, redis_url: str | None) -> None:
        self.item: RateLimitItem = parse(rate_limit)
        self.storage: Storage = (
            # The class itself is named, so no "async+" scheme prefix is needed: redis:// and ElastiCache's
            # rediss:// (TLS) reach redis-py's from_url as they are.
            RedisStorage(
                redis_url,
                implementation="redispy",
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            if redis_url
            else MemoryStorage()
        )
        self.breaker = breaker_for(redis_url) if redis_url else None
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def _count(self, caller: str) -> tuple[bool, WindowStats]:
        allowed = await self.limiter.hit(self.item, caller)
        return allowed, await self.limiter.get_window_stats(self.item, caller)

    async def hit(self, caller: str) -> Quota:
        """Count one request of ``caller``; raise ``RateLimited`` when the quota is spent.

        If Redis is down or stalled the request is let through (and logged): an unavailable limiter must
        not take the whole service down with it. While the breaker is open Redis is not even asked.
        """
        try:
            if self.breaker:
                allowed, stats = await self.breaker.call(lambda: self._count(caller))
            else:
                allowed, stats = await self._count(caller)
        except Exception as error:  # the storage's own errors vary by backend
            if not isinstance(error, RedisSkipped):
                logger.warning("rate limiter storage unavailable, letting the request through: %s", error)
            return Quota(self.item.amount, self.item.amount, int(time.time()))
        quota = Quota(self.item.amount, max(stats.remaining, 0), math.ceil(stats.reset_time))
        if not allowed:
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(
                f"rate limit of {self.item} exceeded; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)} | {k.decode(): v.decode() for k, v in quota.headers()},
            )
        return quota
