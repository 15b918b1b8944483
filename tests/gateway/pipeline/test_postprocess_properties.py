"""Property tests (hypothesis) of the postprocessing steps: window combination and softmax."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_support import PURE

from gateway.pipeline.postprocess import combine_windows, softmax

pytestmark = pytest.mark.fast


@PURE
@given(
    logits=st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=1, max_size=20),
    data=st.data(),
)
def test_combined_windows_stay_within_their_rows(logits: list[tuple[float, float]], data: st.DataObject) -> None:
    texts = data.draw(st.integers(1, len(logits)))
    owners = list(range(texts)) + data.draw(
        st.lists(st.integers(0, texts - 1), min_size=len(logits) - texts, max_size=len(logits) - texts)
    )
    weights = np.array(data.draw(st.lists(st.integers(1, 512), min_size=len(logits), max_size=len(logits))))
    rows = np.array(logits, dtype=np.float32)
    combined = combine_windows(rows, owners, weights, texts)
    assert combined.shape == (texts, 2)
    for text in range(texts):
        own = rows[[row for row, owner in enumerate(owners) if owner == text]]
        assert (combined[text] >= own.min(axis=0) - 1e-4).all() and (combined[text] <= own.max(axis=0) + 1e-4).all()


@PURE
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=20))
def test_softmax_is_a_distribution_even_for_huge_logits(logits: list[tuple[float, float]]) -> None:
    probabilities = softmax(np.array(logits, dtype=np.float64))
    assert np.isfinite(probabilities).all()
    assert np.allclose(probabilities.sum(axis=1), 1.0)
