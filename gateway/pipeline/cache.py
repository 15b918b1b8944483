"""Answers for texts seen before: in-process LRU by default, Redis (shared by replicas) when REDIS_URL is set.

The key is the model name, its version, the long-text mode and the text after normalisation:
Unicode NFC, whitespace runs collapsed to one space, ends stripped. For the default WordPiece
tokenizer (and any that splits on whitespace) that normalisation never changes an answer. The
version in the key means a new model version never answers from the old one's entries.
What is cached is the model's output (probabilities, windows, truncation, tokens), not the response:
per-request choices such as the neutral threshold are applied after the lookup.
"""

import hashlib
import json
import logging
import unicodedata
from dataclasses import asdict, dataclass
from typing import Protocol

import redis.asyncio as redis
from cachetools import TTLCache

from gateway import metrics
from gateway.pipeline.redis_guard import REDIS_TIMEOUT_S, RedisSkipped, breaker_for

logger = logging.getLogger("gateway.pipeline.cache")


@dataclass(frozen=True)
class ModelOutput:
    """What the model said about one text."""

    probabilities: list[float]
    truncated: bool
    windows: int
    tokens: int


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def cache_key(model: str, version: str, mode: str, text: str) -> str:
    digest = hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()
    return f"sentiment:{model}:{version}:{mode}:{digest}"


class ResultCache(Protocol):
    async def get_many(self, keys: list[str]) -> list[ModelOutput | None]: ...

    async def set_many(self, entries: dict[str, ModelOutput]) -> None: ...

    async def close(self) -> None: ...


def _count(outputs: list[ModelOutput | None]) -> list[ModelOutput | None]:
    hits = sum(output is not None for output in outputs)
    metrics.CACHE_LOOKUPS.labels(result="hit").inc(hits)
    metrics.CACHE_LOOKUPS.labels(result="miss").inc(len(outputs) - hits)
    return outputs


class MemoryCache:
    """A bounded LRU with a TTL, per worker."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.entries: TTLCache[str, ModelOutput] = TTLCache(maxsize=max_entries, ttl=ttl_s)

    async def get_many(self, keys: list[str]) -> list[ModelOutput | None]:
        return _count([self.entries.get(key) for key in keys])

    async def set_many(self, entries: dict[str, ModelOutput]) -> None:
        self.entries.update(entries)

    async def close(self) -> None:
        self.entries.clear()


class RedisCache:
    """Entries expire after the TTL; size is bounded by the TTL and Redis's own maxmemory policy.

    A Redis that fails is treated as a miss (and logged): the cache may slow down, never break, a request.
    A stalled one costs at most a short timeout, and nothing once the worker's breaker has opened.
    """

    def __init__(self, url: str, ttl_s: float) -> None:
        self.client = redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        self.breaker = breaker_for(url)
        self.ttl_ms = int(ttl_s * 1000)

    async def get_many(self, keys: list[str]) -> list[ModelOutput | None]:
        try:
            values = await self.breaker.call(lambda: self.client.mget(keys))
        except RedisSkipped:
            values = [None] * len(keys)
        except redis.RedisError as error:
            logger.warning("cache unavailable, computing instead: %s", error)
            values = [None] * len(keys)
        return _count([ModelOutput(**json.loads(value)) if value else None for value in values])

    async def set_many(self, entries: dict[str, ModelOutput]) -> None:
        try:
            await self.breaker.call(lambda: self._store(entries))
        except RedisSkipped:
            pass  # the breaker logged when it opened; a skipped store is only a lost cache entry
        except redis.RedisError as error:
            logger.warning("cache unavailable, not storing: %s", error)

    async def _store(self, entries: dict[str, ModelOutput]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for key, output in entries.items():
                pipe.set(key, json.dumps(asdict(output)), px=self.ttl_ms)
            await pipe.execute()

    async def close(self) -> None:
        await self.client.aclose()
