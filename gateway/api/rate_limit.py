"""Per-caller quotas with the ``limits`` library: in memory, or in Redis shared by every replica."""

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.errors import RateLimited

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
            RedisStorage(redis_url.replace("redis://", "async+redis://", 1), implementation="redispy")
            if redis_url
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, caller: str) -> Quota:
        """Count one request of ``caller``; raise ``RateLimited`` when the quota is spent.

        If Redis is down the request is let through (and logged): an unavailable limiter must not
        take the whole service down with it.
        """
        try:
            allowed = await self.limiter.hit(self.item, caller)
            stats = await self.limiter.get_window_stats(self.item, caller)
        except Exception as error:  # the storage's own errors vary by backend
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
