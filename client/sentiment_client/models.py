"""Typed answers of the gateway: what ``GET /`` and the sentiment endpoints return."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LongText = Literal["truncate", "windows"]


class SentimentResult(BaseModel):
    """One text's answer, as the gateway sends it."""

    # Fields the gateway adds later are ignored, so an older client keeps working against a newer server.
    model_config = ConfigDict(protected_namespaces=(), extra="ignore", frozen=True)

    label: str = Field(description="The most likely label, or NEUTRAL inside the neutral band.")
    score: float = Field(description="Probability of the most likely of the model's labels.")
    scores: dict[str, float] = Field(description="Probability of every label.")
    truncated: bool = Field(description="True when the text was longer than the model's maximum and was cut.")
    windows: int = Field(1, description="Windows scored: 1, or more with long_text='windows' on a long text.")
    model: str
    model_version: str


class ServiceLimits(BaseModel):
    """Request limits. The defaults are the gateway's own, for a server that does not report them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    max_texts_per_request: int = Field(256, ge=1)
    max_text_chars: int = Field(20_000, ge=1)
    max_body_bytes: int = Field(2_000_000, ge=1024)


class ServiceInfo(BaseModel):
    """``GET /``: what the gateway serves; ``limits`` is absent on gateways older than the client."""

    model_config = ConfigDict(protected_namespaces=(), extra="ignore", frozen=True)

    name: str
    version: str
    model: str
    model_version: str
    labels: list[str]
    max_length: int
    limits: ServiceLimits | None = None


class LabelledScores(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    label: str = Field(description="The most likely label; NEUTRAL when a two-label prediction set holds both.")
    score: float = Field(description="Calibrated probability of the most likely of the model's labels.")
    scores: dict[str, float] = Field(description="Calibrated probability of every label.")


class Sentence(LabelledScores):
    """One sentence of a v2 answer: ``text[start:end]`` of the text sent (offsets count code points)."""

    text: str
    start: int
    end: int


class Language(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str = Field(description="ISO 639-1 code of the most likely language.")
    confidence: float
    supported: bool = Field(description="Whether the served model was trained for it.")


class Attribution(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    word: str
    start: int
    end: int
    weight: float = Field(description="Drop in the winning label's probability when the word is left out.")


class AnalysisResult(LabelledScores):
    """One text's v2 answer (``POST /v2/sentiment``): calibrated label and set, sentences, language, reasons."""

    model_config = ConfigDict(protected_namespaces=(), extra="ignore", frozen=True)

    calibrated: bool
    prediction_set: list[str] = Field(description="One label: confident; more: unsure.")
    sentences: list[Sentence]
    language: Language
    attributions: list[Attribution] | None = Field(None, description="Only when asked with explain=True.")
    truncated: bool
    windows: int = 1
    model: str
    model_version: str
