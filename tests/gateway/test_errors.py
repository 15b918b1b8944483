"""Bad input: one JSON error body naming the field and the rule, never a 500, and the service keeps serving."""

import httpx
import pytest
from support import MAX_BODY_BYTES, MAX_TEXT_CHARS, MAX_TEXTS, GatewayProcess

from gateway.errors import ErrorBody

pytestmark = pytest.mark.slow

SINGLE = "/v1/sentiment"
BATCH = "/v1/sentiment/batch"


def post(gateway: GatewayProcess, path: str, **kwargs) -> httpx.Response:
    return httpx.post(gateway.url + path, timeout=30, **kwargs)


def assert_error(response: httpx.Response, status: int, error_type: str, field: str | None, *words: str) -> None:
    assert response.status_code == status, response.text
    body = ErrorBody.model_validate(response.json())
    assert body.error.type == error_type
    assert body.error.field == field
    for word in words:
        assert word in body.error.message, body.error.message


@pytest.mark.parametrize(
    ("path", "payload", "field", "words"),
    [
        (SINGLE, {}, "text", ["Field required"]),
        (SINGLE, {"text": 5}, "text", ["valid string"]),
        (SINGLE, {"text": None}, "text", ["valid string"]),
        (SINGLE, {"text": ""}, "text", ["non-whitespace"]),
        (SINGLE, {"text": " \t\n "}, "text", ["non-whitespace"]),
        (SINGLE, {"text": "ok", "extra": 1}, "extra", ["not permitted"]),
        (SINGLE, ["not", "an", "object"], "body", ["JSON object"]),
        (BATCH, {}, "texts", ["Field required"]),
        (BATCH, {"texts": "one string"}, "texts", ["valid list"]),
        (BATCH, {"texts": []}, "texts", ["at least 1"]),
        (BATCH, {"texts": ["fine", 3]}, "texts[1]", ["valid string"]),
        (BATCH, {"texts": ["fine", "   "]}, "texts[1]", ["non-whitespace"]),
        (BATCH, {"texts": ["x"] * (MAX_TEXTS + 1)}, "texts", [str(MAX_TEXTS), "GATEWAY_MAX_TEXTS_PER_REQUEST"]),
        (SINGLE, {"text": "a" * (MAX_TEXT_CHARS + 1)}, "text", [str(MAX_TEXT_CHARS), "GATEWAY_MAX_TEXT_CHARS"]),
        (BATCH, {"texts": ["ok", "a" * (MAX_TEXT_CHARS + 1)]}, "texts[1]", [str(MAX_TEXT_CHARS)]),
    ],
)
def test_invalid_input_is_422_naming_the_field_and_rule(
    gateway: GatewayProcess, path: str, payload: object, field: str, words: list[str]
) -> None:
    assert_error(post(gateway, path, json=payload), 422, "invalid_input", field, *words)


def test_malformed_json_and_wrong_content_type(gateway: GatewayProcess) -> None:
    headers = {"Content-Type": "application/json"}
    assert_error(
        post(gateway, SINGLE, content=b'{"text": "unterminated', headers=headers),
        422,
        "invalid_input",
        "body",
        "not valid JSON",
    )
    assert_error(post(gateway, SINGLE, content=b"\xff\xfe\x00bad", headers=headers), 422, "invalid_input", "body")
    form = post(gateway, SINGLE, content=b"text=hello", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(form, 422, "invalid_input", "body", "Content-Type: application/json")


def test_body_over_the_limit_is_413_whether_declared_or_streamed(gateway: GatewayProcess) -> None:
    big = b'{"text": "' + b"a" * MAX_BODY_BYTES + b'"}'
    assert_error(
        post(gateway, SINGLE, content=big, headers={"Content-Type": "application/json"}),
        413,
        "payload_too_large",
        "body",
        str(MAX_BODY_BYTES),
    )

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = post(gateway, SINGLE, content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(streamed, 413, "payload_too_large", "body", str(MAX_BODY_BYTES))


def test_unknown_route_and_wrong_method_use_the_same_error_body(gateway: GatewayProcess) -> None:
    assert_error(httpx.get(gateway.url + "/v1/nothing"), 404, "not_found", None)
    assert_error(httpx.get(gateway.url + SINGLE), 405, "method_not_allowed", None)


def test_service_keeps_serving_after_every_kind_of_bad_input(gateway: GatewayProcess) -> None:
    for payload in ({}, {"text": ""}, {"text": 1}, {"texts": []}):
        post(gateway, SINGLE, json=payload)
    post(gateway, SINGLE, content=b"{", headers={"Content-Type": "application/json"})
    response = post(gateway, SINGLE, json={"text": "still here"})
    assert response.status_code == 200
    assert "Traceback" not in gateway.log()
