"""API v2 routes: per-sentence sentiment, calibrated prediction sets, language and explanations."""

from fastapi import APIRouter

from gateway.api.limits import check_text_limits
from gateway.api.routes import Caller, CurrentRollout, RequestedVersion
from gateway.errors import ERROR_RESPONSES
from gateway.schemas_v2 import AnalysisRequest, AnalysisResult, BatchAnalysisRequest, BatchAnalysisResponse

router = APIRouter()


@router.post("/v2/sentiment", response_model=AnalysisResult, responses=ERROR_RESPONSES, tags=["sentiment v2"])
async def analyze_one(
    body: AnalysisRequest, rollout: CurrentRollout, caller: Caller, version: RequestedVersion = None
) -> AnalysisResult:
    """Analyse one text: calibrated label and prediction set, sentences, language, and attributions on request."""
    check_text_limits([body.text], rollout.settings, field="text")
    return (await rollout.analyze([body.text], body, "/v2/sentiment", caller, version))[0]


@router.post(
    "/v2/sentiment/batch", response_model=BatchAnalysisResponse, responses=ERROR_RESPONSES, tags=["sentiment v2"]
)
async def analyze_batch(
    body: BatchAnalysisRequest, rollout: CurrentRollout, caller: Caller, version: RequestedVersion = None
) -> BatchAnalysisResponse:
    """Analyse several texts; results come back in input order, all their rows scored in one pass."""
    check_text_limits(body.texts, rollout.settings, field="texts")
    return BatchAnalysisResponse(
        results=await rollout.analyze(body.texts, body, "/v2/sentiment/batch", caller, version)
    )
