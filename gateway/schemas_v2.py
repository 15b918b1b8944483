"""Request and response bodies of API v2: per-sentence sentiment, calibrated sets, language, explanations."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas import TEXT_EXAMPLE, Text

SCORES_EXAMPLE = {"NEGATIVE": 0.0121, "POSITIVE": 0.9879}


class AnalysisOptions(BaseModel):
    """Per-request choices, shared by both v2 endpoints."""

    long_text: Literal["truncate", "windows"] = Field(
        "truncate",
        description="For text over the model's maximum: `truncate` scores the beginning; `windows` scores the "
        "whole text in overlapping windows, combining their logits weighted by token count.",
    )
    explain: bool = Field(
        False,
        description="Add `attributions`: each word's weight is the drop in the winning label's probability when "
        "the word is left out (occlusion). Costs one more model row per word (GATEWAY_EXPLAIN_MAX_WORDS).",
    )


class AnalysisRequest(AnalysisOptions):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": TEXT_EXAMPLE}, {"text": TEXT_EXAMPLE, "explain": True}]},
    )

    text: Text = Field(description="Text to analyse. Longer than the model's maximum: see `long_text`.")


class BatchAnalysisRequest(AnalysisOptions):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"texts": [TEXT_EXAMPLE, "The first act drags. The rest is a triumph."]}]},
    )

    texts: list[Text] = Field(min_length=1, description="Texts to analyse; answers come back in the same order.")


class LabelledScores(BaseModel):
    label: str = Field(
        description="The most likely label; NEUTRAL for a two-label model whose prediction set holds both."
    )
    score: float = Field(ge=0, le=1, description="Calibrated probability of the most likely of the model's labels.")
    scores: dict[str, float] = Field(description="Calibrated probability of every label.")


class SentenceResult(LabelledScores):
    text: str = Field(description="The sentence, exactly `text[start:end]` of the request's text.")
    start: int = Field(ge=0, description="Offset of its first character in the request's text (code points).")
    end: int = Field(ge=1, description="Offset just past its last character.")


class LanguageResult(BaseModel):
    code: str = Field(description="ISO 639-1 code of the most likely language (fastText lid.176).")
    confidence: float = Field(ge=0, le=1, description="The identifier's probability for it.")
    supported: bool = Field(description="Whether the model was trained for it (the export's supported_languages).")


class Attribution(BaseModel):
    word: str = Field(description="The word, exactly `text[start:end]`.")
    start: int = Field(ge=0)
    end: int = Field(ge=1)
    weight: float = Field(
        description="Winning label's probability with the word minus without it: positive supports the answer."
    )


class AnalysisResult(LabelledScores):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "label": "POSITIVE",
                    "score": 0.9879,
                    "scores": SCORES_EXAMPLE,
                    "calibrated": True,
                    "prediction_set": ["POSITIVE"],
                    "sentences": [
                        {
                            "text": TEXT_EXAMPLE,
                            "start": 0,
                            "end": len(TEXT_EXAMPLE),
                            "label": "POSITIVE",
                            "score": 0.9879,
                            "scores": SCORES_EXAMPLE,
                        }
                    ],
                    "language": {"code": "en", "confidence": 0.9641, "supported": True},
                    "attributions": None,
                    "truncated": False,
                    "windows": 1,
                    "model": "sentiment",
                    "model_version": "1",
                }
            ]
        },
    )

    calibrated: bool = Field(description="True when the export fitted a temperature (--calibration-data).")
    prediction_set: list[str] = Field(
        description="Labels whose calibrated probability passes the split-conformal threshold for GATEWAY_COVERAGE, "
        "most probable first. One label: confident; more: unsure. Without calibration: the winner alone."
    )
    sentences: list[SentenceResult] = Field(description="Every sentence, in order, each scored on its own.")
    language: LanguageResult
    attributions: list[Attribution] | None = Field(
        None, description="Per-word occlusion weights, in text order; only with `explain: true`."
    )
    truncated: bool = Field(description="True when the text was longer than the model's maximum and was cut.")
    windows: int = Field(ge=1, description="Windows scored: 1, or more with long_text=windows on a long text.")
    model: str
    model_version: str


class BatchAnalysisResponse(BaseModel):
    results: list[AnalysisResult] = Field(description="One result per input text, in input order.")
