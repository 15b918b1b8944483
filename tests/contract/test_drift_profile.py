"""The population stability index the drift gauges publish, on its own."""

import pytest

from contract.drift_profile import psi

pytestmark = pytest.mark.fast


def test_psi_is_zero_for_the_same_profile_and_grows_with_the_shift() -> None:
    reference = [0.5, 0.5]
    assert psi(reference, reference) == 0.0
    assert psi(reference, [0.6, 0.4]) < psi(reference, [0.9, 0.1]) < psi(reference, [1.0, 0.0])
