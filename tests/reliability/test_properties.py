"""Property tests (hypothesis) of the tricky pure steps, and of the whole pipeline through a real gateway.

Pure steps: bucketing, padding, batch planning, window combination, softmax, the real tokenizer.
End to end: order kept, every text answered exactly once, any unicode string answered or refused with 4xx.
"""

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import TINY_MODEL_NAME, GatewayProcess

from contract.metadata import ServingMetadata
from gateway.pipeline.postprocess import combine_windows, softmax
from gateway.pipeline.tokenization import (
    EncodedText,
    TextEncoder,
    bucket_for,
    effective_buckets,
    pad_to_bucket,
    plan_batches,
)

pytestmark = pytest.mark.slow

PURE = settings(max_examples=100, deadline=None, database=None)
# Each example is a real HTTP request through Triton: few, and no flakiness check on wall time.
END_TO_END = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

bucket_lists = st.lists(st.integers(2, 512), min_size=1, max_size=8, unique=True).map(sorted)
# Any code point, lone surrogates included: what a JSON \\uXXXX escape can put into a Python str.
# Surrogates are drawn on purpose as often as the rest: in the full code space they are 2 in 1000.
any_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"])), max_size=300
)


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


MAX_LENGTH = 64
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


@PURE
@given(
    logits=st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=1, max_size=20),
    data=st.data(),
)
def test_combined_windows_stay_within_their_rows(logits: list[tuple[float, float]], data: st.DataObject) -> None:
    texts = data.draw(st.integers(1, len(logits)))
    owners = list(range(texts)) + data.draw(
        st.lists(st.integers(0, texts - 1), min_size=len(logits) - texts, max_size=len(logits) - texts)
    )
    weights = np.array(data.draw(st.lists(st.integers(1, 512), min_size=len(logits), max_size=len(logits))))
    rows = np.array(logits, dtype=np.float32)
    combined = combine_windows(rows, owners, weights, texts)
    assert combined.shape == (texts, 2)
    for text in range(texts):
        own = rows[[row for row, owner in enumerate(owners) if owner == text]]
        assert (combined[text] >= own.min(axis=0) - 1e-4).all() and (combined[text] <= own.max(axis=0) + 1e-4).all()


@PURE
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=20))
def test_softmax_is_a_distribution_even_for_huge_logits(logits: list[tuple[float, float]]) -> None:
    probabilities = softmax(np.array(logits, dtype=np.float64))
    assert np.isfinite(probabilities).all()
    assert np.allclose(probabilities.sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def encoder(model_repository: Path) -> TextEncoder:
    version_dir = model_repository / TINY_MODEL_NAME / "1"
    metadata = ServingMetadata.read(version_dir)
    return TextEncoder(version_dir / metadata.tokenizer_dir / "tokenizer.json", MAX_LENGTH, window_stride=8)


@PURE
@given(text=st.text(max_size=2_000))
def test_the_real_tokenizer_cuts_any_text_into_framed_windows(encoder: TextEncoder, text: str) -> None:
    (encoded,) = encoder.encode([text])
    cls_id, sep_id = encoder.tokenizer.token_to_id("[CLS]"), encoder.tokenizer.token_to_id("[SEP]")
    for window in encoded.windows:
        assert 2 <= len(window) <= MAX_LENGTH
        assert window[0] == cls_id and window[-1] == sep_id
    assert encoded.truncated == (len(encoded.windows) > 1)


def post_json(gateway: GatewayProcess, path: str, payload: object) -> httpx.Response:
    # ensure_ascii: lone surrogates travel as \\uXXXX escapes, exactly as a hostile client would send them.
    body = json.dumps(payload, ensure_ascii=True).encode()
    return httpx.post(gateway.url + path, content=body, headers={"Content-Type": "application/json"}, timeout=30)


@END_TO_END
@given(text=any_text)
def test_any_unicode_string_is_answered_or_refused_with_4xx(open_gateway: GatewayProcess, text: str) -> None:
    response = post_json(open_gateway, "/v1/sentiment", {"text": text})
    if response.status_code == 200:
        assert response.json()["label"] in {"NEGATIVE", "POSITIVE"}
    else:
        assert 400 <= response.status_code < 500, f"{response.status_code} for {text!r}: {response.text[:300]}"
        assert response.json()["error"]["type"] == "invalid_input"


@END_TO_END
@given(texts=st.lists(st.text(min_size=1, max_size=200).filter(str.strip), min_size=1, max_size=30))
def test_batch_answers_every_text_once_in_order(open_gateway: GatewayProcess, texts: list[str]) -> None:
    forward = post_json(open_gateway, "/v1/sentiment/batch", {"texts": texts})
    backward = post_json(open_gateway, "/v1/sentiment/batch", {"texts": texts[::-1]})
    assert forward.status_code == backward.status_code == 200, forward.text
    forward_results, backward_results = forward.json()["results"], backward.json()["results"][::-1]
    assert len(forward_results) == len(texts) == len(backward_results)
    # The same text gets the same scores wherever it sits in the batch: nothing was shuffled or swapped.
    for ahead, behind in zip(forward_results, backward_results, strict=True):
        assert ahead["scores"] == pytest.approx(behind["scores"], abs=1e-4)
