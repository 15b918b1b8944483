"""The client's pure parts: how texts are split into requests, error bodies, and the retry policy."""

import json
import random
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sentiment_client.errors import (
    ApiError,
    InferenceFailed,
    InferenceTimeout,
    InvalidInput,
    ModelUnavailable,
    RateLimited,
    TransportError,
    error_from_response,
    parse_retry_after,
)
from sentiment_client.models import ServiceLimits
from sentiment_client.protocol import ScoringOptions, batch_body, encode_text, plan_requests, text_index
from sentiment_client.retry import Attempts, RetryPolicy

pytestmark = pytest.mark.fast

OPTIONS = ScoringOptions(long_text="windows", neutral_threshold=0.75)


@settings(max_examples=200, deadline=None, database=None)
@given(
    texts=st.lists(st.text(max_size=60), max_size=60),
    max_texts=st.integers(1, 10),
    batch_size=st.one_of(st.none(), st.integers(1, 12)),
    spare_bytes=st.integers(0, 400),
)
def test_requests_cover_every_text_once_in_order_and_fit_the_limits(
    texts: list[str], max_texts: int, batch_size: int | None, spare_bytes: int
) -> None:
    encoded = [encode_text(text) for text in texts]
    overhead = len(batch_body([], OPTIONS))
    limits = ServiceLimits(max_texts_per_request=max_texts, max_body_bytes=max(1024, overhead + spare_bytes))
    ranges = plan_requests([len(item) for item in encoded], limits, OPTIONS, batch_size)
    assert [index for part in ranges for index in part] == list(range(len(texts)))
    for part in ranges:
        assert 1 <= len(part) <= min(batch_size or max_texts, max_texts)
        body = batch_body([encoded[index] for index in part], OPTIONS)
        assert len(body) <= limits.max_body_bytes or len(part) == 1  # only a lone text may be too large
        assert json.loads(body) == {"texts": [texts[index] for index in part], **OPTIONS.fields()}


def test_a_lone_surrogate_is_sent_escaped_for_the_gateway_to_refuse() -> None:
    assert json.loads(encode_text("a\ud800b")) == "a\ud800b"
    assert encode_text("héllo") == '"héllo"'.encode()


@pytest.mark.parametrize(("field", "index"), [("texts[0]", 0), ("texts[17]", 17), ("texts", None), (None, None)])
def test_text_index(field: str | None, index: int | None) -> None:
    assert text_index(field) == index


def test_an_error_body_becomes_the_exception_of_its_type() -> None:
    body = {"error": {"type": "invalid_input", "message": "texts[1]: empty", "field": "texts[1]"}}
    error = error_from_response(httpx.Response(422, json=body, headers={"X-Request-ID": "abc"}))
    assert isinstance(error, InvalidInput)
    assert (error.type, error.message, error.field) == ("invalid_input", "texts[1]: empty", "texts[1]")
    assert error.request_id == "abc"
    limited = error_from_response(
        httpx.Response(429, json={"error": {"type": "rate_limited", "message": "m"}}, headers={"Retry-After": "3"})
    )
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 3
    proxy = error_from_response(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert type(proxy) is ApiError and proxy.type == "http_502" and "Bad gateway" in proxy.message


def test_retry_after_as_an_http_date_is_seconds_from_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("soon") is None


def test_retries_only_what_may_succeed_later_and_never_past_the_deadline() -> None:
    policy = RetryPolicy(deadline_s=5, base_delay_s=0.2, max_delay_s=1)
    rng = random.Random(7)
    unavailable = ModelUnavailable(503, "model_unavailable", "down", retry_after_s=2)
    assert 2 <= policy.delay_s(0, unavailable, rng) <= 2.2  # at least Retry-After, plus a little jitter
    assert all(0 <= policy.delay_s(10, TransportError("refused"), rng) <= 1 for _ in range(100))
    assert Attempts(policy).next_delay_s(InvalidInput(422, "invalid_input", "empty")) is None
    assert Attempts(policy).next_delay_s(InferenceTimeout(504, "inference_timeout", "slow")) is not None
    assert Attempts(policy).next_delay_s(InferenceFailed(502, "inference_failed", "broken")) is None
    assert Attempts(policy).next_delay_s(unavailable) is not None
    # The same wait 3.5 s into the call would end past the 5 s deadline: give up now, not after waiting.
    assert Attempts(policy, started=time.monotonic() - 3.5).next_delay_s(unavailable) is None
