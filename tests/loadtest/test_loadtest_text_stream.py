"""The load test's text stream: every distinct text once before any repeats, so the answer cache is not measured
by accident. tests/loadtest/test_locustfile.py runs it through locust against a real gateway."""

import pytest

from loadtest.corpus import TextStream

pytestmark = pytest.mark.fast


def test_the_stream_sends_every_distinct_text_once_before_any_repeats() -> None:
    stream = TextStream(["a", "b", "c", "b", "d"], seed=7)
    first_pass = stream.take(3) + stream.take(1)
    assert sorted(first_pass) == ["a", "b", "c", "d"] and not stream.repeated
    assert stream.take(2) == first_pass[:2] and stream.repeated
