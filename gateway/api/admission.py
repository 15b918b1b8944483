"""Who gets in, how often, and how many at once: API key -> rate limit -> in-flight permit.

Runs before the body is read, so a refused request costs almost nothing, and answers at once:
a request the gateway cannot serve within its deadline is better refused than queued.
"""

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import metrics
from gateway.api.auth import ApiKeyAuthenticator
from gateway.api.error_handlers import respond
from gateway.api.rate_limit import Quota, RateLimiter
from gateway.errors import GatewayError, Overloaded
from gateway.settings import Settings

logger = logging.getLogger("gateway.api.admission")

INFERENCE_PREFIX = "/v1/"


class AdmissionMiddleware:
    """One instance per worker; its permit count is that worker's in-flight requests."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.authenticator = ApiKeyAuthenticator(settings.accepted_key_digests)
        self.rate_limiter = RateLimiter(settings.rate_limit, settings.redis_url) if settings.rate_limit else None
        self.public_paths = settings.public_path_set
        self.max_in_flight = settings.max_in_flight
        self.retry_after_s = settings.retry_after_s
        self.in_flight = 0

    def _caller(self, scope: Scope) -> str:
        if self.authenticator.enabled:
            return "key:" + self.authenticator.authenticate(dict(scope["headers"]))
        client = scope.get("client")
        return "address:" + (client[0] if client else "unknown")

    def try_acquire_permit(self) -> None:
        """Take an in-flight permit or raise ``Overloaded``; no await between the check and the take."""
        if self.in_flight >= self.max_in_flight:
            raise Overloaded(
                f"the gateway is at its limit of {self.max_in_flight} requests in flight per worker; retry shortly",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.in_flight += 1
        metrics.IN_FLIGHT.inc()

    def release_permit(self) -> None:
        self.in_flight -= 1
        metrics.IN_FLIGHT.dec()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        needs_permit = scope["path"].startswith(INFERENCE_PREFIX)
        try:
            caller = self._caller(scope)
            # The canary split is sticky per caller, the same identity the quota uses (gateway.lifecycle).
            scope.setdefault("state", {})["caller"] = caller
            quota = await self.rate_limiter.hit(caller) if self.rate_limiter else None
            if needs_permit:
                self.try_acquire_permit()
        except GatewayError as refusal:
            metrics.REFUSED.labels(reason=refusal.error_type).inc()
            await respond(refusal)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, _with_quota_headers(send, quota))
        finally:
            if needs_permit:
                self.release_permit()


def _with_quota_headers(send: Send, quota: Quota | None) -> Send:
    if quota is None:
        return send

    async def send_with_quota(message: dict) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = [*message["headers"], *quota.headers()]
        await send(message)

    return send_with_quota
