"""Every failure the client raises, and the one table from the gateway's error ``type`` to an exception class.

An ``ApiError`` carries what the gateway said: its error body (``type``, ``message``, ``field``), the HTTP
status, ``Retry-After``, and the request id from the answer's ``X-Request-ID`` header, which the gateway sets
on every answer (the id to quote to the service's operators). Whether a call is tried again is decided by
``RetryPolicy.is_retryable`` from the status, not by the error.
"""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

REQUEST_ID_HEADER = "X-Request-ID"


class SentimentError(Exception):
    """Base of everything this package raises about a call."""

    type: str = "error"

    def __init__(self, message: str, *, field: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.request_id = request_id
        self.attempts = 1  # how many times the call was sent before this error was final

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        request = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{self.type}: {self.message}{where}{request}"


class ApiError(SentimentError):
    """The gateway answered with an error body (or, from a proxy in front of it, a status without one)."""

    def __init__(
        self,
        status_code: int,
        error_type: str,
        message: str,
        *,
        field: str | None = None,
        request_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, field=field, request_id=request_id)
        self.status_code = status_code
        self.type = error_type
        self.retry_after_s = retry_after_s


class InvalidInput(ApiError):
    """422 (or 413): the request, or one of its texts, breaks a rule; never retried."""


class Unauthorized(ApiError):
    """401: API keys are on and the key is missing or wrong (argument or ``SENTIMENT_API_KEY``)."""


class RateLimited(ApiError):
    """429 rate_limited: the caller's quota is spent until ``retry_after_s``."""


class Overloaded(ApiError):
    """429 overloaded: the gateway or Triton has no capacity now."""


class ModelUnavailable(ApiError):
    """503: Triton unreachable or the model not ready."""


class InferenceTimeout(ApiError):
    """504: Triton did not answer within the gateway's deadline."""


class InferenceFailed(ApiError):
    """502: Triton failed on the request for a reason that is not the caller's."""


class TransportError(SentimentError):
    """No HTTP answer at all (connection refused or reset, timeout), after retries."""

    type = "connection_error"


# The gateway's error types (gateway/errors.py) a scoring call can meet; anything else (internal_error, not_found,
# method_not_allowed, a proxy's page) becomes a plain ApiError with the type it had.
ERROR_CLASSES: dict[str, type[ApiError]] = {
    "invalid_input": InvalidInput,
    "payload_too_large": InvalidInput,
    "unsupported_language": InvalidInput,  # v2 with the gateway refusing other languages; the message names it
    "unauthorized": Unauthorized,
    "rate_limited": RateLimited,
    "overloaded": Overloaded,
    "model_unavailable": ModelUnavailable,
    "inference_timeout": InferenceTimeout,
    "inference_failed": InferenceFailed,
}


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds; the HTTP-date form is turned into seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for a non-2xx answer: the gateway's error body where there is one."""
    try:
        detail = response.json()["error"]
        error_type, message, field = str(detail["type"]), str(detail["message"]), detail.get("field")
    except (ValueError, KeyError, TypeError):
        # Not the gateway's body (a proxy, a load balancer): keep the status and the start of what came back.
        error_type, message, field = f"http_{response.status_code}", response.text[:300], None
    kind = ERROR_CLASSES.get(error_type, InvalidInput if response.status_code in (413, 422) else ApiError)
    return kind(
        response.status_code,
        error_type,
        message,
        field=field,
        request_id=response.headers.get(REQUEST_ID_HEADER),
        retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
    )
