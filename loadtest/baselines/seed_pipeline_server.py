"""BASELINE ONLY: the seed-style sentiment server users run today, kept to measure what we improve on.

A FastAPI app that calls a ``transformers`` text-classification pipeline in PyTorch once per
request, from FastAPI's thread pool (plain ``def`` endpoints), with no batching across requests and
no bucketing. It answers the same ``POST /v1/sentiment`` and ``/v1/sentiment/batch`` routes as the
gateway (label and score only), so one client measures both. Do not deploy it.

    SEED_BASELINE_MODEL=build/bench/checkpoints/shape-true \
        uvicorn loadtest.baselines.seed_pipeline_server:create_app --factory --host 127.0.0.1 --port 9000
"""

import os

from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

MODEL_ENV = "SEED_BASELINE_MODEL"


class TextIn(BaseModel):
    text: str


class TextsIn(BaseModel):
    texts: list[str]


class LabelOut(BaseModel):
    label: str
    score: float


class LabelsOut(BaseModel):
    results: list[LabelOut]


def create_app(model: str | None = None) -> FastAPI:
    """The app for checkpoint ``model`` (default: ``$SEED_BASELINE_MODEL``), loaded at start-up like the seed."""
    model = model or os.environ.get(MODEL_ENV)
    if not model:
        raise RuntimeError(f"set {MODEL_ENV} to a transformers checkpoint folder")
    # Truncation on: without it the pipeline fails on texts over 512 tokens, which the gateway accepts.
    classifier = pipeline("text-classification", model=model, tokenizer=model, device=-1, truncation=True)
    app = FastAPI(title="seed-style sentiment baseline (benchmark only)")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/sentiment")
    def sentiment(body: TextIn) -> LabelOut:
        (result,) = classifier(body.text)
        return LabelOut(label=result["label"], score=float(result["score"]))

    @app.post("/v1/sentiment/batch")
    def sentiment_batch(body: TextsIn) -> LabelsOut:
        return LabelsOut(results=[LabelOut(label=r["label"], score=float(r["score"])) for r in classifier(body.texts)])

    return app
