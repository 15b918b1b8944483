"""The gateway's rolling drift window, fed observations directly: no gateway process, no Triton."""

import pytest

from contract.drift_profile import TrafficProfile
from gateway.pipeline.drift import DriftMonitor

pytestmark = pytest.mark.fast


def test_the_rolling_window_equals_a_profile_of_its_last_texts() -> None:
    reference = TrafficProfile.from_observations(["NEGATIVE", "POSITIVE"], [0, 1], [0.9, 0.6], [10, 40])
    monitor = DriftMonitor(reference, window=10, min_texts=5, version="1")
    observations = [(i % 2, 0.5 + (i % 5) / 10, 5 + 13 * i) for i in range(30)]
    for label, score, tokens in observations:
        monitor.observe(label, score, tokens)
    last = observations[-10:]
    expected = TrafficProfile.from_observations(
        reference.labels, [o[0] for o in last], [o[1] for o in last], [o[2] for o in last]
    )
    current = monitor.current()
    assert current.texts == 10
    for name in ("label_fractions", "score_fractions", "token_fractions"):
        assert getattr(current, name) == pytest.approx(getattr(expected, name))
    assert monitor.publish() == pytest.approx(expected.psi_against(reference))
