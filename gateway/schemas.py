"""Request and response bodies of the public API (also what OpenAPI shows)."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

TEXT_EXAMPLE = "I love this movie, it was wonderful."


def _check_text(text: str) -> str:
    if not text.strip():
        raise ValueError("must contain at least one non-whitespace character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # JSON may spell a lone surrogate ("\ud800"); it is no character, and no tokenizer accepts it.
        raise ValueError("must be valid Unicode (no lone surrogate code points)") from None
    return text


# Per-text rules that do not depend on configuration; the configurable limits are in ``limits``.
Text = Annotated[str, AfterValidator(_check_text)]


class ScoringOptions(BaseModel):
    """Per-request choices, shared by both endpoints."""

    long_text: Literal["truncate", "windows"] = Field(
        "truncate",
        description="For text over the model's maximum: `truncate` scores the beginning; `windows` scores the "
        "whole text in overlapping windows, combining their logits weighted by token count.",
    )
    neutral_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="With a two-label model, answer NEUTRAL when the winning score is under this (a confidence "
        "band, not a trained class; raw scores are still returned). Default: the server's setting.",
    )


class SentimentRequest(ScoringOptions):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": TEXT_EXAMPLE}, {"text": TEXT_EXAMPLE, "neutral_threshold": 0.8}]},
    )

    text: Text = Field(description="Text to classify. Longer than the model's maximum: see `long_text`.")


class BatchSentimentRequest(ScoringOptions):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"texts": [TEXT_EXAMPLE, "This was a terrible waste of time."]}]},
    )

    texts: list[Text] = Field(min_length=1, description="Texts to classify; answers come back in the same order.")


class SentimentResult(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "label": "POSITIVE",
                    "score": 0.9987,
                    "scores": {"NEGATIVE": 0.0013, "POSITIVE": 0.9987},
                    "truncated": False,
                    "windows": 1,
                    "model": "sentiment",
                    "model_version": "1",
                }
            ]
        },
    )

    label: str = Field(description="The most likely label, or NEUTRAL inside the neutral band.")
    score: float = Field(ge=0, le=1, description="Probability of the most likely of the model's labels.")
    scores: dict[str, float] = Field(description="Probability of every label (softmax of the logits).")
    truncated: bool = Field(description="True when the text was longer than the model's maximum and was cut.")
    windows: int = Field(ge=1, description="Windows scored: 1, or more with long_text=windows on a long text.")
    model: str
    model_version: str


class BatchSentimentResponse(BaseModel):
    results: list[SentimentResult] = Field(description="One result per input text, in input order.")


class ServiceLimits(BaseModel):
    """The request limits, so a client can split its work to fit without a refused request first."""

    max_texts_per_request: int = Field(description="Texts per batch request (GATEWAY_MAX_TEXTS_PER_REQUEST).")
    max_text_chars: int = Field(description="Characters per text (GATEWAY_MAX_TEXT_CHARS).")
    max_body_bytes: int = Field(description="Request body size in bytes (GATEWAY_MAX_BODY_BYTES).")


class RolloutInfo(BaseModel):
    """The rollout state this worker serves (contract.rollout), and why the file's latest one was refused, if it was."""

    champion: str = Field(description="The version that answers outside the canary share.")
    challenger: str | None = Field(description="The version tried beside it, or null.")
    mode: Literal["off", "shadow", "canary"] = Field(
        description="shadow: a share of texts is also scored by the challenger, off the response path; canary: a "
        "share of callers is answered by it."
    )
    percent: float = Field(ge=0, le=100, description="The share of texts (shadow) or callers (canary).")
    previous: str | None = Field(description="The champion before the last promotion (what a rollback returns to).")
    error: str | None = Field(description="Why the state file's latest state is not served (one line), or null.")


class ServiceInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str
    model: str
    model_version: str
    labels: list[str]
    max_length: int
    limits: ServiceLimits
    endpoints: list[str] = Field(description="`METHOD path` of every public endpoint, read from the app's routes.")
    rollout: RolloutInfo = Field(description="Champion, challenger, mode and share; `model_version` is the champion.")


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready", "not_ready"])
    reason: str | None = None
