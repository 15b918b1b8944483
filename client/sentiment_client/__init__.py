"""Typed client and bulk-scoring CLI for the sentiment gateway."""

from importlib.metadata import version

from sentiment_client.client import (
    API_KEY_ENV,
    DEFAULT_URL,
    AnalysisOutcome,
    AsyncSentimentClient,
    Outcome,
    SentimentClient,
)
from sentiment_client.errors import (
    ApiError,
    InferenceFailed,
    InferenceTimeout,
    InvalidInput,
    ModelUnavailable,
    Overloaded,
    RateLimited,
    SentimentError,
    TransportError,
    Unauthorized,
)
from sentiment_client.models import (
    AnalysisResult,
    Attribution,
    Language,
    LongText,
    Sentence,
    SentimentResult,
    ServiceInfo,
    ServiceLimits,
)
from sentiment_client.retry import RetryEvent, RetryPolicy

__version__ = version("sentiment-client")

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_URL",
    "AnalysisOutcome",
    "AnalysisResult",
    "ApiError",
    "AsyncSentimentClient",
    "Attribution",
    "InferenceFailed",
    "InferenceTimeout",
    "InvalidInput",
    "Language",
    "LongText",
    "ModelUnavailable",
    "Outcome",
    "Overloaded",
    "RateLimited",
    "RetryEvent",
    "RetryPolicy",
    "Sentence",
    "SentimentClient",
    "SentimentError",
    "SentimentResult",
    "ServiceInfo",
    "ServiceLimits",
    "TransportError",
    "Unauthorized",
    "__version__",
]
