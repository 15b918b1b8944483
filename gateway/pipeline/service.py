"""The inference pipeline: cache lookup -> tokenize -> bucket -> coalesce on Triton -> combine windows -> labels."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from contract.metadata import ServingMetadata
from gateway import metrics
from gateway.errors import InvalidInput, PayloadTooLarge
from gateway.pipeline.batching import LANES, BulkSizing, Coalescer
from gateway.pipeline.budget import TokenBudget
from gateway.pipeline.cache import ModelOutput, ResultCache, cache_key
from gateway.pipeline.drift import DriftMonitor
from gateway.pipeline.memory import IdleTrim, libc_malloc_trim
from gateway.pipeline.postprocess import combine_windows, softmax, to_prediction
from gateway.pipeline.tokenization import BucketBatch, EncodedText, TextEncoder, effective_buckets, plan_batches
from gateway.pipeline.triton import TritonModel
from gateway.schemas import ScoringOptions, SentimentResult
from gateway.settings import Settings

# How fast the measured drain rate forgets: long enough to ride out one odd call, short enough to follow
# a Triton that slowed down (another replica's load, a GPU throttling) within a few seconds.
DRAIN_RATE_HALF_LIFE_S = 5.0
# Requests with more text than this are tokenized off the event loop (the Rust tokenizer releases the GIL), so
# their tokenizing does not hold up the worker's small requests. Measured on the tiny model's tokenizer: 64 SST-2
# texts (~6,000 characters) take 1.7 ms, not worth a thread hop; 32 x 20,000 characters with windows 116 ms,
# during which the event loop stalled. One thread: big requests are tokenized one at a time, so only one
# request's encodings are being built at once (the default executor let several build at once, and a worker
# peaked at 728 MB RSS under the memory test instead of 248).
OFF_LOOP_CHARS = 8_192


@dataclass
class SentimentService:
    """Everything a request needs, built once per worker in the app's lifespan."""

    metadata: ServingMetadata
    version: str
    encoder: TextEncoder
    triton: TritonModel
    cache: ResultCache | None
    drift: DriftMonitor | None
    settings: Settings

    def __post_init__(self) -> None:
        self.buckets = effective_buckets(self.settings.length_buckets, self.metadata.max_length)
        settings = self.settings
        self.coalescer = Coalescer(
            self.metadata.max_batch_size,
            settings.batch_calls_in_flight,
            self.triton.infer,
            {lane: TokenBudget(settings.max_tokens_held, DRAIN_RATE_HALF_LIFE_S, lane) for lane in LANES},
            settings.interactive_max_tokens,
            BulkSizing(settings.bulk_call_s, settings.bulk_alone_call_s, settings.interactive_max_tokens),
        )
        self.tokenizer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize")
        # The tokenizer's thread also runs the trim: it is idle whenever the worker is.
        trim = libc_malloc_trim() if self.settings.idle_trim_s > 0 else None
        self.idle_trim = IdleTrim(self.settings.idle_trim_s, trim, self.tokenizer_thread)

    async def classify(self, texts: list[str], options: ScoringOptions, route: str) -> list[SentimentResult]:
        """One result per text, in input order; only texts the cache does not know reach Triton."""
        outputs = await self.model_outputs(texts, options.long_text, "text" if route == "/v1/sentiment" else "texts")
        threshold = self.settings.neutral_threshold if options.neutral_threshold is None else options.neutral_threshold
        results = []
        for output in outputs:
            probabilities = np.asarray(output.probabilities)
            prediction = to_prediction(probabilities, self.metadata.labels, threshold)
            results.append(
                SentimentResult(
                    label=prediction.label,
                    score=prediction.score,
                    scores=prediction.scores,
                    truncated=output.truncated,
                    windows=output.windows,
                    model=self.metadata.model_name,
                    model_version=self.version,
                )
            )
        self.record(outputs, [result.label for result in results], route)
        return results

    def record(self, outputs: list[ModelOutput], labels: list[str], route: str) -> None:
        """Count a request's answered texts (``labels``: what was answered) and feed the drift window."""
        for output, label in zip(outputs, labels, strict=True):
            winner = int(np.argmax(output.probabilities))
            if self.drift:
                self.drift.observe(winner, output.probabilities[winner], output.tokens)
            metrics.PREDICTIONS.labels(label=label).inc()
            metrics.WINNING_SCORE.observe(output.probabilities[winner])
        metrics.TEXTS_PER_REQUEST.labels(route=route).observe(len(outputs))
        if self.drift:
            self.drift.publish()

    async def model_outputs(self, texts: list[str], long_text: str, field: str) -> list[ModelOutput]:
        """The model's probabilities per text, in order: cache, then one costed, coalesced pass for the misses.

        v2 sends every row of a request (texts, sentences, occlusion variants) through here in one call,
        so they meet the same per-request limits, token budget and coalescer as v1's texts.
        """
        with self.idle_trim.working():
            outputs: list[ModelOutput | None] = [None] * len(texts)
            if self.cache:
                keys = [cache_key(self.metadata.model_name, self.version, long_text, text) for text in texts]
                outputs = await self.cache.get_many(keys)
            misses = [index for index, output in enumerate(outputs) if output is None]
            if misses:
                computed = await self._run_model(texts, misses, long_text == "windows", field)
                for index, output in zip(misses, computed, strict=True):
                    outputs[index] = output
                if self.cache:
                    await self.cache.set_many({keys[i]: output for i, output in zip(misses, computed, strict=True)})
            return outputs

    async def close(self) -> None:
        """Stop the coalescer's calls, then the Triton client they use."""
        await self.coalescer.close()
        await self.triton.close()
        self.idle_trim.cancel()
        self.tokenizer_thread.shutdown(wait=False, cancel_futures=True)

    def check_cost(self, batches: list[BucketBatch], positions: list[int], field: str) -> None:
        """The per-request limits on work, known once tokenized: windows per text, padded tokens per request.

        ``positions`` are the texts' places in the request, so the error names the one the client sent.
        """
        limit = self.settings.max_windows_per_text
        for position, rows in zip(positions, text_rows(batches, len(positions)), strict=True):
            if rows > limit:
                raise InvalidInput(
                    f"the text needs {rows} windows of {self.metadata.max_length} tokens; the limit is "
                    f"{limit} (GATEWAY_MAX_WINDOWS_PER_TEXT). Split it, or score its beginning (long_text=truncate)",
                    field=field if field == "text" else f"texts[{position}]",
                )
        tokens = sum(batch.input_ids.size for batch in batches)
        if tokens > self.settings.max_tokens_per_request:
            raise PayloadTooLarge(
                f"the request needs {tokens} padded tokens; the limit is {self.settings.max_tokens_per_request} "
                "(GATEWAY_MAX_TOKENS_PER_REQUEST). Split it into smaller requests",
                field=field,
            )

    def _tokenize(self, texts: list[str], score_windows: bool) -> tuple[list[EncodedText], list[BucketBatch]]:
        encoded = self.encoder.encode(texts)
        batches = plan_batches(
            encoded, score_windows, self.buckets, self.metadata.pad_token_id, self.metadata.max_batch_size
        )
        return encoded, batches

    async def _run_model(
        self, request_texts: list[str], positions: list[int], score_windows: bool, field: str
    ) -> list[ModelOutput]:
        # One deadline covers all of a request's Triton calls, counted from when the work starts.
        deadline = asyncio.get_running_loop().time() + self.settings.triton_timeout_s
        texts = [request_texts[position] for position in positions]
        with metrics.TOKENIZE_SECONDS.time():
            if sum(map(len, texts)) > OFF_LOOP_CHARS:
                loop = asyncio.get_running_loop()
                encoded, batches = await loop.run_in_executor(
                    self.tokenizer_thread, self._tokenize, texts, score_windows
                )
            else:
                encoded, batches = self._tokenize(texts, score_windows)
        self.check_cost(batches, positions, field)
        row_logits = await self.coalescer.infer(batches, deadline)
        logits = combine_windows(
            np.concatenate(row_logits),
            [owner for batch in batches for owner in batch.owners],
            np.concatenate([batch.row_tokens for batch in batches]),
            len(texts),
        )
        outputs = []
        for text, probabilities in zip(encoded, softmax(logits), strict=True):
            metrics.TOKENS_PER_TEXT.observe(text.first_window_tokens)
            if text.truncated and not score_windows:
                metrics.TRUNCATED_TEXTS.inc()
            outputs.append(
                ModelOutput(
                    probabilities=probabilities.tolist(),
                    truncated=text.truncated and not score_windows,
                    windows=len(text.windows) if score_windows else 1,
                    tokens=text.first_window_tokens,
                )
            )
        return outputs


def text_rows(batches: list[BucketBatch], texts: int) -> list[int]:
    """Rows each text has in ``batches``: its scored windows (one when truncated, whatever its length)."""
    return np.bincount(np.concatenate([batch.owners for batch in batches]), minlength=texts).tolist()
