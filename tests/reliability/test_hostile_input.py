"""Hostile bytes at the HTTP layer: broken JSON, wrong content types, huge or many headers, deep nesting,
invalid UTF-8, lone surrogates, raw garbage on the socket. Each must get a 4xx (never a 5xx, never a
hang) and the gateway must keep serving. tests/gateway/test_errors.py has the polite versions."""

import socket

import httpx
import pytest
from support import MAX_BODY_BYTES, GatewayProcess

pytestmark = pytest.mark.slow

SINGLE = "/v1/sentiment"
BATCH = "/v1/sentiment/batch"
JSON = {"Content-Type": "application/json"}


def post_raw(gateway: GatewayProcess, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(gateway.url + path, content=body, headers=headers, timeout=30)


def assert_client_error(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.headers.get("content-type", "").startswith("application/json"):
        error = response.json()["error"]
        assert set(error) == {"type", "message", "field"}, error


def assert_still_serving(gateway: GatewayProcess) -> None:
    response = httpx.post(gateway.url + SINGLE, json={"text": "still here?"}, timeout=30)
    assert response.status_code == 200, response.text


MALFORMED_BODIES = {
    "trailing-garbage": b'{"text": "fine"} trailing',
    "single-quotes": b"{'text': 'fine'}",
    "trailing-comma": b'{"text": "fine",}',
    "nan": b'{"text": NaN}',
    "infinity-in-list": b'{"texts": [Infinity]}',
    "bare-string": b'"just a string"',
    "null": b"null",
    "empty": b"",
    "whitespace": b"   \n\t ",
    "duplicate-keys": b'{"text": "a", "text": 5}',
    "huge-number": b'{"text": ' + b"9" * 5000 + b"}",
    "bom-prefixed": b'\xef\xbb\xbf{"text": "fine"}',
    "utf16": '{"text": "fine"}'.encode("utf-16"),
    "invalid-utf8": b'{"text": "\xff\xfe\xc3\x28 bad bytes"}',
    "overlong-utf8": b'{"text": "\xc0\xaf"}',
    "truncated-multibyte": b'{"text": "caf\xc3"}',
    "nul-bytes": b'{"text": "a\x00b"}',
    "control-chars-raw": b'{"text": "tab\x01\x02"}',
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
@pytest.mark.parametrize("path", [SINGLE, BATCH])
def test_malformed_json_is_a_client_error(open_gateway: GatewayProcess, path: str, body: bytes) -> None:
    response = post_raw(open_gateway, path, body, JSON)
    # Python's json reads a BOM-prefixed or UTF-16 body as what it is; everything else here is not a request.
    if response.status_code == 200:
        assert body in (MALFORMED_BODIES["bom-prefixed"], MALFORMED_BODIES["utf16"]), response.text
        return
    assert_client_error(response)


CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/json; charset=latin-1",
    "application/json-patch+json",
    "",
    "garbage/ /; ;=",
]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_wrong_content_type_is_a_client_error_or_read_as_json(open_gateway: GatewayProcess, content_type: str) -> None:
    response = post_raw(open_gateway, SINGLE, b'{"text": "fine"}', {"Content-Type": content_type})
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.text


def test_form_body_is_rejected(open_gateway: GatewayProcess) -> None:
    response = httpx.post(open_gateway.url + SINGLE, data={"text": "fine"}, timeout=30)
    assert_client_error(response)


@pytest.mark.parametrize("depth", [100, 1_000, 15_000])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_a_client_error(open_gateway: GatewayProcess, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "1" + closer * depth
    for body in (nested, f'{{"text": {nested}}}', f'{{"texts": [{nested}]}}'):
        assert len(body) < MAX_BODY_BYTES
        assert_client_error(post_raw(open_gateway, BATCH if "texts" in body else SINGLE, body.encode(), JSON))
    assert_still_serving(open_gateway)


@pytest.mark.parametrize(
    "text",
    ["\ud800", "a\udfffb", "\udbff\udfff", "\\ud83d"],
    ids=["lone-high", "lone-low", "escaped-pair", "escaped-backslash"],
)
def test_lone_surrogates_escaped_in_json_are_answered_or_refused(open_gateway: GatewayProcess, text: str) -> None:
    body = '{"text": "' + text.encode("unicode_escape").decode("ascii").replace("\\\\", "\\") + '"}'
    response = post_raw(open_gateway, SINGLE, body.encode(), JSON)
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
    assert_still_serving(open_gateway)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Huge": "a" * 200_000},
        {f"X-Many-{i}": "v" for i in range(2_000)},
        {"X-Request-ID": "x" * 100_000},
    ],
    ids=["one-200kB-header", "2000-headers", "100kB-request-id"],
)
def test_huge_or_absurd_headers_are_refused_and_the_gateway_keeps_serving(
    open_gateway: GatewayProcess, headers: dict[str, str]
) -> None:
    try:
        response = httpx.post(open_gateway.url + SINGLE, content=b'{"text": "fine"}', headers=headers, timeout=30)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.LocalProtocolError):
        pass  # the HTTP parser may close the connection instead of answering: a refusal too
    else:
        assert response.status_code == 200 or 400 <= response.status_code < 500, response.text[:300]
    assert_still_serving(open_gateway)


def test_request_id_with_non_ascii_bytes_is_harmless(open_gateway: GatewayProcess) -> None:
    response = httpx.post(
        open_gateway.url + SINGLE, json={"text": "fine"}, headers={"X-Request-ID": b"caf\xe9 ok"}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"].isprintable()


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello to a plain-HTTP port
        b"POST /v1/sentiment HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
        b"POST /v1/sentiment HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /v1/sentiment HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
        b"POST /v1/sentiment HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
    ],
    ids=[
        "garbage",
        "tls-hello",
        "bad-chunk",
        "double-content-length",
        "100kB-path",
        "absurd-length",
        "negative-length",
    ],
)
def test_raw_protocol_garbage_never_gets_a_5xx(open_gateway: GatewayProcess, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", open_gateway.port), timeout=10) as connection:
        connection.sendall(raw)
        try:
            answer = connection.recv(4096)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    if answer:
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 4"), status_line
    assert_still_serving(open_gateway)


def test_a_body_that_stops_halfway_does_not_hold_the_gateway(open_gateway: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", open_gateway.port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/sentiment HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"text": "only part'
        )
        assert_still_serving(open_gateway)  # while that request still waits for its body
    assert_still_serving(open_gateway)
