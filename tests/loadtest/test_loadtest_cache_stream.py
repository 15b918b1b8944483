"""The repeating stream the cache benchmark is fed: its share of repeats is the one stated."""

import pytest

from loadtest.bench.runner import repeated_stream

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.7])
def test_stream_repeats_at_the_stated_rate_and_never_by_wrapping(rate: float) -> None:
    texts = [f"text {i}" for i in range(50)]
    stream = repeated_stream(texts, rate, length=5000)
    seen: set[str] = set()
    repeats = 0
    for text in stream:
        repeats += text in seen
        seen.add(text)
    assert repeats / len(stream) == pytest.approx(rate, abs=0.03)
    assert len(seen) == len(stream) - repeats  # new texts stay new after the corpus is used up
