"""API v2 routes: per-sentence sentiment, calibrated prediction sets, language and explanations."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway.api.limits import check_text_limits
from gateway.errors import ERROR_RESPONSES
from gateway.pipeline.analysis import Analyzer
from gateway.schemas_v2 import AnalysisRequest, AnalysisResult, BatchAnalysisRequest, BatchAnalysisResponse

router = APIRouter()


async def get_analyzer(request: Request) -> Analyzer:
    return request.app.state.analyzer


AnalyzerDependency = Annotated[Analyzer, Depends(get_analyzer)]


@router.post("/v2/sentiment", response_model=AnalysisResult, responses=ERROR_RESPONSES, tags=["sentiment v2"])
async def analyze_one(body: AnalysisRequest, analyzer: AnalyzerDependency) -> AnalysisResult:
    """Analyse one text: calibrated label and prediction set, sentences, language, and attributions on request."""
    check_text_limits([body.text], analyzer.settings, field="text")
    return (await analyzer.analyze([body.text], body, route="/v2/sentiment"))[0]


@router.post(
    "/v2/sentiment/batch", response_model=BatchAnalysisResponse, responses=ERROR_RESPONSES, tags=["sentiment v2"]
)
async def analyze_batch(body: BatchAnalysisRequest, analyzer: AnalyzerDependency) -> BatchAnalysisResponse:
    """Analyse several texts; results come back in input order, all their rows scored in one pass."""
    check_text_limits(body.texts, analyzer.settings, field="texts")
    return BatchAnalysisResponse(results=await analyzer.analyze(body.texts, body, route="/v2/sentiment/batch"))
