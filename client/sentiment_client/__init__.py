"""Typed client and bulk-scoring CLI for the sentiment gateway."""

from importlib.metadata import version

from sentiment_client.client import API_KEY_ENV, DEFAULT_URL, AsyncSentimentClient, Outcome, SentimentClient
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
from sentiment_client.models import LongText, SentimentResult, ServiceInfo, ServiceLimits
from sentiment_client.retry import RetryEvent, RetryPolicy

__version__ = version("sentiment-client")

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_URL",
    "ApiError",
    "AsyncSentimentClient",
    "InferenceFailed",
    "InferenceTimeout",
    "InvalidInput",
    "LongText",
    "ModelUnavailable",
    "Outcome",
    "Overloaded",
    "RateLimited",
    "RetryEvent",
    "RetryPolicy",
    "SentimentClient",
    "SentimentError",
    "SentimentResult",
    "ServiceInfo",
    "ServiceLimits",
    "TransportError",
    "Unauthorized",
    "__version__",
]
