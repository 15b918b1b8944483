"""One circuit breaker per worker in front of Redis: a stalled Redis costs a few short timeouts, then nothing.

A Redis that is down fails fast (connection refused), but a stalled one (overloaded, paused, a network
partition) accepts the request and never answers, so every call waits out the client's timeout. The quota
and the answer cache each call Redis on every request: without a breaker, a stall costs each request all of
those timeouts for as long as it lasts. With it, the first failures open the circuit, later calls skip Redis
at once (the caller falls back: quota let through, cache missed), and after ``reset_after_s`` the next calls
try Redis again and close the circuit when it answers. ``purgatory`` keeps the state machine.
"""

import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.messages.base import Event
from purgatory.domain.model import OpenedState

from gateway import metrics

logger = logging.getLogger("gateway.pipeline.redis_guard")

T = TypeVar("T")

# Failures in a row that open the circuit: more than one, so a single lost packet does not.
FAILURES_TO_OPEN = 2
# Redis answers a healthy GET or a quota update in well under a millisecond on the same network; a call that
# takes 50 ms is a stall, and waiting longer only makes every request slower.
REDIS_TIMEOUT_S = 0.05
# How long an open circuit skips Redis before trying it again.
RESET_AFTER_S = 5.0
# Where the gauge puts each state: open is 1, so the highest over workers says whether any has given up on Redis.
STATE_VALUES = {"closed": 0.0, "half-opened": 0.5, "opened": 1.0}

RedisSkipped = OpenedState  # what a call raises while the circuit is open: Redis was not even tried


class RedisBreaker:
    """Calls to one Redis through one circuit; every user of that Redis in the worker shares it."""

    def __init__(self) -> None:
        self.factory = AsyncCircuitBreakerFactory(default_threshold=FAILURES_TO_OPEN, default_ttl=RESET_AFTER_S)
        self.factory.add_listener(self._on_event)
        metrics.REDIS_BREAKER_STATE.set(STATE_VALUES["closed"])

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``operation()``'s result; its exception counts as a failure; ``RedisSkipped`` while open."""
        async with await self.factory.get_breaker("redis"):
            return await operation()

    @staticmethod
    def _on_event(_: str, event_type: str, event: Event) -> None:
        if event_type == "state_changed":
            metrics.REDIS_BREAKER_STATE.set(STATE_VALUES[event.state])
            logger.warning("Redis circuit %s (quota let through and cache skipped while open)", event.state)


@cache
def breaker_for(redis_url: str) -> RedisBreaker:
    """The worker's breaker for ``redis_url``: the quota and the cache share it, so one stall opens it for both."""
    return RedisBreaker()
