"""A champion/challenger pair's figures from the gateway's metric samples. Pure: samples in, Figures out.

The samples are what ``prometheus_client.parser`` reads from the gateway's ``/metrics`` (all workers merged:
the gateway runs prometheus_client's multiprocess mode), named as docs/rollouts.md lists them. Counters are
totals since the gateway started, so the figures cover every text the pair has shared since then.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Protocol

from rollout.policy import Figures, VersionFigures

COMPARED = "gateway_compared_texts_total"
AGREEMENTS = "gateway_compared_agreements_total"
SCORE_DELTA = "gateway_compared_score_delta"
LABELS = "gateway_compared_labels_total"
VERSION_SECONDS = "gateway_version_seconds"
VERSION_REQUESTS = "gateway_version_requests_total"


class Sample(Protocol):
    """One sample line: prometheus_client's parser yields these (a NamedTuple with more fields)."""

    name: str
    labels: Mapping[str, str]
    value: float


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """The q-quantile of a histogram given as {upper bound: cumulative count}, as PromQL's histogram_quantile
    computes it: linear within the bucket the rank falls in, the highest finite bound if it falls in +Inf,
    NaN when the histogram is empty."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return math.nan
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _sum(samples: Iterable[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def _buckets(samples: Iterable[Sample], name: str, **labels: str) -> dict[float, float]:
    """{le: count} summed over every series matching ``labels`` (e.g. all roles of one version)."""
    buckets: dict[float, float] = defaultdict(float)
    for sample in samples:
        if sample.name == f"{name}_bucket" and labels.items() <= sample.labels.items():
            buckets[float(sample.labels["le"])] += sample.value
    return dict(buckets)


def label_shift(samples: Iterable[Sample], champion: str, challenger: str) -> float:
    """The largest gap between the two versions' shares of one label on the compared texts (NaN: none yet)."""
    pair = {"champion": champion, "challenger": challenger}
    counts: dict[str, dict[str, float]] = {champion: defaultdict(float), challenger: defaultdict(float)}
    for sample in samples:
        if sample.name == LABELS and pair.items() <= sample.labels.items():
            version = sample.labels.get("version")
            if version in counts:
                counts[version][sample.labels["label"]] += sample.value
    totals = {version: sum(by_label.values()) for version, by_label in counts.items()}
    if not all(totals.values()):
        return math.nan
    labels = set(counts[champion]) | set(counts[challenger])
    shares = {version: {label: counts[version][label] / totals[version] for label in labels} for version in counts}
    return max(abs(shares[challenger][label] - shares[champion][label]) for label in labels)


def version_figures(samples: Iterable[Sample], version: str) -> VersionFigures:
    """A version's requests and p99 over every role it had (answer, shadow): its own pipeline's behaviour.
    Refusals by admission are load, not the model, so they count in neither outcome."""
    return VersionFigures(
        ok=_sum(samples, VERSION_REQUESTS, version=version, outcome="ok"),
        errors=_sum(samples, VERSION_REQUESTS, version=version, outcome="error"),
        p99_s=histogram_quantile(0.99, _buckets(samples, VERSION_SECONDS, version=version)),
    )


def figures_from_samples(samples: Iterable[Sample], champion: str, challenger: str) -> Figures:
    samples = list(samples)
    pair = {"champion": champion, "challenger": challenger}
    delta_count = _sum(samples, f"{SCORE_DELTA}_count", **pair)
    return Figures(
        champion=champion,
        challenger=challenger,
        compared_texts=_sum(samples, COMPARED, **pair),
        agreements=_sum(samples, AGREEMENTS, **pair),
        champion_figures=version_figures(samples, champion),
        challenger_figures=version_figures(samples, challenger),
        mean_score_delta=_sum(samples, f"{SCORE_DELTA}_sum", **pair) / delta_count if delta_count else math.nan,
        p95_score_delta=histogram_quantile(0.95, _buckets(samples, SCORE_DELTA, **pair)),
        label_shift=label_shift(samples, champion, challenger),
    )
