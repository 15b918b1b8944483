"""The token budget alone: admission by cost, the measured drain rate, and an honest Retry-After (properties)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pipeline.budget import MIN_BUSY_S, UNMEASURED_SHARE, DrainRate, TokenBudget

pytestmark = pytest.mark.fast

PURE = settings(max_examples=300, deadline=None, database=None)

tokens = st.integers(1, 2_000_000)
rates = st.floats(100, 1e7)
seconds = st.floats(0.01, 30)


def budget_with(max_tokens: int, held: int, rate: float | None) -> TokenBudget:
    budget = TokenBudget(max_tokens, half_life_s=5.0, lane="bulk")
    if rate is not None:
        budget.rate.observe(rate, 1.0)  # one second of busy time at ``rate``
    budget.hold(held)
    return budget


@PURE
@given(st.integers(512, 2_000_000), tokens, st.one_of(st.none(), rates), seconds)
def test_an_idle_worker_admits_anything_the_per_request_limits_let_through(
    max_tokens: int, cost: int, rate: float | None, time_left_s: float
) -> None:
    assert budget_with(max_tokens, 0, rate).refusal(cost, time_left_s) is None


@PURE
@given(st.integers(512, 2_000_000), tokens, tokens, st.one_of(st.none(), rates), seconds)
def test_a_busy_worker_admits_only_what_fits_its_budget_and_its_deadline(
    max_tokens: int, held: int, cost: int, rate: float | None, time_left_s: float
) -> None:
    refusal = budget_with(max_tokens, held, rate).refusal(cost, time_left_s)
    if rate is None:  # a fresh worker takes a share of its budget until its first call is measured
        assert (refusal is None) == (held + cost <= max_tokens // UNMEASURED_SHARE)
        assert refusal is None or refusal.retry_after_s == 1
        return
    fits_budget = held + cost <= max_tokens
    in_time = (held + cost) / rate <= time_left_s
    assert (refusal is None) == (fits_budget and in_time)
    if refusal is not None:
        assert refusal.reason == ("tokens_held" if not fits_budget else "deadline")
        assert refusal.retry_after_s >= 1
        assert (
            "GATEWAY_MAX_TOKENS_HELD" in refusal.message
            if refusal.reason == "tokens_held"
            else "deadline" in refusal.message
        )


@PURE
@given(st.integers(512, 2_000_000), tokens, tokens, rates, seconds)
def test_retry_after_is_honest_once_the_held_work_drains_at_the_measured_rate_the_request_fits(
    max_tokens: int, held: int, cost: int, rate: float, time_left_s: float
) -> None:
    refusal = budget_with(max_tokens, held, rate).refusal(cost, time_left_s)
    if refusal is None or cost > max_tokens or cost / rate > time_left_s:
        return  # admitted, or could only fit an idle worker (which admits it)
    drained = max(0, held - int(rate * refusal.retry_after_s))
    assert budget_with(max_tokens, drained, rate).refusal(cost, time_left_s) is None
    # ... and not much earlier: a second less would not have been enough (or it is the 1 s floor).
    if refusal.retry_after_s > 1:
        early = max(0, held - int(rate * (refusal.retry_after_s - 1)))
        assert early == 0 or budget_with(max_tokens, early, rate).refusal(cost, time_left_s) is not None


@PURE
@given(rates, st.lists(st.tuples(seconds, st.booleans()), min_size=1, max_size=20))
def test_a_steady_triton_reads_as_its_own_rate_whatever_the_call_sizes(
    rate: float, calls: list[tuple[float, bool]]
) -> None:
    drain = DrainRate(half_life_s=5.0)
    for busy_s, _ in calls:
        drain.observe(rate * busy_s, busy_s)
    if sum(busy_s for busy_s, _ in calls) < MIN_BUSY_S:
        assert drain.tokens_per_s is None, "a fraction of a second of calls is not a rate yet"
    else:
        assert drain.tokens_per_s == pytest.approx(rate, rel=1e-9)


def test_one_slow_first_call_is_not_taken_for_the_workers_rate() -> None:
    budget = TokenBudget(max_tokens=10**6, half_life_s=5.0, lane="bulk")
    budget.call_started(now=0.0)
    budget.call_finished(16, now=0.3)  # 53 tokens/s: a fresh worker's first call, behind a busy Triton
    budget.hold(64)
    assert budget.rate.tokens_per_s is None
    assert budget.refusal(16, time_left_s=1.0) is None, "an unmeasured worker takes a share of its budget"


def test_the_rate_follows_a_triton_that_slowed_down_within_a_few_half_lives() -> None:
    drain = DrainRate(half_life_s=5.0)
    drain.observe(100_000 * 60, 60)  # a minute at 100k tokens/s
    for _ in range(40):
        drain.observe(10_000, 1.0)  # then 40 s (eight half-lives) at 10k tokens/s
    assert drain.tokens_per_s < 15_000


def test_busy_time_counts_overlapping_calls_once_and_idle_time_not_at_all() -> None:
    budget = TokenBudget(max_tokens=10**6, half_life_s=1e9, lane="bulk")  # no fading: the arithmetic is exact
    assert budget.rate.tokens_per_s is None
    budget.call_started(now=0.0)
    budget.call_started(now=0.5)  # overlaps the first
    budget.call_finished(1000, now=1.0)
    budget.call_finished(1000, now=2.0)
    budget.call_started(now=100.0)  # after 98 s idle
    budget.call_finished(1000, now=101.0)
    assert budget.rate.tokens_per_s == pytest.approx(3000 / 3.0)
    budget.call_started(now=200.0)
    budget.call_finished(None, now=200.01)  # a failed call drained nothing and does not read as slowness
    assert budget.rate.tokens_per_s == pytest.approx(3000 / 3.0)
    assert budget.open_calls == 0
