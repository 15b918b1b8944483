"""Request and response bodies of the public API (also what OpenAPI shows)."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

TEXT_EXAMPLE = "I love this movie, it was wonderful."


def _reject_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must contain at least one non-whitespace character")
    return text


# Per-text rules that do not depend on configuration; the configurable limits are in ``limits``.
Text = Annotated[str, AfterValidator(_reject_blank)]


class SentimentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": TEXT_EXAMPLE}]})

    text: Text = Field(description="Text to classify. Longer than the model's maximum, it is truncated.")


class BatchSentimentRequest(BaseModel):
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
                    "model": "sentiment",
                    "model_version": "1",
                }
            ]
        },
    )

    label: str = Field(description="The most likely label.")
    score: float = Field(ge=0, le=1, description="Probability of `label`.")
    scores: dict[str, float] = Field(description="Probability of every label (softmax of the logits).")
    truncated: bool = Field(description="True when the text was longer than the model's maximum and was cut.")
    model: str
    model_version: str


class BatchSentimentResponse(BaseModel):
    results: list[SentimentResult] = Field(description="One result per input text, in input order.")


class ServiceInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str
    model: str
    model_version: str
    labels: list[str]
    max_length: int
    endpoints: dict[str, str]


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready", "not_ready"])
    reason: str | None = None
