"""Logits to labels and probabilities, in numpy; and the optional neutral band."""

from dataclasses import dataclass

import numpy as np

NEUTRAL = "NEUTRAL"


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    scores: dict[str, float]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax; subtracting the row max keeps exp() from overflowing on large logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def combine_windows(row_logits: np.ndarray, owners: list[int], row_tokens: np.ndarray, texts: int) -> np.ndarray:
    """Per-text logits: the token-count-weighted mean of its rows (one row per window; most texts have one)."""
    if len(owners) == texts:  # one row per text: its mean is itself, only the order changes (the common case)
        combined = np.empty((texts, row_logits.shape[1]), dtype=np.float64)
        combined[owners] = row_logits
        return combined
    weighted = np.zeros((texts, row_logits.shape[1]), dtype=np.float64)
    weights = np.zeros(texts, dtype=np.float64)
    np.add.at(weighted, owners, row_logits.astype(np.float64) * row_tokens[:, None])
    np.add.at(weights, owners, row_tokens)
    return weighted / weights[:, None]


def to_prediction(probabilities: np.ndarray, labels: list[str], neutral_threshold: float | None) -> Prediction:
    """The winning label, unless a two-label model's winner scores under ``neutral_threshold``: then NEUTRAL.

    The band is a confidence band, not a trained neutral class; the raw scores stay in ``scores``
    and ``score`` stays the winner's probability. A model with its own labels beyond two keeps them.
    """
    winner = int(np.argmax(probabilities))
    score = float(probabilities[winner])
    label = labels[winner]
    if neutral_threshold is not None and len(labels) == 2 and score < neutral_threshold:
        label = NEUTRAL
    return Prediction(
        label=label, score=score, scores={name: float(p) for name, p in zip(labels, probabilities, strict=True)}
    )
