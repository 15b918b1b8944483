"""Rolling traffic profile of this worker, compared with the export's reference profile as PSI gauges.

Each worker keeps the last ``window`` answered texts as histogram bins with running counts, so a text
costs O(1) to add and the PSI after each request costs a few dozen bins, whatever the window size.
Once at least ``min_texts`` are in, it sets ``gateway_drift_psi{signal=...,version=...}``: one monitor per
served version, since a challenger in canary answers traffic of its own against its own reference. Across workers the
scrape reports the highest (multiprocess mode ``max``): an alert should fire if any worker sees the shift.
"""

from collections import deque

import numpy as np

from contract.drift_profile import SCORE_EDGES, TOKEN_EDGES, TrafficProfile, bin_index
from gateway import metrics


class DriftMonitor:
    def __init__(self, reference: TrafficProfile, window: int, min_texts: int, version: str) -> None:
        self.reference = reference
        self.version = version
        self.window = window
        self.min_texts = min_texts
        self.recent: deque[tuple[int, int, int]] = deque()  # (label, score bin, token bin) per text
        self.label_counts = np.zeros(len(reference.labels))
        self.score_counts = np.zeros(len(SCORE_EDGES) - 1)
        self.token_counts = np.zeros(len(TOKEN_EDGES) - 1)

    def observe(self, label_index: int, score: float, tokens: int) -> None:
        bins = (label_index, bin_index(score, SCORE_EDGES), bin_index(tokens, TOKEN_EDGES))
        self._count(bins, +1)
        self.recent.append(bins)
        if len(self.recent) > self.window:
            self._count(self.recent.popleft(), -1)

    def _count(self, bins: tuple[int, int, int], delta: int) -> None:
        label, score_bin, token_bin = bins
        self.label_counts[label] += delta
        self.score_counts[score_bin] += delta
        self.token_counts[token_bin] += delta

    def current(self) -> TrafficProfile:
        texts = len(self.recent)
        return TrafficProfile(
            texts=texts,
            labels=self.reference.labels,
            label_fractions=(self.label_counts / max(texts, 1)).tolist(),
            score_fractions=(self.score_counts / max(texts, 1)).tolist(),
            token_fractions=(self.token_counts / max(texts, 1)).tolist(),
        )

    def publish(self) -> dict[str, float] | None:
        """Update the gauges from the current window; None while the window is too empty to mean anything."""
        metrics.DRIFT_WINDOW_TEXTS.labels(version=self.version).set(len(self.recent))
        if len(self.recent) < self.min_texts:
            return None
        indices = self.current().psi_against(self.reference)
        for signal, value in indices.items():
            metrics.DRIFT_PSI.labels(signal=signal, version=self.version).set(value)
        return indices
