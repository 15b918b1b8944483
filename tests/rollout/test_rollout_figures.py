"""A pair's figures from metrics text that prometheus_client itself wrote and parsed, with the gateway's metric
names (rollout-interface.md); and the histogram quantile, which must read buckets as PromQL does."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rollout.figures import figures_from_samples, histogram_quantile
from rollout.policy import Policy, decide
from tests.property_support import PURE

pytestmark = pytest.mark.fast

DELTA_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0)


def exposition(compared: int, agree: int, challenger_errors: int = 0, challenger_s: float = 0.02) -> str:
    """What a gateway that compared ``compared`` texts of pair 1/2 exposes, written by prometheus_client."""
    registry = CollectorRegistry()
    pair = ("champion", "challenger")
    texts = Counter("gateway_compared_texts", "", pair, registry=registry)
    agreements = Counter("gateway_compared_agreements", "", pair, registry=registry)
    delta = Histogram("gateway_compared_score_delta", "", pair, buckets=DELTA_BUCKETS, registry=registry)
    labels = Counter("gateway_compared_labels", "", (*pair, "version", "label"), registry=registry)
    seconds = Histogram("gateway_version_seconds", "", ("version", "role"), registry=registry)
    requests = Counter("gateway_version_requests", "", ("version", "role", "outcome"), registry=registry)
    # Another pair's counters, which must not leak into this one's figures.
    texts.labels("1", "3").inc(10_000)
    texts.labels("1", "2").inc(compared)
    agreements.labels("1", "2").inc(agree)
    for index in range(compared):
        delta.labels("1", "2").observe(0.002 if index < agree else 0.3)
    labels.labels("1", "2", "1", "POSITIVE").inc(compared // 2)
    labels.labels("1", "2", "1", "NEGATIVE").inc(compared - compared // 2)
    labels.labels("1", "2", "2", "POSITIVE").inc(compared // 2 + (compared - agree))
    labels.labels("1", "2", "2", "NEGATIVE").inc(compared - compared // 2 - (compared - agree))
    for _ in range(compared):
        seconds.labels("1", "answer").observe(0.02)
        seconds.labels("2", "shadow").observe(challenger_s)
    requests.labels("1", "answer", "ok").inc(compared)
    requests.labels("2", "shadow", "ok").inc(compared - challenger_errors)
    requests.labels("2", "shadow", "error").inc(challenger_errors)
    requests.labels("2", "shadow", "refused").inc(1000)
    return generate_latest(registry).decode()


def figures_of(text: str):
    samples = [sample for family in text_string_to_metric_families(text) for sample in family.samples]
    return figures_from_samples(samples, "1", "2")


def test_figures_come_from_this_pairs_series_only() -> None:
    figures = figures_of(exposition(compared=800, agree=792))
    assert figures.compared_texts == 800
    assert figures.agreement == pytest.approx(0.99)
    assert figures.label_shift == pytest.approx(8 / 800)
    assert figures.mean_score_delta == pytest.approx((792 * 0.002 + 8 * 0.3) / 800)
    assert 0.001 < figures.p95_score_delta <= 0.01
    # Refusals by admission are load, not the model: in neither outcome.
    assert figures.challenger_figures.requests == 800
    assert figures.champion_figures.error_rate == 0
    # prometheus_client's default buckets: 0.02 s falls in (0.01, 0.025].
    assert 0.01 < figures.champion_figures.p99_s <= 0.025


def test_the_verdicts_from_real_metrics_text() -> None:
    policy = Policy()
    assert decide(policy, figures_of(exposition(800, 795))).decision == "promote"
    assert decide(policy, figures_of(exposition(800, 400))).decision == "rollback"
    assert decide(policy, figures_of(exposition(800, 795, challenger_errors=40))).decision == "rollback"
    assert decide(policy, figures_of(exposition(800, 795, challenger_s=2.0))).decision == "rollback"
    assert decide(policy, figures_of(exposition(100, 100))).decision == "hold"


def test_a_pair_never_compared_has_no_figures_yet() -> None:
    figures = figures_of(exposition(0, 0))
    assert figures.compared_texts == 0
    assert math.isnan(figures.agreement)
    assert math.isnan(figures.label_shift)
    assert math.isnan(figures.challenger_figures.p99_s)
    assert decide(Policy(), figures).decision == "hold"


def test_histogram_quantile_interpolates_as_promql_does() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)
    # In the +Inf bucket: the highest finite bound.
    assert histogram_quantile(0.99, {0.1: 10.0, math.inf: 20.0}) == pytest.approx(0.1)
    assert math.isnan(histogram_quantile(0.99, {0.1: 0.0, math.inf: 0.0}))
    assert math.isnan(histogram_quantile(0.99, {}))


cumulative_histograms = st.lists(st.integers(0, 50), min_size=1, max_size=8).map(
    lambda counts: {
        **{0.01 * 2**index: float(sum(counts[: index + 1])) for index in range(len(counts))},
        math.inf: float(sum(counts)),
    }
)


@PURE
@given(cumulative_histograms, st.floats(0, 1), st.floats(0, 1))
def test_histogram_quantile_is_monotone_and_within_the_bounds(buckets: dict, q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    a, b = histogram_quantile(low, buckets), histogram_quantile(high, buckets)
    if buckets[math.inf] == 0:
        assert math.isnan(a) and math.isnan(b)
        return
    finite = max(bound for bound in buckets if not math.isinf(bound))
    assert 0 <= a <= b <= finite
