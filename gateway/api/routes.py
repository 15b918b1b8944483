"""HTTP routes: each takes the rollout from a dependency, calls it, returns a typed body."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from gateway import __version__, metrics
from gateway.api.limits import check_text_limits
from gateway.errors import ERROR_RESPONSES
from gateway.lifecycle.rollout import VERSION_HEADER, Rollout
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
async def get_rollout(request: Request) -> Rollout:
    return request.app.state.rollout


async def get_caller(request: Request) -> str:
    """Who is asking, as admission identified them for the quota (API-key digest, else the client address).

    Admission skips the paths in GATEWAY_PUBLIC_PATHS; listed there, a scoring route splits by address.
    """
    return getattr(request.state, "caller", None) or "address:" + (request.client.host if request.client else "")


CurrentRollout = Annotated[Rollout, Depends(get_rollout)]
Caller = Annotated[str, Depends(get_caller)]
RequestedVersion = Annotated[
    str | None,
    Header(
        alias=VERSION_HEADER,
        description="Answer with this model version (the champion or the challenger; `GET /` names them) instead "
        "of the canary split: how a gate scores a labelled set per version.",
    ),
]


@router.post("/v1/sentiment", response_model=SentimentResult, responses=ERROR_RESPONSES, tags=["sentiment"])
async def classify_one(
    body: SentimentRequest, rollout: CurrentRollout, caller: Caller, version: RequestedVersion = None
) -> SentimentResult:
    """Classify one text."""
    check_text_limits([body.text], rollout.settings, field="text")
    return (await rollout.classify([body.text], body, "/v1/sentiment", caller, version))[0]


@router.post(
    "/v1/sentiment/batch", response_model=BatchSentimentResponse, responses=ERROR_RESPONSES, tags=["sentiment"]
)
async def classify_batch(
    body: BatchSentimentRequest, rollout: CurrentRollout, caller: Caller, version: RequestedVersion = None
) -> BatchSentimentResponse:
    """Classify several texts; results come back in input order. Batches over Triton's limit are split."""
    check_text_limits(body.texts, rollout.settings, field="texts")
    return BatchSentimentResponse(
        results=await rollout.classify(body.texts, body, "/v1/sentiment/batch", caller, version)
    )


@router.get("/", response_model=ServiceInfo, tags=["service"])
async def service_info(rollout: CurrentRollout, request: Request) -> ServiceInfo:
    """What this gateway serves and where; `rollout` says which versions answer and how."""
    champion = rollout.champion.service
    return ServiceInfo(
        name="sentiment-gateway",
        version=__version__,
        model=champion.metadata.model_name,
        model_version=champion.version,
        labels=champion.metadata.labels,
        max_length=champion.metadata.max_length,
        limits=ServiceLimits(
            max_texts_per_request=rollout.settings.max_texts_per_request,
            max_text_chars=rollout.settings.max_text_chars,
            max_body_bytes=rollout.settings.max_body_bytes,
        ),
        endpoints=request.app.state.endpoints,
        rollout=rollout.info(),
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
async def readyz(rollout: CurrentRollout) -> Response:
    """200 only while Triton says the champion is ready, so a load balancer sends traffic only then."""
    ready, reason = await rollout.champion.service.triton.ready()
    if ready:
        return JSONResponse(Readiness(status="ready").model_dump())
    return JSONResponse(
        Readiness(status="not_ready", reason=reason).model_dump(),
        status_code=503,
        headers={"Retry-After": str(rollout.settings.retry_after_s)},
    )


@router.get("/metrics", tags=["service"], response_class=Response)
async def prometheus_metrics() -> Response:
    """Prometheus exposition of every worker's metrics."""
    body, content_type = metrics.render_latest()
    return Response(body, media_type=content_type)
