"""The error contract, held in one place: the gateway's error classes against the README's error table, the
OpenAPI responses of the scoring routes, and the client's error classes and request id.

``gateway/errors.py`` is the source of truth; each test reads one of the other three as its readers see it.
"""

import httpx
import pytest
from markdown_it import MarkdownIt
from sentiment_client import errors as client_errors
from support import REPO_ROOT

from gateway.api import middleware
from gateway.api.app import create_app
from gateway.errors import ERROR_RESPONSES, GatewayError
from gateway.settings import Settings

pytestmark = pytest.mark.fast

# Answers about the path and method rather than about an operation: not listed among a route's responses.
ROUTING_ERRORS = {"not_found", "method_not_allowed"}
# A bug in the gateway: the client raises it as a plain ApiError, with its type, message and request id.
UNCLASSED_IN_CLIENT = {"internal_error"}


def gateway_errors() -> dict[str, type[GatewayError]]:
    """Every error ``type`` the API can answer, with its class: the whole ``GatewayError`` hierarchy."""
    kinds, found = [GatewayError], {}
    while kinds:
        kind = kinds.pop()
        found[kind.error_type] = kind
        kinds.extend(kind.__subclasses__())
    return found


def readme_error_table() -> dict[str, int]:
    """The README's error table (the one whose columns are status, type, when), parsed as Markdown."""
    tokens = MarkdownIt("commonmark").enable("table").parse((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    tables, rows, cells, in_cell = [], [], [], False
    for token in tokens:
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            cells = []
        elif token.type in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = token.type.endswith("_open")
        elif token.type == "inline" and in_cell:
            cells.append(token.content)
        elif token.type == "tr_close":
            rows.append(cells)
        elif token.type == "table_close":
            tables.append(rows)
    (errors,) = [rows for rows in tables if rows[0] == ["status", "type", "when"]]
    return {error_type.strip("`"): int(status) for status, error_type, _ in errors[1:]}


def test_the_readme_error_table_lists_every_error_type_with_its_status() -> None:
    assert readme_error_table() == {error_type: kind.status_code for error_type, kind in gateway_errors().items()}


@pytest.mark.parametrize("path", ["/v1/sentiment", "/v1/sentiment/batch"])
def test_openapi_lists_every_status_a_scoring_call_can_answer_with_the_error_body(path: str) -> None:
    schema = create_app(Settings(api_key_hashes="", rate_limit="")).openapi()
    responses = schema["paths"][path]["post"]["responses"]
    statuses = {kind.status_code for error_type, kind in gateway_errors().items() if error_type not in ROUTING_ERRORS}
    assert set(ERROR_RESPONSES) == statuses
    assert set(responses) == {"200"} | {str(status) for status in statuses}
    for status in statuses:
        assert responses[str(status)]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }


def test_the_client_has_a_class_for_every_error_a_scoring_call_can_meet() -> None:
    scoring_errors = set(gateway_errors()) - ROUTING_ERRORS - UNCLASSED_IN_CLIENT
    assert set(client_errors.ERROR_CLASSES) == scoring_errors


@pytest.mark.parametrize("error_type", sorted(gateway_errors()))
def test_the_client_reads_each_gateway_error_as_the_gateway_sends_it(error_type: str) -> None:
    kind = gateway_errors()[error_type]
    sent = kind("what went wrong")
    sent.field = "texts[2]"
    headers = {**sent.headers, middleware.REQUEST_ID_HEADER.decode(): "trace-7", "Retry-After": "2"}
    response = httpx.Response(kind.status_code, json=sent.body().model_dump(), headers=headers)

    error = client_errors.error_from_response(response)
    assert type(error) is client_errors.ERROR_CLASSES.get(error_type, client_errors.ApiError)
    assert (error.status_code, error.type, error.message, error.field) == (
        kind.status_code,
        error_type,
        sent.message,
        sent.field,
    )
    assert error.request_id == "trace-7", "the request id comes from the X-Request-ID header on every answer"
    assert error.retry_after_s == 2
