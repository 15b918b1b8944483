"""The calibration the export fits and the gateway applies: a temperature and split-conformal scores.

Written inside the serving metadata (``ServingMetadata.calibration``); the export fits it and the gateway
applies it with the same two functions below, so the export's report is what the gateway serves.

- ``temperature``: logits are divided by it before the softmax. One scalar, so every argmax is kept.
- ``conformal_scores``: the nonconformity score ``1 - p(gold label)`` of every text of the conformal split,
  with the temperature applied, sorted. Keeping them all (not one threshold) lets the gateway pick its
  coverage at start-up (GATEWAY_COVERAGE) without a re-export; a few thousand floats at most.
"""

import math
from dataclasses import dataclass, field

import numpy as np

# Probabilities come back from the cache and Triton as float32-derived values; a loser's 0.0 would be log(0).
_SMALLEST_PROBABILITY = 1e-12


@dataclass(frozen=True)
class Calibration:
    temperature: float
    conformal_scores: list[float]
    source: str = ""  # the labelled file it was fitted on
    fit_texts: int = 0  # texts the temperature was fitted on (the conformal split is separate)
    # Expected calibration error on the held-out split (neither fitted on), before and after the temperature.
    held_out_ece: dict[str, float] = field(default_factory=dict)

    def threshold(self, coverage: float) -> float:
        """The largest nonconformity score a label may have and stay in the prediction set.

        Split conformal: the ceil((n + 1) * coverage)-th smallest calibration score, which makes
        P(gold label in the set) >= coverage for exchangeable data. When that rank passes n, the
        data are too few for the coverage asked, and every label is kept (threshold 1).
        """
        if not 0 < coverage < 1:
            raise ValueError(f"coverage must be between 0 and 1, got {coverage}")
        rank = math.ceil((len(self.conformal_scores) + 1) * coverage)
        if rank > len(self.conformal_scores):
            return 1.0
        return self.conformal_scores[rank - 1]

    @classmethod
    def from_dict(cls, fields: dict) -> "Calibration":
        return cls(**fields)


def scale_probabilities(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T), from probabilities: log p is the logits up to a per-row constant, which softmax ignores.

    Working from probabilities lets cached answers and window-combined texts be calibrated alike.
    """
    scaled = np.log(np.clip(probabilities, _SMALLEST_PROBABILITY, None)) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def prediction_set(probabilities: np.ndarray, threshold: float) -> list[int]:
    """Label indices whose nonconformity ``1 - p`` is within ``threshold``, most probable first.

    The most probable label is always in: a confident model's threshold can be under 1 - max(p) for an
    odd text, and an empty set says nothing a client can act on (a superset keeps the coverage).
    """
    order = np.argsort(-probabilities, kind="stable")
    return [int(order[0])] + [int(i) for i in order[1:] if 1.0 - probabilities[i] <= threshold]
