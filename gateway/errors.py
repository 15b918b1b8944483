"""One error hierarchy, one JSON body, and one table from error to HTTP status.

Every failure a client can see is a ``GatewayError`` subclass; ``app`` installs handlers that
turn these, FastAPI's validation errors and anything unexpected into the same ``ErrorBody``.
"""

from typing import ClassVar

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    type: str = Field(description="Stable machine-readable kind, e.g. invalid_input, overloaded.")
    message: str = Field(description="What went wrong and what to do about it.")
    field: str | None = Field(None, description="The offending request field (e.g. texts[3]), when there is one.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class GatewayError(Exception):
    """Base of every error the gateway answers with; subclasses fix the status and type."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "internal_error"

    def __init__(self, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> ErrorBody:
        return ErrorBody(error=ErrorDetail(type=self.error_type, message=self.message, field=self.field))


class InvalidInput(GatewayError):
    status_code = 422
    error_type = "invalid_input"


class UnsupportedLanguage(GatewayError):
    """v2 with GATEWAY_UNSUPPORTED_LANGUAGE=refuse: the text is in a language the model was not trained for."""

    status_code = 422
    error_type = "unsupported_language"


class PayloadTooLarge(GatewayError):
    status_code = 413
    error_type = "payload_too_large"


class NotFound(GatewayError):
    status_code = 404
    error_type = "not_found"


class MethodNotAllowed(GatewayError):
    status_code = 405
    error_type = "method_not_allowed"


class Unauthorized(GatewayError):
    status_code = 401
    error_type = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class RateLimited(GatewayError):
    """The caller's quota is spent; ``Retry-After`` says when it refills."""

    status_code = 429
    error_type = "rate_limited"


class Overloaded(GatewayError):
    """No capacity now (the in-flight limit, the token budget, the deadline at the measured rate, or Triton's
    queue is full): slow down and retry after ``Retry-After``."""

    status_code = 429
    error_type = "overloaded"


class ModelUnavailable(GatewayError):
    """Triton cannot be reached or the model is not ready: retry after ``Retry-After``."""

    status_code = 503
    error_type = "model_unavailable"


class InferenceTimeout(GatewayError):
    status_code = 504
    error_type = "inference_timeout"


class InferenceFailed(GatewayError):
    """Triton answered with an error that is not the client's fault."""

    status_code = 502
    error_type = "inference_failed"


class InternalError(GatewayError):
    """A bug: answered without a traceback, with the request id to find it in the logs."""


class ModelMismatch(RuntimeError):
    """The exported metadata and the model Triton serves disagree; the gateway must not start."""


# Shown on every scoring route in OpenAPI, so clients see the error schema up front: every status a scoring call
# can answer (404 and 405 are about the path and method, not an operation's answer).
ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "API keys are on and none, or a wrong one, was sent.",
        413: "Request body over the size limit, or more padded tokens than one request may cost.",
        422: "A field is missing, of the wrong type, empty, or over a limit; `field` names it "
        "(invalid_input). v2 only: a language the model was not trained for, when refused (unsupported_language).",
        429: "Rate limit spent (rate_limited) or no capacity now (overloaded: in-flight limit, token budget, or it "
        "could not finish before its deadline); see Retry-After.",
        500: "A bug in the gateway (internal_error); the message quotes the request id to report.",
        502: "Triton answered with an error that is not the client's fault (inference_failed).",
        503: "Triton unreachable or the model not ready; see Retry-After.",
        504: "Triton did not answer within the deadline.",
    }.items()
}
