"""Two versions' answers for one text, compared."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.lifecycle.compare import compare
from tests.property_support import PURE

pytestmark = pytest.mark.fast


def probabilities(labels: int) -> st.SearchStrategy[list[float]]:
    return st.lists(st.floats(0.01, 1), min_size=labels, max_size=labels).map(
        lambda weights: (np.asarray(weights) / sum(weights)).tolist()
    )


@PURE
@given(st.integers(2, 5).flatmap(lambda labels: st.tuples(probabilities(labels), probabilities(labels))))
def test_agreement_is_the_same_winner_and_the_delta_is_on_the_champions_label(pair) -> None:
    champion, challenger = pair
    comparison = compare(champion, challenger)
    assert comparison.champion_label == int(np.argmax(champion))
    assert comparison.agrees == (int(np.argmax(challenger)) == comparison.champion_label)
    assert comparison.score_delta == pytest.approx(abs(challenger[comparison.champion_label] - max(champion)))
    assert 0 <= comparison.score_delta <= 1
    assert compare(champion, champion).agrees and compare(champion, champion).score_delta == 0


def test_a_two_label_answer_that_flips_disagrees() -> None:
    comparison = compare([0.9, 0.1], [0.3, 0.7])
    assert not comparison.agrees
    assert comparison.score_delta == pytest.approx(0.6)
    with pytest.raises(ValueError, match="not the same labels"):
        compare([0.5, 0.5], [0.2, 0.3, 0.5])
