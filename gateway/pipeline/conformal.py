"""v2's label from calibrated probabilities: temperature, prediction set, and NEUTRAL when the set is unsure."""

from dataclasses import dataclass

import numpy as np

from contract.calibration import Calibration, prediction_set, scale_probabilities
from gateway.pipeline.postprocess import NEUTRAL


@dataclass(frozen=True)
class Decision:
    label: str
    score: float
    scores: dict[str, float]
    prediction_set: list[str]


class CalibratedDecider:
    """Applies the export's calibration at the coverage the gateway was started with."""

    def __init__(self, labels: list[str], calibration: Calibration | None, coverage: float) -> None:
        self.labels = labels
        self.calibrated = calibration is not None
        self.temperature = calibration.temperature if calibration else 1.0
        # Uncalibrated: no conformal scores to set a threshold by, so the set is the winner alone (threshold -1).
        self.threshold = calibration.threshold(coverage) if calibration else -1.0

    def decide(self, probabilities: np.ndarray) -> Decision:
        """The winner, unless a two-label model's set holds both labels: then NEUTRAL (scores stay as they are)."""
        calibrated = scale_probabilities(probabilities, self.temperature)
        members = prediction_set(calibrated, self.threshold)
        label = self.labels[members[0]]
        if len(members) > 1 and len(self.labels) == 2:
            label = NEUTRAL
        return Decision(
            label=label,
            score=float(calibrated[members[0]]),
            scores={name: float(p) for name, p in zip(self.labels, calibrated, strict=True)},
            prediction_set=[self.labels[i] for i in members],
        )
