"""The rollout state file and its transitions, on their own."""

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.metadata import ServingMetadata
from contract.rollout import RolloutError, RolloutState, incompatibility, promote, rollback, try_challenger
from tests.property_support import PURE

pytestmark = pytest.mark.fast

versions = st.integers(1, 50).map(str)
states = st.one_of(
    st.builds(RolloutState, versions, previous=st.none() | versions),
    st.tuples(versions, versions, st.sampled_from(["off", "shadow", "canary"]), st.floats(0, 100))
    .filter(lambda fields: fields[0] != fields[1])
    .map(lambda fields: RolloutState(*fields)),
)


@PURE
@given(states)
def test_a_state_reads_back_as_written(state: RolloutState) -> None:
    assert RolloutState.parse(json.dumps(dataclasses.asdict(state))) == state


def test_the_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "run" / "rollout.json"
    RolloutState("1").write(path)
    RolloutState("1", "2", "canary", 20).write(path)
    assert RolloutState.read(path) == RolloutState("1", "2", "canary", 20)
    assert [entry.name for entry in path.parent.iterdir()] == ["rollout.json"]


@PURE
@given(versions, versions, st.sampled_from(["shadow", "canary"]), st.floats(0, 100))
def test_promote_then_rollback_returns_to_the_champion(champion: str, challenger: str, mode, percent) -> None:
    if champion == challenger:
        with pytest.raises(RolloutError, match="its own challenger"):
            try_challenger(RolloutState(champion), challenger, mode, percent)
        return
    trying = try_challenger(RolloutState(champion), challenger, mode, percent)
    assert rollback(trying) == RolloutState(champion)
    promoted = promote(trying)
    assert promoted == RolloutState(challenger, previous=champion)
    assert rollback(promoted) == RolloutState(champion)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not a rollout state"),
        ('{"mode": "off"}', "not a rollout state"),
        ('{"champion": 1, "mode": "blue"}', "mode 'blue'"),
        ('{"champion": 1, "mode": "canary"}', "needs a challenger"),
        ('{"champion": 1, "challenger": 2, "mode": "canary", "percent": 101}', "outside 0 to 100"),
    ],
)
def test_a_bad_state_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(RolloutError, match=message):
        RolloutState.parse(text)


def test_nothing_to_promote_or_roll_back_says_so() -> None:
    with pytest.raises(RolloutError, match="nothing to promote"):
        promote(RolloutState("1"))
    with pytest.raises(RolloutError, match="nothing to roll back"):
        rollback(RolloutState("1"))


def test_a_challenger_with_other_labels_is_incompatible() -> None:
    champion = ServingMetadata(model_name="sentiment", source="a", max_length=512, labels=["NEGATIVE", "POSITIVE"])
    assert incompatibility(champion, dataclasses.replace(champion, precision="int8", source="b")) is None
    other = dataclasses.replace(champion, labels=["NEG", "NEU", "POS"])
    assert incompatibility(champion, other) == (
        "challenger and champion disagree on the labels: ['NEG', 'NEU', 'POS'] against ['NEGATIVE', 'POSITIVE']"
    )
