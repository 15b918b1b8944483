"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a copy per request)."""

import asyncio
import logging
import os
import time

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import metrics
from gateway.api.error_handlers import respond
from gateway.errors import InternalError, PayloadTooLarge
from gateway.logs import REQUEST_ID
from gateway.pipeline.batching import ON_BULK

logger = logging.getLogger("gateway.access")

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID_LENGTH = 128
# The access log's and the latency metric's status for a request whose client left before its answer (nginx's).
CLIENT_CLOSED_REQUEST = 499
# A request still working this long after its body arrived starts watching for its client's disconnect. Most are
# answered sooner and never pay for the watching task: one for every request cost the worker 0.1-0.2 ms of CPU
# per request (paired runs, c=64), up to 15% of the full stack's throughput. A client that left earlier is noticed
# at this point: its rows wait in the queue at most this long, a fraction of any deadline.
WATCH_AFTER_S = 0.25


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1").strip()
            if 0 < len(text) <= MAX_REQUEST_ID_LENGTH and text.isprintable():
                return text
    return None


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route a request was meant for, never the raw path (label cardinality stays bounded).

    Routing records it on the requests it reaches; a refusal answered before routing (413, 401, 429) and the
    routes Starlette does not record (a mount) are resolved the way the router would, from the path as it
    arrived (``root_path`` before a mount extended it): a full match, else a path that matches with another
    method (405). A path no route matches is ``unmatched``.
    """
    route = scope.get("route")
    if route is None:
        arrived = {"type": "http", "path": scope["path"], "root_path": root_path, "method": scope["method"]}
        # The app's routes with included routers flattened, in the order the router tries them.
        for candidate in (context.original_route for context in iter_route_contexts(scope["app"].routes)):
            match, _ = candidate.matches(arrived)
            if match is Match.FULL:
                route = candidate
                break
            if match is Match.PARTIAL and route is None:
                route = candidate
    return getattr(route, "path", "unmatched")


class DisconnectWatch:
    """Cancels a request's handler when its client disconnects before the answer, so its queued rows are dropped.

    Once the app has read the whole body and worked ``WATCH_AFTER_S`` on it, or at once when the coalescer finds
    it bulk (``start_now``, through ``ON_BULK``), one task waits on the server's
    ``receive`` (Django's ``listen_for_disconnect``): uvicorn answers it with ``http.disconnect`` only when the
    connection is lost (at once, if it already was) or the response is complete, so the wait costs nothing while
    the request works, and no polling loop runs. A body-less request the app never reads (GET) watches nothing.
    """

    def __init__(self, receive: Receive) -> None:
        self.server_receive = receive
        self.handler = asyncio.current_task()
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task | None = None
        self.answered = False  # the response's last body message is on its way: a disconnect now is the normal end
        self.client_left = False

    async def receive(self) -> Message:
        message = await self.server_receive()
        if message["type"] == "http.request" and not message.get("more_body", False) and self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(WATCH_AFTER_S, self._start)
        return message

    def _start(self) -> None:
        if not self.answered and self.task is None:
            self.task = asyncio.create_task(self._watch())

    def start_now(self) -> None:
        """Watch from now on: the request is bulk, and its rows must not reach Triton once its client is gone."""
        if self.timer is not None:  # the body has been read: the server's receive now says only disconnects
            self.timer.cancel()
            self._start()

    async def _watch(self) -> None:
        message = await self.server_receive()
        if message["type"] == "http.disconnect" and not self.answered and self.handler is not None:
            self.client_left = True
            self.handler.cancel()

    def took_the_cancel(self) -> bool:
        """After a ``CancelledError`` in the handler: True when it was ours (the client left), and it is undone."""
        if self.client_left and self.handler is not None:
            self.handler.uncancel()
            return True
        return False

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.task is not None:
            self.task.cancel()


class RequestContextMiddleware:
    """Request id (accepted from ``X-Request-ID`` or made up, always returned), access log, request metrics,
    and the cancellation of a request whose client left (``DisconnectWatch``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_request_id(scope) or os.urandom(16).hex()
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500  # if the app dies before answering, that is what the client gets
        response_started = False
        watch = DisconnectWatch(receive)

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"].append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                watch.answered = True  # before sending: the server ends the watcher's wait as it completes
            await send(message)

        on_bulk = ON_BULK.set(watch.start_now)
        try:
            await self.app(scope, watch.receive, send_with_id)
        except asyncio.CancelledError:
            if not watch.took_the_cancel():
                raise
            status = CLIENT_CLOSED_REQUEST  # nobody to answer: the handler's work was dropped
        except Exception:
            # A bug. Answer here, where the request id is still known, and never with the traceback.
            logger.exception("unexpected error")
            if not response_started:
                error = InternalError(f"internal error; quote request id {request_id} when reporting it")
                await respond(error)(scope, receive, send_with_id)
        finally:
            watch.stop()
            elapsed = time.perf_counter() - started
            metrics.REQUEST_LATENCY.labels(
                route=route_template(scope, root_path), method=scope["method"], status=str(status)
            ).observe(elapsed)
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            ON_BULK.reset(on_bulk)
            REQUEST_ID.reset(token)


class BodySizeLimitMiddleware:
    """413 for bodies over the limit, decided from Content-Length before reading, or while streaming."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"request body is larger than {self.max_body_bytes} bytes (GATEWAY_MAX_BODY_BYTES)", field="body"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await respond(self._too_large())(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # FastAPI re-raises HTTPException from body reading as it is; our handler formats it.
                    raise HTTPException(413, detail=self._too_large().message)
            return message

        await self.app(scope, counting_receive, send)
