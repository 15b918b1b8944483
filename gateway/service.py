"""The inference pipeline: limits -> tokenize -> bucket -> infer on Triton -> labels, in request order."""

import asyncio
from dataclasses import dataclass

import numpy as np

from export.metadata import ServingMetadata
from gateway import metrics
from gateway.errors import GatewayError
from gateway.postprocess import logits_to_predictions
from gateway.schemas import SentimentResult
from gateway.settings import Settings
from gateway.tokenization import BucketBatch, TextEncoder, effective_buckets, group_by_bucket
from gateway.triton import TritonModel


@dataclass
class SentimentService:
    """Everything a request needs, built once per worker in the app's lifespan."""

    metadata: ServingMetadata
    version: str
    encoder: TextEncoder
    triton: TritonModel
    buckets: list[int]
    timeout_s: float

    @classmethod
    def create(
        cls,
        metadata: ServingMetadata,
        version: str,
        encoder: TextEncoder,
        triton: TritonModel,
        settings: Settings,
    ) -> "SentimentService":
        buckets = effective_buckets(settings.length_buckets, metadata.max_length)
        return cls(metadata, version, encoder, triton, buckets, settings.triton_timeout_s)

    async def classify(self, texts: list[str], route: str) -> list[SentimentResult]:
        """One result per text, in input order. Batches of different buckets go to Triton concurrently.

        One deadline covers all of a request's Triton calls, counted from when the work starts.
        """
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        encoded = self.encoder.encode(texts)
        batches = group_by_bucket(encoded, self.buckets, self.metadata.pad_token_id, self.metadata.max_batch_size)
        logits_per_batch = await self._infer_all(batches, deadline)

        logits = np.empty((len(texts), len(self.metadata.labels)), dtype=np.float32)
        for batch, batch_logits in zip(batches, logits_per_batch, strict=True):
            logits[batch.indices] = batch_logits
        predictions = logits_to_predictions(logits, self.metadata.labels)

        metrics.TEXTS_PER_REQUEST.labels(route=route).observe(len(texts))
        for text, prediction in zip(encoded, predictions, strict=True):
            metrics.TOKENS_PER_TEXT.observe(len(text.ids))
            metrics.PREDICTIONS.labels(label=prediction.label).inc()
            metrics.WINNING_SCORE.observe(prediction.score)
        if truncated := sum(text.truncated for text in encoded):
            metrics.TRUNCATED_TEXTS.inc(truncated)
        return [
            SentimentResult(
                label=prediction.label,
                score=prediction.score,
                scores=prediction.scores,
                truncated=text.truncated,
                model=self.metadata.model_name,
                model_version=self.version,
            )
            for text, prediction in zip(encoded, predictions, strict=True)
        ]

    async def _infer_all(self, batches: list[BucketBatch], deadline: float) -> list[np.ndarray]:
        if len(batches) == 1:
            return [await self.triton.infer(batches[0], deadline)]
        try:
            # A TaskGroup cancels the sibling calls as soon as one fails: no work for an answer nobody reads.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.triton.infer(batch, deadline)) for batch in batches]
        except* GatewayError as failures:
            raise failures.exceptions[0] from None
        return [task.result() for task in tasks]
