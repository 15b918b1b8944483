"""Calibration at export: a temperature fitted on one split, conformal scores on a second, ECE on a third.

The labelled file is shuffled with a fixed seed and cut 40 / 40 / 20: the temperature is fitted on the
first part (negative log-likelihood), the conformal scores are computed on the second with that
temperature, and the third, which neither saw, reports the expected calibration error before and after
and the coverage reached. numpy only: one scalar fitted by golden-section search needs no optimiser.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from contract.calibration import Calibration, prediction_set, scale_probabilities
from contract.labelled_data import LabelledText

SEED = 20
FIT_SHARE, CONFORMAL_SHARE = 0.4, 0.4
ECE_BINS = 15
REPORT_COVERAGE = 0.9  # the gateway's default GATEWAY_COVERAGE
# Inverse temperatures searched; NLL is convex in 1/T, so golden-section search finds its minimum.
_INVERSE_TEMPERATURE_RANGE = (0.02, 20.0)
_SEARCH_STEPS = 60
MIN_TEXTS_PER_SPLIT = 20


@dataclass(frozen=True)
class Splits:
    fit: list[LabelledText]
    conformal: list[LabelledText]
    held_out: list[LabelledText]


def split_examples(examples: list[LabelledText], seed: int = SEED) -> Splits:
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    fit_end = round(len(shuffled) * FIT_SHARE)
    conformal_end = fit_end + round(len(shuffled) * CONFORMAL_SHARE)
    splits = Splits(shuffled[:fit_end], shuffled[fit_end:conformal_end], shuffled[conformal_end:])
    if min(len(splits.fit), len(splits.conformal), len(splits.held_out)) < MIN_TEXTS_PER_SPLIT:
        raise ValueError(
            f"calibration needs at least {MIN_TEXTS_PER_SPLIT} texts in each of its 3 splits; "
            f"{len(examples)} labelled texts give {len(splits.fit)}/{len(splits.conformal)}/{len(splits.held_out)}"
        )
    return splits


def negative_log_likelihood(probabilities: np.ndarray, gold: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(gold)), gold], 1e-12, None))))


def fit_temperature(probabilities: np.ndarray, gold: np.ndarray) -> float:
    """The temperature that minimises the NLL of ``gold`` under ``scale_probabilities``."""

    def loss(inverse: float) -> float:
        return negative_log_likelihood(scale_probabilities(probabilities, 1.0 / inverse), gold)

    low, high = _INVERSE_TEMPERATURE_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    left, right = high - ratio * (high - low), low + ratio * (high - low)
    loss_left, loss_right = loss(left), loss(right)
    for _ in range(_SEARCH_STEPS):
        if loss_left < loss_right:
            high, right, loss_right = right, left, loss_left
            left = high - ratio * (high - low)
            loss_left = loss(left)
        else:
            low, left, loss_left = left, right, loss_right
            right = low + ratio * (high - low)
            loss_right = loss(right)
    return 1.0 / ((low + high) / 2)


def expected_calibration_error(probabilities: np.ndarray, gold: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: |accuracy - confidence| per equal-width confidence bin, weighted by the bin's share."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == gold
    # A confidence of exactly 1.0 belongs to the last bin.
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def coverage_and_set_size(probabilities: np.ndarray, gold: np.ndarray, threshold: float) -> tuple[float, float]:
    """Share of texts whose gold label is in the prediction set, and the mean set size."""
    sets = [prediction_set(row, threshold) for row in probabilities]
    covered = np.mean([int(label) in labels for labels, label in zip(sets, gold, strict=True)])
    return float(covered), float(np.mean([len(labels) for labels in sets]))


def nonconformity_scores(probabilities: np.ndarray, gold: np.ndarray) -> list[float]:
    return sorted(round(float(1.0 - p), 6) for p in probabilities[np.arange(len(gold)), gold])


@dataclass(frozen=True)
class CalibrationReport:
    calibration: Calibration
    held_out_texts: int
    coverage: float
    mean_set_size: float

    def lines(self) -> list[str]:
        ece = self.calibration.held_out_ece
        return [
            f"temperature {self.calibration.temperature:.3f} (fitted on {self.calibration.fit_texts} texts), "
            f"{len(self.calibration.conformal_scores)} conformal scores",
            f"held out ({self.held_out_texts} texts): ECE {ece['before']:.4f} before, {ece['after']:.4f} after; "
            f"coverage {self.coverage:.1%} at target {REPORT_COVERAGE:.0%}, "
            f"mean prediction set {self.mean_set_size:.2f} labels",
        ]


def gold_indices(examples: list[LabelledText], labels: list[str]) -> np.ndarray:
    """The model's label index of each example's gold label (the files say 0/1, the model names its labels)."""
    missing = {e.label_name for e in examples} - set(labels)
    if missing:
        raise ValueError(f"the model's labels {labels} lack {sorted(missing)}, named by the calibration data")
    return np.array([labels.index(e.label_name) for e in examples])


def calibrate(
    splits: Splits, labels: list[str], probabilities_of: Callable[[list[str]], np.ndarray], source: str
) -> CalibrationReport:
    """Fit on ``splits``; ``probabilities_of(texts)`` is the exported model's softmax over texts."""
    parts = (splits.fit, splits.conformal, splits.held_out)
    fit_p, conformal_p, held_p = (probabilities_of([e.text for e in part]) for part in parts)
    fit_gold, conformal_gold, held_gold = (gold_indices(part, labels) for part in parts)
    temperature = fit_temperature(fit_p, fit_gold)
    calibration = Calibration(
        temperature=round(temperature, 6),
        conformal_scores=nonconformity_scores(scale_probabilities(conformal_p, temperature), conformal_gold),
        source=source,
        fit_texts=len(splits.fit),
        held_out_ece={
            "before": round(expected_calibration_error(held_p, held_gold), 6),
            "after": round(expected_calibration_error(scale_probabilities(held_p, temperature), held_gold), 6),
        },
    )
    coverage, set_size = coverage_and_set_size(
        scale_probabilities(held_p, temperature), held_gold, calibration.threshold(REPORT_COVERAGE)
    )
    return CalibrationReport(calibration, len(splits.held_out), coverage, set_size)
