"""Calibration alone: the temperature fit, ECE, the conformal threshold and the metadata that carries them."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from contract.calibration import Calibration, prediction_set, scale_probabilities
from contract.labelled_data import LabelledText
from contract.metadata import METADATA_FILENAME, ServingMetadata
from export.calibration import (
    coverage_and_set_size,
    expected_calibration_error,
    fit_temperature,
    nonconformity_scores,
    split_examples,
)

pytestmark = pytest.mark.fast

PURE = settings(max_examples=200, deadline=None, database=None)


def sampled_from_model(true_temperature: float, texts: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An over-confident model: the labels are drawn from softmax(z / T) but it reports softmax(z)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, size=(texts, 2))
    honest = np.exp(logits / true_temperature)
    honest /= honest.sum(axis=1, keepdims=True)
    gold = (rng.random(texts) < honest[:, 1]).astype(int)
    reported = np.exp(logits)
    return reported / reported.sum(axis=1, keepdims=True), gold


def test_the_fit_recovers_the_temperature_and_lowers_the_calibration_error() -> None:
    probabilities, gold = sampled_from_model(true_temperature=2.5, texts=4000)
    temperature = fit_temperature(probabilities, gold)
    assert temperature == pytest.approx(2.5, rel=0.1)
    held_p, held_gold = sampled_from_model(true_temperature=2.5, texts=4000, seed=1)
    before = expected_calibration_error(held_p, held_gold)
    after = expected_calibration_error(scale_probabilities(held_p, temperature), held_gold)
    assert after < before / 2, (before, after)


@PURE
@given(
    arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(2, 5)), elements=st.floats(-30, 30)),
    st.floats(0.05, 20),
)
def test_temperature_keeps_every_argmax(logits: np.ndarray, temperature: float) -> None:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = exp / exp.sum(axis=1, keepdims=True)
    scaled = scale_probabilities(probabilities, temperature)
    assert np.allclose(scaled.sum(axis=1), 1)
    # Ties may break either way; a strict winner must stay the winner.
    for row, scaled_row in zip(probabilities, scaled, strict=True):
        if np.sort(row)[-1] - np.sort(row)[-2] > 1e-9:
            assert scaled_row.argmax() == row.argmax()


def test_split_conformal_reaches_its_coverage_on_exchangeable_data() -> None:
    probabilities, gold = sampled_from_model(true_temperature=1.0, texts=6000)
    calibration = Calibration(temperature=1.0, conformal_scores=nonconformity_scores(probabilities[:3000], gold[:3000]))
    accuracy = float(np.mean(probabilities[3000:].argmax(axis=1) == gold[3000:]))
    for coverage in (0.8, 0.9, 0.95, 0.98):
        reached, set_size = coverage_and_set_size(probabilities[3000:], gold[3000:], calibration.threshold(coverage))
        # At least the target; no more than it needs, unless the winner alone (always in the set) already covers more.
        assert coverage - 0.02 <= reached <= max(coverage, accuracy) + 0.02, (coverage, reached, accuracy)
        assert 1 <= set_size <= 2


def test_the_threshold_is_the_finite_sample_rank_and_keeps_every_label_when_data_are_too_few() -> None:
    calibration = Calibration(temperature=1.0, conformal_scores=[i / 10 for i in range(10)])
    assert calibration.threshold(0.5) == 0.5  # ceil(11 * 0.5) = 6th smallest
    assert calibration.threshold(0.95) == 1.0  # ceil(11 * 0.95) = 11 > 10 scores
    with pytest.raises(ValueError, match="coverage"):
        calibration.threshold(1.0)


def test_the_prediction_set_always_holds_the_winner_and_adds_labels_within_the_threshold() -> None:
    assert prediction_set(np.array([0.2, 0.8]), threshold=0.1) == [1]  # 1 - 0.8 > 0.1: the winner alone
    assert prediction_set(np.array([0.45, 0.55]), threshold=0.6) == [1, 0]
    assert prediction_set(np.array([0.1, 0.9]), threshold=0.6) == [1]


def test_splits_are_disjoint_reproducible_and_refuse_too_little_data() -> None:
    examples = [LabelledText(f"text {i}", i % 2) for i in range(100)]
    splits = split_examples(examples)
    parts = [splits.fit, splits.conformal, splits.held_out]
    assert [len(part) for part in parts] == [40, 40, 20]
    assert sorted(e.text for part in parts for e in part) == sorted(e.text for e in examples)
    assert split_examples(examples) == splits
    with pytest.raises(ValueError, match="at least 20 texts in each of its 3 splits"):
        split_examples(examples[:60])


def test_metadata_written_before_v2_reads_with_english_and_no_calibration(tmp_path: Path) -> None:
    old = {"schema_version": 1, "model_name": "m", "source": "s", "max_length": 512, "labels": ["NEGATIVE", "POSITIVE"]}
    (tmp_path / METADATA_FILENAME).write_text(json.dumps(old))
    metadata = ServingMetadata.read(tmp_path)
    assert metadata.supported_languages == ["en"]
    assert metadata.calibration is None


def test_metadata_round_trips_its_calibration(tmp_path: Path) -> None:
    calibration = Calibration(1.3, [0.01, 0.2, 0.7], "dev.tsv", 40, {"before": 0.08, "after": 0.03})
    written = ServingMetadata("m", "s", 512, ["NEGATIVE", "POSITIVE"], supported_languages=["en", "de"])
    written = ServingMetadata(**{**written.__dict__, "calibration": calibration})
    written.write(tmp_path)
    assert ServingMetadata.read(tmp_path) == written
