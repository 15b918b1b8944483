"""Text to bucketed tensors: tokenize, pick a length bucket, pad, group into Triton-sized batches.

Triton's dynamic batcher only merges requests whose tensors have the same shape, so padding every
text to the next of a few fixed lengths is what lets concurrent requests share one model run.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


@dataclass(frozen=True)
class EncodedText:
    """A text's token ids: the first window, then the overflow windows of a longer text."""

    windows: list[list[int]]

    @property
    def truncated(self) -> bool:
        return len(self.windows) > 1

    @property
    def first_window_tokens(self) -> int:
        return len(self.windows[0])


@dataclass(frozen=True)
class BucketBatch:
    """Rows padded to one bucket, at most ``max_batch_size`` of them, each row belonging to a text."""

    owners: list[int]  # the request position of the text each row belongs to
    input_ids: np.ndarray  # int64 [rows, bucket]
    attention_mask: np.ndarray  # int64 [rows, bucket]

    @property
    def bucket(self) -> int:
        return int(self.input_ids.shape[1])

    @property
    def row_tokens(self) -> np.ndarray:
        """Real tokens per row: the weight of a window when a text's windows are combined."""
        return self.attention_mask.sum(axis=1)

    def chunks(self, max_rows: int) -> list["BucketBatch"]:
        """The batch cut into consecutive pieces of at most ``max_rows`` rows (views, no copy), in order."""
        if len(self.owners) <= max_rows:
            return [self]  # every interactive request: no new objects on the hot path
        return [
            BucketBatch(
                self.owners[start : start + max_rows],
                self.input_ids[start : start + max_rows],
                self.attention_mask[start : start + max_rows],
            )
            for start in range(0, len(self.owners), max_rows)
        ]


Row = tuple[int, list[int]]  # (owner, token ids)


def effective_buckets(buckets: Sequence[int], max_length: int) -> list[int]:
    """The configured buckets below the model's maximum, then the maximum itself."""
    return [bucket for bucket in buckets if bucket < max_length] + [max_length]


def bucket_for(length: int, buckets: Sequence[int]) -> int:
    """The smallest bucket that holds ``length`` tokens (texts are truncated to the last bucket)."""
    for bucket in buckets:
        if length <= bucket:
            return bucket
    raise ValueError(f"{length} tokens exceed the largest bucket {buckets[-1]}")


def pad_to_bucket(sequences: Sequence[list[int]], bucket: int, pad_token_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``sequences`` to ``bucket``; the mask is 1 on real tokens."""
    input_ids = np.full((len(sequences), bucket), pad_token_id, dtype=np.int64)
    attention_mask = np.zeros((len(sequences), bucket), dtype=np.int64)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def _split(rows: Sequence[Row], bucket: int, pad_token_id: int, max_batch_size: int) -> list[BucketBatch]:
    batches = []
    for start in range(0, len(rows), max_batch_size):
        chunk = rows[start : start + max_batch_size]
        input_ids, attention_mask = pad_to_bucket([ids for _, ids in chunk], bucket, pad_token_id)
        batches.append(BucketBatch([owner for owner, _ in chunk], input_ids, attention_mask))
    return batches


def group_by_bucket(
    rows: Sequence[Row], buckets: Sequence[int], pad_token_id: int, max_batch_size: int
) -> list[BucketBatch]:
    """Group rows by bucket and split each group into batches Triton accepts, keeping owners."""
    by_bucket: dict[int, list[Row]] = {}
    for row in rows:
        by_bucket.setdefault(bucket_for(len(row[1]), buckets), []).append(row)
    return [
        batch
        for bucket, grouped in sorted(by_bucket.items())
        for batch in _split(grouped, bucket, pad_token_id, max_batch_size)
    ]


def plan_batches(
    encoded: Sequence[EncodedText], score_windows: bool, buckets: Sequence[int], pad_token_id: int, max_batch_size: int
) -> list[BucketBatch]:
    """The Triton batches for a request.

    Single-window texts are grouped by bucket across the request. With ``score_windows``, a text of
    several windows gets batches of its own (padded to its longest window), so its windows go to
    Triton together and one text's length never inflates the padding of the others.
    """
    single: list[Row] = []
    batches: list[BucketBatch] = []
    for owner, text in enumerate(encoded):
        if score_windows and text.truncated:
            bucket = bucket_for(max(len(window) for window in text.windows), buckets)
            batches += _split([(owner, window) for window in text.windows], bucket, pad_token_id, max_batch_size)
        else:
            single.append((owner, text.windows[0]))
    return group_by_bucket(single, buckets, pad_token_id, max_batch_size) + batches


class TextEncoder:
    """The Hugging Face fast tokenizer the export wrote, cutting text into windows of the model's maximum."""

    def __init__(self, tokenizer_file: Path, max_length: int, window_stride: int) -> None:
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # Padding is ours (to buckets, in numpy). Truncation keeps [CLS] ... [SEP] within max_length; the
        # overflow comes back as further windows, each overlapping the previous one by ``window_stride`` tokens.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length, stride=window_stride)

    def encode(self, texts: list[str]) -> list[EncodedText]:
        return [
            EncodedText(windows=[encoding.ids] + [overflow.ids for overflow in encoding.overflowing])
            for encoding in self.tokenizer.encode_batch(texts)
        ]
