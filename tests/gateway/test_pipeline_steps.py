"""The pipeline's pure steps, alone: bucketing, padding, grouping, softmax, error field names."""

import numpy as np
import pytest

from gateway.error_handlers import field_name
from gateway.postprocess import logits_to_predictions, softmax
from gateway.tokenization import EncodedText, bucket_for, effective_buckets, group_by_bucket, pad_to_bucket

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
    encoded = [EncodedText(ids=list(range(n)), truncated=False) for n in lengths]
    batches = group_by_bucket(encoded, BUCKETS, pad_token_id=0, max_batch_size=2)
    covered = sorted(index for batch in batches for index in batch.indices)
    assert covered == list(range(len(lengths)))
    for batch in batches:
        assert len(batch.indices) <= 2
        for row, index in enumerate(batch.indices):
            assert batch.bucket == bucket_for(lengths[index], BUCKETS)
            assert int(batch.attention_mask[row].sum()) == lengths[index]


def test_softmax_is_stable_for_huge_logits() -> None:
    probabilities = softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0]]))
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities, [[1.0, 0.0], [0.5, 0.5]])


def test_predictions_name_the_winner_and_every_score() -> None:
    [prediction] = logits_to_predictions(np.array([[-1.0, 2.0]], dtype=np.float32), ["NEGATIVE", "POSITIVE"])
    assert prediction.label == "POSITIVE"
    assert prediction.score == pytest.approx(1 / (1 + np.exp(-3)))
    assert sum(prediction.scores.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("location", "name"),
    [(("body", "texts", 3), "texts[3]"), (("body", "text"), "text"), (("body",), "body"), (("body", "a", "b"), "a.b")],
)
def test_error_field_names_read_like_the_request(location: tuple, name: str) -> None:
    assert field_name(location) == name
