"""``AsyncSentimentClient`` does the work; ``SentimentClient`` runs it from blocking code.

One implementation: the blocking client drives the async one on an event loop in a background thread
(anyio's blocking portal; anyio is httpx's own async layer), which also makes it usable where a loop is
already running, as in a notebook.
"""

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx
from anyio.from_thread import start_blocking_portal
from pydantic import BaseModel

from sentiment_client.errors import ApiError, InvalidInput, SentimentError, TransportError, error_from_response
from sentiment_client.models import AnalysisResult, LongText, SentimentResult, ServiceInfo, ServiceLimits
from sentiment_client.protocol import (
    AnalysisOptions,
    Options,
    ScoringOptions,
    batch_body,
    encode_text,
    plan_requests,
    single_body,
    text_index,
)
from sentiment_client.retry import Attempts, RetryEvent, RetryPolicy

DEFAULT_URL = "http://127.0.0.1:8080"
API_KEY_ENV = "SENTIMENT_API_KEY"

P = ParamSpec("P")
R = TypeVar("R")
Outcome = SentimentResult | ApiError
AnalysisOutcome = AnalysisResult | ApiError


class _BatchResponse(BaseModel):
    results: list[SentimentResult]


class _BatchAnalysisResponse(BaseModel):
    results: list[AnalysisResult]


# Batch path and answer per API version; a text's options say which version it is for.
_BATCH_ENDPOINTS: dict[type, tuple[str, type[_BatchResponse] | type[_BatchAnalysisResponse]]] = {
    ScoringOptions: ("/v1/sentiment/batch", _BatchResponse),
    AnalysisOptions: ("/v2/sentiment/batch", _BatchAnalysisResponse),
}


class AsyncSentimentClient:
    """Client of the sentiment gateway. Use as ``async with AsyncSentimentClient(url) as client: ...``.

    ``api_key`` defaults to ``SENTIMENT_API_KEY``. ``limits`` overrides what ``GET /`` reports (or the
    gateway's defaults when it reports none). ``on_retry`` is told about each retry before its wait.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        limits: ServiceLimits | None = None,
        max_connections: int = 64,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        headers = {"Content-Type": "application/json", "User-Agent": "sentiment-client"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )
        self.retry = retry or RetryPolicy()
        self._limits = limits
        self._on_retry = on_retry
        self._info: ServiceInfo | None = None

    async def __aenter__(self) -> "AsyncSentimentClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def info(self) -> ServiceInfo:
        """``GET /``: model, labels and limits (asked once, then remembered)."""
        if self._info is None:
            response = await self._send("GET", "/")
            self._info = ServiceInfo.model_validate_json(response.content)
        return self._info

    async def limits(self) -> ServiceLimits:
        """The limits requests are split to fit: configured, else reported by ``GET /``, else the defaults."""
        if self._limits is None:
            self._limits = (await self.info()).limits or ServiceLimits()
        return self._limits

    async def classify(
        self, text: str, *, long_text: LongText = "truncate", neutral_threshold: float | None = None
    ) -> SentimentResult:
        """Classify one text; raises an ``ApiError`` subclass (e.g. ``InvalidInput``) when the gateway refuses."""
        body = single_body(text, ScoringOptions(long_text, neutral_threshold))
        response = await self._send("POST", "/v1/sentiment", body)
        return SentimentResult.model_validate_json(response.content)

    async def classify_many(
        self,
        texts: Sequence[str],
        *,
        long_text: LongText = "truncate",
        neutral_threshold: float | None = None,
        batch_size: int | None = None,
        concurrency: int = 4,
    ) -> list[SentimentResult]:
        """Classify ``texts``, in order, split into batch requests that fit the server's limits (at most
        ``batch_size`` texts each), ``concurrency`` at a time. Raises the error of the first refused text."""
        outcomes = await self.classify_many_outcomes(
            texts,
            long_text=long_text,
            neutral_threshold=neutral_threshold,
            batch_size=batch_size,
            concurrency=concurrency,
        )
        return _raise_first_error(outcomes)

    async def classify_many_outcomes(
        self,
        texts: Sequence[str],
        *,
        long_text: LongText = "truncate",
        neutral_threshold: float | None = None,
        batch_size: int | None = None,
        concurrency: int = 4,
    ) -> list[Outcome]:
        """Like ``classify_many``, but a text the gateway refuses (empty, too long) gets its error in its place
        while the others are classified. Errors that are not about one text (unreachable server after
        retries, a wrong key) are raised."""
        return await self._many_outcomes(texts, ScoringOptions(long_text, neutral_threshold), batch_size, concurrency)

    async def analyze(self, text: str, *, long_text: LongText = "truncate", explain: bool = False) -> AnalysisResult:
        """API v2 on one text: calibrated label and prediction set, sentences with offsets, language, and with
        ``explain`` each word's occlusion weight. Raises like ``classify``."""
        response = await self._send("POST", "/v2/sentiment", single_body(text, AnalysisOptions(long_text, explain)))
        return AnalysisResult.model_validate_json(response.content)

    async def analyze_many(
        self,
        texts: Sequence[str],
        *,
        long_text: LongText = "truncate",
        explain: bool = False,
        batch_size: int | None = None,
        concurrency: int = 4,
    ) -> list[AnalysisResult]:
        """``analyze`` for many texts, split and sent as ``classify_many`` does; raises the first refusal."""
        outcomes = await self.analyze_many_outcomes(
            texts, long_text=long_text, explain=explain, batch_size=batch_size, concurrency=concurrency
        )
        return _raise_first_error(outcomes)

    async def analyze_many_outcomes(
        self,
        texts: Sequence[str],
        *,
        long_text: LongText = "truncate",
        explain: bool = False,
        batch_size: int | None = None,
        concurrency: int = 4,
    ) -> list[AnalysisOutcome]:
        """Like ``analyze_many``, a refused text (empty, too long, a refused language) getting its error in place."""
        return await self._many_outcomes(texts, AnalysisOptions(long_text, explain), batch_size, concurrency)

    async def _many_outcomes(
        self, texts: Sequence[str], options: Options, batch_size: int | None, concurrency: int
    ) -> list[Any]:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        encoded = [encode_text(text) for text in texts]
        requests = plan_requests([len(item) for item in encoded], await self.limits(), options, batch_size)
        outcomes: list[Any] = []
        slots = asyncio.Semaphore(concurrency)

        async def run(indices: range) -> list[Any]:
            async with slots:
                return await self._score_encoded(encoded[indices.start : indices.stop], options)

        for part in await _gather_or_cancel([run(indices) for indices in requests]):
            outcomes.extend(part)
        return outcomes

    async def _score_encoded(self, encoded: list[bytes], options: Options) -> list[Any]:
        """One batch request; when the gateway names one bad text, that text gets the error and the others
        are sent again (a 413 for a body of several texts halves it)."""
        path, answer = _BATCH_ENDPOINTS[type(options)]
        try:
            response = await self._send("POST", path, batch_body(encoded, options))
        except InvalidInput as error:
            index = text_index(error.field)
            if index is not None and 0 <= index < len(encoded):
                rest = await self._score_encoded(encoded[:index] + encoded[index + 1 :], options)
                return [*rest[:index], error, *rest[index:]]
            if error.status_code == 413 and len(encoded) > 1:
                half = len(encoded) // 2
                first = await self._score_encoded(encoded[:half], options)
                return first + await self._score_encoded(encoded[half:], options)
            raise
        results = answer.model_validate_json(response.content).results
        if len(results) != len(encoded):
            raise ApiError(response.status_code, "bad_answer", f"{len(results)} results for {len(encoded)} texts")
        return list(results)

    async def _send(self, method: str, path: str, body: bytes | None = None) -> httpx.Response:
        """Send until an answer is final: retry per ``self.retry``, raise the last error when it gives up."""
        attempts = Attempts(self.retry)
        while True:
            try:
                response = await self._http.request(method, path, content=body)
            except httpx.TransportError as exc:
                error: SentimentError = TransportError(f"{type(exc).__name__}: {exc or 'no answer'}")
            else:
                if response.is_success:
                    return response
                error = error_from_response(response)
            delay_s = attempts.next_delay_s(error)
            if delay_s is None:
                error.attempts = attempts.count
                raise error
            if self._on_retry is not None:
                self._on_retry(RetryEvent(attempts.count, error, delay_s))
            await asyncio.sleep(delay_s)


def _raise_first_error(outcomes: list[R]) -> list[R]:
    for outcome in outcomes:
        if isinstance(outcome, ApiError):
            raise outcome
    return outcomes


async def _gather_or_cancel(coroutines: list[Coroutine[Any, Any, list[Any]]]) -> list[list[Any]]:
    """``asyncio.gather`` that cancels the other requests as soon as one fails, instead of letting them run."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


def _blocking(
    method: Callable[Concatenate[AsyncSentimentClient, P], Awaitable[R]],
) -> Callable[Concatenate["SentimentClient", P], R]:
    """The blocking twin of an ``AsyncSentimentClient`` method, same signature and docs, no second body."""

    @functools.wraps(method)
    def call(self: "SentimentClient", *args: P.args, **kwargs: P.kwargs) -> R:
        return self._portal.call(functools.partial(method, self._client, *args, **kwargs))

    return call


class SentimentClient:
    """Blocking client with the same methods and arguments as ``AsyncSentimentClient``.

    Use as ``with SentimentClient(url) as client: client.classify("...")``; ``close()`` otherwise.
    """

    def __init__(self, url: str = DEFAULT_URL, **options: Any) -> None:
        self._portal_context = start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        try:
            # Made on the portal's loop, which is the one its connections will live on.
            self._client: AsyncSentimentClient = self._portal.call(
                functools.partial(_make_async_client, url, **options)
            )
        except BaseException:
            self._portal_context.__exit__(None, None, None)
            raise

    def __enter__(self) -> "SentimentClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._portal.call(self._client.aclose)
        finally:
            self._portal_context.__exit__(None, None, None)

    @property
    def retry(self) -> RetryPolicy:
        return self._client.retry

    info = _blocking(AsyncSentimentClient.info)
    limits = _blocking(AsyncSentimentClient.limits)
    classify = _blocking(AsyncSentimentClient.classify)
    classify_many = _blocking(AsyncSentimentClient.classify_many)
    classify_many_outcomes = _blocking(AsyncSentimentClient.classify_many_outcomes)
    analyze = _blocking(AsyncSentimentClient.analyze)
    analyze_many = _blocking(AsyncSentimentClient.analyze_many)
    analyze_many_outcomes = _blocking(AsyncSentimentClient.analyze_many_outcomes)


async def _make_async_client(url: str, **options: Any) -> AsyncSentimentClient:
    return AsyncSentimentClient(url, **options)
