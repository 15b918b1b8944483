"""The pipeline's pure steps, alone: bucketing, padding, grouping, softmax, error field names."""

import numpy as np
import pytest

from gateway.api.error_handlers import field_name
from gateway.pipeline.cache import cache_key
from gateway.pipeline.postprocess import combine_windows, softmax, to_prediction
from gateway.pipeline.tokenization import EncodedText, bucket_for, effective_buckets, pad_to_bucket, plan_batches

pytestmark = pytest.mark.fast

BUCKETS = [16, 32, 64, 128, 256, 512]


def test_effective_buckets_end_at_the_models_maximum() -> None:
    assert effective_buckets(BUCKETS, 512) == BUCKETS
    assert effective_buckets(BUCKETS, 100) == [16, 32, 64, 100]


@pytest.mark.parametrize(("length", "bucket"), [(2, 16), (16, 16), (17, 32), (129, 256), (512, 512)])
def test_bucket_is_the_smallest_that_fits(length: int, bucket: int) -> None:
    assert bucket_for(length, BUCKETS) == bucket


def test_bucket_for_refuses_what_truncation_should_have_cut() -> None:
    with pytest.raises(ValueError, match="exceed"):
        bucket_for(513, BUCKETS)


def test_padding_masks_only_the_padding() -> None:
    input_ids, mask = pad_to_bucket([[101, 7, 102], [101, 102]], 8, pad_token_id=0)
    assert input_ids.dtype == np.int64 and input_ids.shape == (2, 8)
    assert input_ids[0].tolist() == [101, 7, 102, 0, 0, 0, 0, 0]
    assert mask.tolist() == [[1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]]


def test_grouping_covers_every_text_once_splits_at_max_batch_and_keeps_positions() -> None:
    lengths = [3, 40, 5, 300, 20, 7, 3, 33]
    encoded = [EncodedText(windows=[list(range(n))]) for n in lengths]
    batches = plan_batches(encoded, score_windows=False, buckets=BUCKETS, pad_token_id=0, max_batch_size=2)
    covered = sorted(owner for batch in batches for owner in batch.owners)
    assert covered == list(range(len(lengths)))
    for batch in batches:
        assert len(batch.owners) <= 2
        for row, owner in enumerate(batch.owners):
            assert batch.bucket == bucket_for(lengths[owner], BUCKETS)
            assert int(batch.row_tokens[row]) == lengths[owner]


def test_windows_of_a_long_text_travel_together_in_their_own_batch() -> None:
    long_text = EncodedText(windows=[list(range(512)), list(range(512)), list(range(200))])
    short = EncodedText(windows=[list(range(10))])
    batches = plan_batches([short, long_text, short], True, BUCKETS, pad_token_id=0, max_batch_size=64)
    [windows_batch] = [batch for batch in batches if 1 in batch.owners]
    assert windows_batch.owners == [1, 1, 1] and windows_batch.bucket == 512
    assert windows_batch.row_tokens.tolist() == [512, 512, 200]
    truncating = plan_batches([short, long_text], False, BUCKETS, pad_token_id=0, max_batch_size=64)
    assert sorted(owner for batch in truncating for owner in batch.owners) == [0, 1]


def test_windows_are_combined_weighted_by_their_tokens() -> None:
    row_logits = np.array([[1.0, 0.0], [0.0, 4.0], [2.0, 2.0]])
    combined = combine_windows(row_logits, owners=[0, 0, 1], row_tokens=np.array([300, 100, 7]), texts=2)
    np.testing.assert_allclose(combined, [[0.75, 1.0], [2.0, 2.0]])


def test_neutral_band_applies_to_two_label_models_only() -> None:
    labels = ["NEGATIVE", "POSITIVE"]
    unsure = np.array([0.45, 0.55])
    assert to_prediction(unsure, labels, neutral_threshold=0.7).label == "NEUTRAL"
    assert to_prediction(unsure, labels, neutral_threshold=0.7).scores == {"NEGATIVE": 0.45, "POSITIVE": 0.55}
    assert to_prediction(unsure, labels, neutral_threshold=None).label == "POSITIVE"
    assert to_prediction(np.array([0.05, 0.95]), labels, neutral_threshold=0.7).label == "POSITIVE"
    three = ["negative", "neutral", "positive"]
    assert to_prediction(np.array([0.3, 0.3, 0.4]), three, neutral_threshold=0.9).label == "positive"


def test_cache_keys_ignore_whitespace_and_unicode_form_but_not_version_or_mode() -> None:
    key = cache_key("sentiment", "1", "truncate", "Caf\u00e9  was\tgreat ")
    assert key == cache_key("sentiment", "1", "truncate", " Cafe\u0301 was great")
    assert key != cache_key("sentiment", "2", "truncate", "Caf\u00e9 was great")
    assert key != cache_key("sentiment", "1", "windows", "Caf\u00e9 was great")
    assert key != cache_key("sentiment", "1", "truncate", "caf\u00e9 was great")


def test_softmax_is_stable_for_huge_logits() -> None:
    probabilities = softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0]]))
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities, [[1.0, 0.0], [0.5, 0.5]])


def test_predictions_name_the_winner_and_every_score() -> None:
    prediction = to_prediction(softmax(np.array([-1.0, 2.0])), ["NEGATIVE", "POSITIVE"], neutral_threshold=None)
    assert prediction.label == "POSITIVE"
    assert prediction.score == pytest.approx(1 / (1 + np.exp(-3)))
    assert sum(prediction.scores.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("location", "name"),
    [(("body", "texts", 3), "texts[3]"), (("body", "text"), "text"), (("body",), "body"), (("body", "a", "b"), "a.b")],
)
def test_error_field_names_read_like_the_request(location: tuple, name: str) -> None:
    assert field_name(location) == name
