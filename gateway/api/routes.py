"""HTTP routes: each takes the service from a dependency, calls it, returns a typed body."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from gateway import __version__, metrics
from gateway.api.limits import check_text_limits
from gateway.errors import ERROR_RESPONSES
from gateway.pipeline.service import SentimentService
from gateway.schemas import (
    BatchSentimentRequest,
    BatchSentimentResponse,
    Health,
    Readiness,
    SentimentRequest,
    SentimentResult,
    ServiceInfo,
    ServiceLimits,
)

router = APIRouter()


# async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request for nothing.
async def get_service(request: Request) -> SentimentService:
    return request.app.state.service


Service = Annotated[SentimentService, Depends(get_service)]


@router.post("/v1/sentiment", response_model=SentimentResult, responses=ERROR_RESPONSES, tags=["sentiment"])
async def classify_one(body: SentimentRequest, service: Service) -> SentimentResult:
    """Classify one text."""
    check_text_limits([body.text], service.settings, field="text")
    return (await service.classify([body.text], body, route="/v1/sentiment"))[0]


@router.post(
    "/v1/sentiment/batch", response_model=BatchSentimentResponse, responses=ERROR_RESPONSES, tags=["sentiment"]
)
async def classify_batch(body: BatchSentimentRequest, service: Service) -> BatchSentimentResponse:
    """Classify several texts; results come back in input order. Batches over Triton's limit are split."""
    check_text_limits(body.texts, service.settings, field="texts")
    return BatchSentimentResponse(results=await service.classify(body.texts, body, route="/v1/sentiment/batch"))


@router.get("/", response_model=ServiceInfo, tags=["service"])
async def service_info(service: Service, request: Request) -> ServiceInfo:
    """What this gateway serves and where."""
    return ServiceInfo(
        name="sentiment-gateway",
        version=__version__,
        model=service.metadata.model_name,
        model_version=service.version,
        labels=service.metadata.labels,
        max_length=service.metadata.max_length,
        limits=ServiceLimits(
            max_texts_per_request=service.settings.max_texts_per_request,
            max_text_chars=service.settings.max_text_chars,
            max_body_bytes=service.settings.max_body_bytes,
        ),
        endpoints=request.app.state.endpoints,
    )


@router.get("/healthz", response_model=Health, tags=["service"])
async def healthz() -> Health:
    """The process is alive (says nothing about Triton: a liveness probe must not restart us for its faults)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Triton unreachable or the model not ready."}},
    tags=["service"],
)
async def readyz(service: Service) -> Response:
    """200 only while Triton says the model is ready, so a load balancer sends traffic only then."""
    ready, reason = await service.triton.ready()
    if ready:
        return JSONResponse(Readiness(status="ready").model_dump())
    return JSONResponse(
        Readiness(status="not_ready", reason=reason).model_dump(),
        status_code=503,
        headers={"Retry-After": str(service.settings.retry_after_s)},
    )


@router.get("/metrics", tags=["service"], response_class=Response)
async def prometheus_metrics() -> Response:
    """Prometheus exposition of every worker's metrics."""
    body, content_type = metrics.render_latest()
    return Response(body, media_type=content_type)
