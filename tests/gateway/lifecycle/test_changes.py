"""What a new rollout state opens, keeps and closes, and when it is refused."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.metadata import ServingMetadata
from contract.rollout import RolloutState, promote, rollback, try_challenger
from gateway.lifecycle.changes import state_problem, state_versions, version_changes
from tests.property_support import PURE

pytestmark = pytest.mark.fast

versions = st.integers(1, 6).map(str)
states = st.one_of(
    st.builds(RolloutState, versions),
    st.tuples(versions, versions, st.sampled_from(["off", "shadow", "canary"]), st.floats(0, 100))
    .filter(lambda fields: fields[0] != fields[1])
    .map(lambda fields: RolloutState(*fields)),
)
CHAMPION = ServingMetadata(model_name="sentiment", source="a", max_length=512, labels=["NEGATIVE", "POSITIVE"])


@PURE
@given(st.lists(versions, unique=True, max_size=3), states)
def test_a_change_opens_what_is_new_keeps_what_stays_and_closes_the_rest(serving: list[str], state) -> None:
    changes = version_changes(serving, state)
    assert sorted(changes.opened + changes.kept) == sorted(state_versions(state))
    assert sorted(changes.kept + changes.closed) == sorted(serving)
    assert not set(changes.opened) & set(serving)
    assert not set(changes.closed) & set(state_versions(state))


@PURE
@given(states)
def test_promote_then_rollback_returns_to_the_champion_and_closes_the_other(state) -> None:
    if state.challenger is None:
        state = try_challenger(state, str(int(state.champion) % 6 + 1), "canary", 20)
    promoted = promote(state)
    assert version_changes(state_versions(state), promoted).closed == [state.champion]
    back = rollback(promoted)
    assert version_changes(state_versions(promoted), back).opened == [state.champion]
    assert version_changes(state_versions(promoted), back).closed == [state.challenger]


def test_a_challenger_with_other_labels_or_a_missing_version_is_refused_in_one_line() -> None:
    state = RolloutState("1", "2", "shadow", 10)
    same = {"1": CHAMPION, "2": dataclasses.replace(CHAMPION, precision="int8")}
    assert state_problem(state, same, {}) is None
    other = {"1": CHAMPION, "2": dataclasses.replace(CHAMPION, labels=["BAD", "GOOD"])}
    problem = state_problem(state, other, {})
    assert problem == (
        "version 2 refused: challenger and champion disagree on the labels: ['BAD', 'GOOD'] against "
        "['NEGATIVE', 'POSITIVE']"
    )
    assert "\n" not in problem
    assert state_problem(state, {"1": CHAMPION}, {"2": "not exported"}) == "version 2: not exported"
    assert state_problem(RolloutState("1"), {"1": CHAMPION}, {}) is None
