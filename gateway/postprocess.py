"""Logits to labels and probabilities, in numpy."""

from dataclasses import dataclass

import numpy as np


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


def logits_to_predictions(logits: np.ndarray, labels: list[str]) -> list[Prediction]:
    probabilities = softmax(logits.astype(np.float64))
    winners = probabilities.argmax(axis=-1)
    return [
        Prediction(
            label=labels[winner],
            score=float(row[winner]),
            scores={label: float(p) for label, p in zip(labels, row, strict=True)},
        )
        for row, winner in zip(probabilities, winners, strict=True)
    ]
