"""The FastAPI application: resources made once per worker in the lifespan, routes, middleware, handlers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi_offline import FastAPIOffline
from starlette.routing import Route

from gateway import __version__
from gateway.api import error_handlers, playground
from gateway.api.admission import AdmissionMiddleware
from gateway.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from gateway.api.routes import router
from gateway.api.routes_v2 import router as router_v2
from gateway.lifecycle.rollout import Rollout
from gateway.pipeline.cache import MemoryCache, RedisCache, ResultCache
from gateway.settings import Settings


def make_cache(settings: Settings) -> ResultCache | None:
    if settings.cache_size == 0:
        return None
    if settings.redis_url:
        return RedisCache(settings.redis_url, settings.cache_ttl_s)
    return MemoryCache(settings.cache_size, settings.cache_ttl_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    cache = make_cache(settings)
    try:
        # One service per version the rollout state names (the default version alone without one).
        app.state.rollout = await Rollout.start(settings, cache)
    except BaseException:
        if cache:
            await cache.close()
        raise
    try:
        yield
    finally:
        await app.state.rollout.close()
        if cache:
            await cache.close()


def public_endpoints(app: FastAPI) -> list[str]:
    """``METHOD path`` of every route a client calls, read from the app itself so the list cannot go stale.

    Left out: the docs' static assets (a mount) and Swagger UI's OAuth2 redirect, which only the docs page calls.
    """
    routes = (context.original_route for context in iter_route_contexts(app.routes))
    return [
        f"{method} {route.path}"
        for route in routes
        if isinstance(route, Route) and route.path != app.swagger_ui_oauth2_redirect_url
        for method in sorted(route.methods - {"HEAD"})
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # /docs and /redoc load Swagger UI and ReDoc from the gateway itself (fastapi-offline ships them),
    # so the docs work in an offline browser or a locked-down cluster.
    app = FastAPIOffline(
        title="Sentiment gateway",
        version=__version__,
        description="Sentiment analysis with DistilBERT on NVIDIA Triton. Every error has the same JSON body.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    app.include_router(router_v2)
    app.include_router(playground.router)
    app.state.endpoints = public_endpoints(app)
    error_handlers.install(app)
    # Added innermost first. Outermost, the request context, so even refusals carry a request id and
    # are counted; then admission (key, quota, permit), which is cheaper than reading a body.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AdmissionMiddleware, settings=settings)
    app.add_middleware(RequestContextMiddleware)
    return app
