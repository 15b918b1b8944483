"""The Python client against a real gateway and Triton: typed answers, chunking, errors, retries."""

import asyncio
import re
import time

import pytest
from client_helpers import API_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sentiment_client import (
    AsyncSentimentClient,
    InvalidInput,
    ModelUnavailable,
    RateLimited,
    RetryEvent,
    RetryPolicy,
    SentimentClient,
    SentimentResult,
    Unauthorized,
)
from support import MAX_TEXT_CHARS, MAX_TEXTS, TINY_MODEL_NAME, GatewayProcess, metric_value, scrape

pytestmark = pytest.mark.slow

LABELS = ["NEGATIVE", "POSITIVE"]


def assert_same_answer(batched: SentimentResult, single: SentimentResult) -> None:
    """Same label and probabilities; a text scored in a batch of another size may differ in the last bits."""
    assert batched.label == single.label and batched.truncated == single.truncated
    assert batched.scores == pytest.approx(single.scores, abs=1e-5)


def test_limits_and_labels_come_from_the_gateway(client: SentimentClient) -> None:
    info = client.info()
    assert info.model == TINY_MODEL_NAME and info.labels == LABELS
    limits = client.limits()
    assert (limits.max_texts_per_request, limits.max_text_chars) == (MAX_TEXTS, MAX_TEXT_CHARS)


def test_classify_answers_a_typed_result(client: SentimentClient) -> None:
    result = client.classify("I love this movie, it was wonderful.", neutral_threshold=0.99)
    assert isinstance(result, SentimentResult)
    assert set(result.scores) == set(LABELS) and sum(result.scores.values()) == pytest.approx(1)
    assert result.label == "NEUTRAL"  # the tiny random model is never 99 % sure
    long_text = " ".join(["word"] * 900)  # over 512 tokens, under the test limit of 5000 characters
    assert client.classify(long_text).truncated
    windows = client.classify(long_text, long_text="windows")
    assert windows.windows > 1


def batch_requests_and_texts(gateway: GatewayProcess) -> tuple[float, float]:
    """Batch requests the gateway has served, and the texts in them, from its own metrics."""
    text = scrape(gateway.url + "/metrics")
    route = {"route": "/v1/sentiment/batch"}
    return (
        metric_value(text, "gateway_texts_per_request_count", **route),
        metric_value(text, "gateway_texts_per_request_sum", **route),
    )


async def test_classify_many_splits_to_the_server_limit_and_keeps_order(client_gateway: GatewayProcess) -> None:
    texts = [f"review number {index} was {'great' if index % 3 else 'awful'}" for index in range(MAX_TEXTS * 2 + 7)]
    requests_before, texts_before = batch_requests_and_texts(client_gateway)
    async with AsyncSentimentClient(client_gateway.url) as client:
        results = await client.classify_many(texts, concurrency=8)
        singles = await asyncio.gather(*(client.classify(text) for text in texts[::25]))
    requests_after, texts_after = batch_requests_and_texts(client_gateway)
    assert (requests_after - requests_before, texts_after - texts_before) == (3, len(texts))
    assert len(results) == len(texts)
    for batched, single in zip(results[::25], singles, strict=True):
        assert_same_answer(batched, single)


def test_an_input_error_is_raised_with_the_servers_words_and_never_retried(client_gateway: GatewayProcess) -> None:
    retries: list[RetryEvent] = []
    with SentimentClient(client_gateway.url, on_retry=retries.append) as client:
        with pytest.raises(InvalidInput) as raised:
            client.classify("   ")
        error = raised.value
        assert (error.status_code, error.type, error.field) == (422, "invalid_input", "text")
        assert "non-whitespace" in error.message and re.fullmatch(r"[0-9a-f]{32}", error.request_id)
        assert error.attempts == 1
        with pytest.raises(InvalidInput) as too_long:
            client.classify_many(["fine", "x" * (MAX_TEXT_CHARS + 1)])
        assert too_long.value.field == "texts[1]" and str(MAX_TEXT_CHARS) in too_long.value.message
    assert retries == []


def test_bad_texts_get_their_error_in_place_and_the_rest_are_classified(client: SentimentClient) -> None:
    texts = ["good", "", "fine", "x" * (MAX_TEXT_CHARS + 1), "bad\ud800", "great"]
    outcomes = client.classify_many_outcomes(texts)
    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds == [
        "SentimentResult",
        "InvalidInput",
        "SentimentResult",
        "InvalidInput",
        "InvalidInput",
        "SentimentResult",
    ]
    assert "Unicode" in outcomes[4].message


def test_a_429_from_the_gateways_rate_limit_is_waited_out(limited_gateway: GatewayProcess) -> None:
    retries: list[tuple[float, RetryEvent]] = []

    def record(event: RetryEvent) -> None:
        retries.append((time.monotonic(), event))

    with SentimentClient(limited_gateway.url, on_retry=record) as client:
        finished = []
        for index in range(8):  # twice the quota of 4/second, as fast as the answers come
            client.classify(f"text {index}")
            finished.append(time.monotonic())
    assert retries, "the quota was never hit"
    for retried_at, event in retries:
        assert isinstance(event.error, RateLimited) and event.error.status_code == 429
        assert event.error.retry_after_s is not None and event.error.retry_after_s >= 1
        assert event.delay_s >= event.error.retry_after_s
        # The call that was refused finished no earlier than Retry-After after the refusal.
        assert min(done for done in finished if done > retried_at) - retried_at >= event.error.retry_after_s


def test_503_is_retried_until_the_deadline_then_raised(orphan_gateway: GatewayProcess) -> None:
    retries: list[RetryEvent] = []
    policy = RetryPolicy(deadline_s=2.5)
    started = time.monotonic()
    with (
        SentimentClient(orphan_gateway.url, retry=policy, on_retry=retries.append) as client,
        pytest.raises(ModelUnavailable) as raised,
    ):
        client.classify("anyone there?")
    elapsed = time.monotonic() - started
    assert raised.value.status_code == 503 and raised.value.attempts == len(retries) + 1 >= 2
    assert all(event.delay_s >= 1 for event in retries)  # the gateway's Retry-After: 1
    assert elapsed <= policy.deadline_s + 1


def test_the_api_key_comes_from_the_argument_or_the_environment(
    keyed_gateway: GatewayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SENTIMENT_API_KEY", raising=False)
    retries: list[RetryEvent] = []
    with SentimentClient(keyed_gateway.url, on_retry=retries.append) as client, pytest.raises(Unauthorized) as raised:
        client.classify("no key")
    assert (raised.value.status_code, raised.value.type, raised.value.attempts) == (401, "unauthorized", 1)
    with SentimentClient(keyed_gateway.url, api_key=API_KEY) as client:
        assert client.classify("key as an argument").label in LABELS
    monkeypatch.setenv("SENTIMENT_API_KEY", API_KEY)
    with SentimentClient(keyed_gateway.url) as client:
        assert client.classify("key from the environment").label in LABELS
    with SentimentClient(keyed_gateway.url, api_key="wrong") as client, pytest.raises(Unauthorized):
        client.classify("an argument wins over the environment")
    assert retries == []


texts_to_classify = st.lists(
    st.text(min_size=1, max_size=120).filter(lambda text: text.strip()), min_size=1, max_size=12
)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=texts_to_classify, batch_size=st.integers(1, 5), concurrency=st.integers(1, 4))
def test_classify_many_equals_one_classify_per_text(
    client: SentimentClient, texts: list[str], batch_size: int, concurrency: int
) -> None:
    batched = client.classify_many(texts, batch_size=batch_size, concurrency=concurrency)
    assert len(batched) == len(texts)
    for result, text in zip(batched, texts, strict=True):
        assert_same_answer(result, client.classify(text))


async def test_the_blocking_client_works_where_a_loop_is_already_running(client_gateway: GatewayProcess) -> None:
    """As in a notebook: the blocking client runs its own loop in its own thread, not this one."""
    with SentimentClient(client_gateway.url) as client:
        assert client.classify("inside a running loop").label in LABELS
