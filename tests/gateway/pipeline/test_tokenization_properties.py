"""Property tests (hypothesis) of the tokenization steps: bucketing, padding, batch planning.
The real tokenizer's property needs an exported model: tests/reliability/test_properties.py."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_support import MAX_LENGTH, PURE

from gateway.pipeline.tokenization import EncodedText, bucket_for, effective_buckets, pad_to_bucket, plan_batches

pytestmark = pytest.mark.fast

bucket_lists = st.lists(st.integers(2, 512), min_size=1, max_size=8, unique=True).map(sorted)


@PURE
@given(buckets=bucket_lists, data=st.data())
def test_bucket_is_the_smallest_that_holds_the_text(buckets: list[int], data: st.DataObject) -> None:
    length = data.draw(st.integers(0, buckets[-1]))
    bucket = bucket_for(length, buckets)
    assert bucket in buckets and bucket >= length
    assert all(smaller < length for smaller in buckets if smaller < bucket)


@PURE
@given(buckets=bucket_lists, max_length=st.integers(2, 1024))
def test_effective_buckets_are_ascending_and_end_at_the_maximum(buckets: list[int], max_length: int) -> None:
    effective = effective_buckets(buckets, max_length)
    assert effective[-1] == max_length and effective == sorted(set(effective))


token_lists = st.lists(st.integers(1, 30_000), min_size=1, max_size=64)


@PURE
@given(sequences=st.lists(token_lists, min_size=1, max_size=16), extra=st.integers(0, 16), pad=st.integers(0, 5))
def test_padding_keeps_every_token_and_masks_only_padding(sequences: list[list[int]], extra: int, pad: int) -> None:
    bucket = max(len(ids) for ids in sequences) + extra
    input_ids, mask = pad_to_bucket(sequences, bucket, pad)
    assert input_ids.shape == mask.shape == (len(sequences), bucket)
    for row, ids in enumerate(sequences):
        assert input_ids[row, : len(ids)].tolist() == ids
        assert mask[row].tolist() == [1] * len(ids) + [0] * (bucket - len(ids))
        assert (input_ids[row, len(ids) :] == pad).all()


encoded_texts = st.lists(
    st.lists(st.lists(st.integers(1, 30_000), min_size=2, max_size=MAX_LENGTH), min_size=1, max_size=4).map(
        lambda windows: EncodedText(windows=windows)
    ),
    min_size=1,
    max_size=40,
)


@PURE
@given(
    encoded=encoded_texts,
    score_windows=st.booleans(),
    buckets=st.lists(st.integers(2, MAX_LENGTH - 1), max_size=4, unique=True).map(sorted),
    max_batch_size=st.integers(1, 8),
)
def test_batch_plan_covers_every_text_exactly_once_in_batches_triton_accepts(
    encoded: list[EncodedText], score_windows: bool, buckets: list[int], max_batch_size: int
) -> None:
    buckets = effective_buckets(buckets, MAX_LENGTH)
    batches = plan_batches(encoded, score_windows, buckets, pad_token_id=0, max_batch_size=max_batch_size)
    rows_of: dict[int, list[list[int]]] = {}
    for batch in batches:
        assert 1 <= len(batch.owners) <= max_batch_size
        assert batch.bucket in buckets
        for row, owner in enumerate(batch.owners):
            tokens = int(batch.row_tokens[row])
            rows_of.setdefault(owner, []).append(batch.input_ids[row, :tokens].tolist())
    assert sorted(rows_of) == list(range(len(encoded))), "a text was dropped or invented"
    for owner, text in enumerate(encoded):
        expected = text.windows if score_windows and text.truncated else text.windows[:1]
        assert rows_of[owner] == expected, f"text {owner}: rows out of order, duplicated or changed"
