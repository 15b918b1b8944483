"""Request bodies and how texts are split into requests that fit the server's limits: pure functions.

Each text is JSON-encoded once; a body is those bytes joined, so the size of every request is known
exactly before it is sent and no request is refused for its size.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sentiment_client.models import LongText, ServiceLimits


@dataclass(frozen=True)
class ScoringOptions:
    """Per-call choices the gateway accepts on both v1 endpoints."""

    long_text: LongText = "truncate"
    neutral_threshold: float | None = None

    def fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"long_text": self.long_text}
        if self.neutral_threshold is not None:
            fields["neutral_threshold"] = self.neutral_threshold
        return fields


@dataclass(frozen=True)
class AnalysisOptions:
    """Per-call choices of the v2 endpoints (no neutral band there: the prediction set says when unsure)."""

    long_text: LongText = "truncate"
    explain: bool = False

    def fields(self) -> dict[str, object]:
        return {"long_text": self.long_text, "explain": self.explain}


Options = ScoringOptions | AnalysisOptions


def encode_text(text: str) -> bytes:
    """One text as a JSON string. UTF-8 keeps non-ASCII text small; a lone surrogate (no character, so
    not encodable) is sent escaped, for the gateway to name in its answer like any other bad text."""
    try:
        return json.dumps(text, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(text).encode()


def single_body(text: str, options: Options) -> bytes:
    return b'{"text":' + encode_text(text) + b"," + _options_json(options) + b"}"


def batch_body(encoded_texts: Sequence[bytes], options: Options) -> bytes:
    return b'{"texts":[' + b",".join(encoded_texts) + b"]," + _options_json(options) + b"}"


def _options_json(options: Options) -> bytes:
    return json.dumps(options.fields(), separators=(",", ":")).encode()[1:-1]


def plan_requests(
    sizes: Sequence[int], limits: ServiceLimits, options: Options, batch_size: int | None = None
) -> list[range]:
    """Consecutive index ranges, each one request: at most ``batch_size`` (and the server's maximum) texts
    and a body within ``max_body_bytes``. A single text too large for any body gets a request of its own,
    which the gateway refuses with an error naming it."""
    max_count = min(batch_size or limits.max_texts_per_request, limits.max_texts_per_request)
    budget = limits.max_body_bytes - len(batch_body([], options))
    ranges: list[range] = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        separator = 1 if index > start else 0
        if index > start and (index - start == max_count or used + separator + size > budget):
            ranges.append(range(start, index))
            start, used, separator = index, 0, 0
        used += separator + size
    if start < len(sizes):
        ranges.append(range(start, len(sizes)))
    return ranges


def text_index(field: str | None) -> int | None:
    """``texts[3]`` -> 3: the gateway names a bad text of a batch this way; anything else -> None."""
    if field is None or not (field.startswith("texts[") and field.endswith("]")):
        return None
    try:
        return int(field[len("texts[") : -1])
    except ValueError:
        return None
