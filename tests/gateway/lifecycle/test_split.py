"""The sticky canary split, what each answered request hands to shadow scoring, and the shedding rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.rollout import RolloutState
from gateway.lifecycle.split import answering_version, caller_share, shadow_plan, shed_reason
from tests.property_support import PURE

pytestmark = pytest.mark.fast

callers = st.text(min_size=1, max_size=40)
shares = st.floats(0, 100)


@PURE
@given(callers, shares, shares)
def test_raising_the_share_only_adds_callers(caller: str, low: float, high: float) -> None:
    low, high = sorted((low, high))
    before = answering_version(RolloutState("1", "2", "canary", low), caller)
    after = answering_version(RolloutState("1", "2", "canary", high), caller)
    assert caller_share("2", caller) == caller_share("2", caller)  # the same caller, the same place
    assert 0 <= caller_share("2", caller) < 100
    if before == "2":
        assert after == "2"


@PURE
@given(callers, shares)
def test_only_canary_mode_sends_callers_to_the_challenger(caller: str, percent: float) -> None:
    for mode in ("off", "shadow"):
        assert answering_version(RolloutState("1", "2", mode, percent), caller) == "1"
    assert answering_version(RolloutState("1", "2", "canary", 100), caller) == "2"
    assert answering_version(RolloutState("1", "2", "canary", 0), caller) == "1"


@PURE
@given(callers, shares)
def test_a_requested_version_wins_over_the_split(caller: str, percent: float) -> None:
    assert answering_version(RolloutState("1", "2", "canary", percent), caller, requested="1") == "1"
    assert answering_version(RolloutState("1", "2", "canary", percent), caller, requested="2") == "2"


def test_the_split_share_is_close_to_the_percent_over_many_callers() -> None:
    state = RolloutState("1", "2", "canary", 20)
    answered = [answering_version(state, f"address:10.0.{n // 256}.{n % 256}") for n in range(20_000)]
    assert abs(answered.count("2") / len(answered) - 0.20) < 0.01


def test_each_challenger_draws_its_own_callers() -> None:
    callers = [f"key:{n}" for n in range(2000)]
    first = {caller for caller in callers if caller_share("2", caller) < 10}
    second = {caller for caller in callers if caller_share("3", caller) < 10}
    assert len(first & second) < len(first) / 2


@PURE
@given(st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=50), shares)
def test_shadow_mode_scores_the_drawn_share_of_champion_answers(draws: list[float], percent: float) -> None:
    state = RolloutState("1", "2", "shadow", percent)
    plan = shadow_plan(state, answered="1", pinned=False, draws=draws)
    drawn = [index for index, draw in enumerate(draws) if draw * 100 < percent]
    assert (plan.positions if plan else []) == drawn
    assert plan is None or plan.version == "2"
    assert shadow_plan(state, answered="1", pinned=True, draws=draws) is None


@PURE
@given(st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=50), shares)
def test_canary_answers_by_the_challenger_are_all_scored_by_the_champion(draws: list[float], percent: float) -> None:
    state = RolloutState("1", "2", "canary", percent)
    assert shadow_plan(state, answered="2", pinned=False, draws=draws).positions == list(range(len(draws)))
    assert shadow_plan(state, answered="2", pinned=False, draws=draws).version == "1"
    assert shadow_plan(state, answered="1", pinned=False, draws=draws) is None
    assert shadow_plan(RolloutState("1", "2", "off"), answered="1", pinned=False, draws=draws) is None
    assert shadow_plan(RolloutState("1"), answered="1", pinned=False, draws=draws) is None


@PURE
@given(st.integers(0, 1000), st.booleans(), st.integers(0, 20), st.integers(1, 20))
def test_shadow_work_goes_only_on_an_unloaded_worker(waiting: int, slot_free: bool, in_flight: int, limit: int) -> None:
    reason = shed_reason(waiting, slot_free, in_flight, limit)
    if waiting or not slot_free:
        assert reason == "busy"
    elif in_flight >= limit:
        assert reason == "backlog"
    else:
        assert reason is None
