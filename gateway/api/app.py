"""The FastAPI application: resources made once per worker in the lifespan, routes, middleware, handlers."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi_offline import FastAPIOffline
from starlette.routing import Route
from tritonclient.utils import InferenceServerException

from contract.drift_profile import TrafficProfile
from contract.metadata import ServingMetadata
from contract.versions import NoServedVersion, resolve_version
from gateway import __version__
from gateway.api import error_handlers, playground
from gateway.api.admission import AdmissionMiddleware
from gateway.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from gateway.api.routes import router
from gateway.api.routes_v2 import router as router_v2
from gateway.errors import ModelMismatch
from gateway.pipeline.analysis import Analyzer
from gateway.pipeline.cache import MemoryCache, RedisCache, ResultCache
from gateway.pipeline.drift import DriftMonitor
from gateway.pipeline.service import SentimentService
from gateway.pipeline.tokenization import TextEncoder
from gateway.pipeline.triton import TritonModel
from gateway.settings import Settings

logger = logging.getLogger("gateway")


def served_version(settings: Settings) -> tuple[Path, str]:
    """The version folder to serve; none exported yet stops the start-up with what to run."""
    try:
        return resolve_version(settings.model_repository, settings.model_name, settings.model_version)
    except NoServedVersion as error:
        raise ModelMismatch(
            f"{error} (GATEWAY_MODEL_REPOSITORY / GATEWAY_MODEL_VERSION); run `make export` first"
        ) from error


def make_cache(settings: Settings) -> ResultCache | None:
    if settings.cache_size == 0:
        return None
    if settings.redis_url:
        return RedisCache(settings.redis_url, settings.cache_ttl_s)
    return MemoryCache(settings.cache_size, settings.cache_ttl_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    version_dir, version = served_version(settings)
    metadata = ServingMetadata.read(version_dir)
    encoder = TextEncoder(
        version_dir / metadata.tokenizer_dir / "tokenizer.json", metadata.max_length, settings.window_stride
    )
    triton = TritonModel(settings, metadata, version)
    try:
        await triton.verify()
    except ModelMismatch:
        await triton.close()
        raise
    except (aiohttp.ClientError, OSError, InferenceServerException) as error:
        # Not fatal: Triton may simply start later. /readyz answers 503 and checks again until it is there.
        logger.warning("Triton at %s not reachable yet (%s); will verify when it is", settings.triton_url, error)
    cache = make_cache(settings)
    reference = TrafficProfile.read(version_dir)
    drift = DriftMonitor(reference, settings.drift_window, settings.drift_min_texts) if reference else None
    if drift is None:
        logger.info("no reference profile in %s: drift gauges off (export with --reference-data)", version_dir)
    service = SentimentService(metadata, version, encoder, triton, cache, drift, settings)
    app.state.service = service
    app.state.analyzer = Analyzer(service)
    logger.info("serving %s version %s from %s via %s", metadata.model_name, version, version_dir, settings.triton_url)
    try:
        yield
    finally:
        await service.close()
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
