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
    ids: list[int]
    truncated: bool


@dataclass(frozen=True)
class BucketBatch:
    """Texts of one request that share a bucket, padded to it; at most ``max_batch_size`` rows."""

    indices: list[int]  # positions of these texts in the request
    input_ids: np.ndarray  # int64 [rows, bucket]
    attention_mask: np.ndarray  # int64 [rows, bucket]

    @property
    def bucket(self) -> int:
        return int(self.input_ids.shape[1])


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


def group_by_bucket(
    encoded: Sequence[EncodedText], buckets: Sequence[int], pad_token_id: int, max_batch_size: int
) -> list[BucketBatch]:
    """Group texts by bucket and split each group into batches Triton accepts, keeping positions."""
    by_bucket: dict[int, list[int]] = {}
    for index, text in enumerate(encoded):
        by_bucket.setdefault(bucket_for(len(text.ids), buckets), []).append(index)
    batches = []
    for bucket, indices in sorted(by_bucket.items()):
        for start in range(0, len(indices), max_batch_size):
            chunk = indices[start : start + max_batch_size]
            input_ids, attention_mask = pad_to_bucket([encoded[i].ids for i in chunk], bucket, pad_token_id)
            batches.append(BucketBatch(indices=chunk, input_ids=input_ids, attention_mask=attention_mask))
    return batches


class TextEncoder:
    """The Hugging Face fast tokenizer the export wrote, truncating at the model's maximum."""

    def __init__(self, tokenizer_file: Path, max_length: int) -> None:
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # Padding is ours (to buckets, in numpy); truncation keeps [CLS] ... [SEP] within max_length.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)

    def encode(self, texts: list[str]) -> list[EncodedText]:
        return [
            EncodedText(ids=encoding.ids, truncated=bool(encoding.overflowing))
            for encoding in self.tokenizer.encode_batch(texts)
        ]
