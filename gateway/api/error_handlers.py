"""Turn every exception into the one error body, with the status from ``errors``.

Validation errors name the field the way the client wrote it (``texts[3]``, not
``('body', 'texts', 3)``). Unexpected errors are answered by ``RequestContextMiddleware``, which
still knows the request id to quote.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.errors import GatewayError, InvalidInput, MethodNotAllowed, NotFound, PayloadTooLarge

logger = logging.getLogger("gateway.errors")

# Starlette raises HTTPException for these; the field, where one is implied, travels with the status.
HTTP_STATUS_ERRORS: dict[int, tuple[type[GatewayError], str | None]] = {
    400: (InvalidInput, "body"),  # FastAPI's answer to a body it cannot decode (e.g. not UTF-8)
    404: (NotFound, None),
    405: (MethodNotAllowed, None),
    413: (PayloadTooLarge, "body"),
    422: (InvalidInput, None),
}


def field_name(location: tuple[str | int, ...]) -> str:
    """``('body', 'texts', 3)`` -> ``texts[3]``; the bare body is ``body``."""
    parts = [part for part in location if part != "body"] or ["body"]
    name = str(parts[0])
    for part in parts[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def validation_error(error: RequestValidationError) -> InvalidInput:
    first = error.errors()[0]
    field = field_name(tuple(first.get("loc", ())))
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        field = "body"
        message = f"body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    elif first.get("type") == "model_attributes_type":
        # FastAPI hands over raw bytes when the content type is not JSON (curl -d sends a form type).
        sent_bytes = isinstance(first.get("input"), bytes)
        message = "body must be a JSON object" + (", sent with Content-Type: application/json" if sent_bytes else "")
    else:
        message = f"{field}: {message}"
    if (others := len(error.errors()) - 1) > 0:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return InvalidInput(message, field=field)


def respond(error: GatewayError) -> JSONResponse:
    return JSONResponse(error.body().model_dump(), status_code=error.status_code, headers=error.headers)


async def _gateway_error(_: Request, error: GatewayError) -> JSONResponse:
    if error.status_code >= 500:
        logger.warning("answered %s: %s", error.status_code, error.message)
    return respond(error)


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    return respond(validation_error(error))


async def _http_error(_: Request, error: HTTPException) -> JSONResponse:
    if error.status_code not in HTTP_STATUS_ERRORS:
        body = {"error": {"type": "http_error", "message": str(error.detail), "field": None}}
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)
    kind, field = HTTP_STATUS_ERRORS[error.status_code]
    return respond(kind(str(error.detail), field=field, headers=error.headers))


def install(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
