"""Rolling traffic profile of this worker, compared with the export's reference profile as PSI gauges.

Each worker keeps the last ``window`` answered texts; once at least ``min_texts`` are in, it sets
``gateway_drift_psi{signal=...}`` after every request. Across workers the scrape reports the
highest (multiprocess mode ``max``): an alert should fire if any worker sees the shift.
"""

from collections import deque

from export.drift_profile import TrafficProfile
from gateway import metrics


class DriftMonitor:
    def __init__(self, reference: TrafficProfile, window: int, min_texts: int) -> None:
        self.reference = reference
        self.min_texts = min_texts
        self.label_indices: deque[int] = deque(maxlen=window)
        self.scores: deque[float] = deque(maxlen=window)
        self.tokens: deque[int] = deque(maxlen=window)

    def observe(self, label_index: int, score: float, tokens: int) -> None:
        self.label_indices.append(label_index)
        self.scores.append(score)
        self.tokens.append(tokens)

    def current(self) -> TrafficProfile:
        return TrafficProfile.from_observations(
            self.reference.labels, list(self.label_indices), list(self.scores), list(self.tokens)
        )

    def publish(self) -> dict[str, float] | None:
        """Update the gauges from the current window; None while the window is too empty to mean anything."""
        metrics.DRIFT_WINDOW_TEXTS.set(len(self.label_indices))
        if len(self.label_indices) < self.min_texts:
            return None
        indices = self.current().psi_against(self.reference)
        for signal, value in indices.items():
            metrics.DRIFT_PSI.labels(signal=signal).set(value)
        return indices
