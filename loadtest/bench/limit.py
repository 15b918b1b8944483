"""The limit: what this machine can do with ``model.onnx`` when nothing but inference costs anything.

ONNX Runtime in the benchmark's own process, on the same ``model.onnx`` Triton serves, configured
like the Triton CPU model, with the gateway's own tokenizer and length buckets, and an ideal
batcher: every request waiting, up to the best batch size (measured by ``sweep_batch_sizes``),
runs as one call, with no transport, no JSON and no queue delay. No deployment on this machine can
beat it, so every served system is reported as a fraction of it.
"""

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from contract.metadata import ServingMetadata
from gateway.pipeline.tokenization import BucketBatch, TextEncoder, effective_buckets, plan_batches
from gateway.settings import Settings

if TYPE_CHECKING:
    import onnxruntime as ort

GATEWAY_BUCKETS: tuple[int, ...] = Settings.model_fields["length_buckets"].default
GATEWAY_WINDOW_STRIDE: int = Settings.model_fields["window_stride"].default
# Up to 64, though the export allows 256: at the concurrencies measured (at most 128, over several buckets) the
# served batches stay near or under 64, and a batch the served model never gets would flatter the limit.
BATCH_SIZE_CANDIDATES = (1, 2, 4, 8, 16, 32, 64)


class BadAnswer(RuntimeError):
    """A system answered, but not with what the API promises (status, schema, label or tensor shape)."""


def make_session(model_path: Path, threads: int) -> "ort.InferenceSession":
    """ONNX Runtime set up exactly like the Triton CPU model (export/python_backend_model.py)."""
    # Imported here: the systems and the report import this module, and the fast tests import those.
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def gateway_encoder(version_dir: Path, metadata: ServingMetadata) -> TextEncoder:
    """The gateway's own tokenizer wrapper on the export's tokenizer, with the gateway's default settings."""
    tokenizer_file = version_dir / metadata.tokenizer_dir / "tokenizer.json"
    return TextEncoder(tokenizer_file, metadata.max_length, GATEWAY_WINDOW_STRIDE)


def gateway_batches(
    encoder: TextEncoder, metadata: ServingMetadata, texts: Sequence[str], max_batch_size: int
) -> list[BucketBatch]:
    """The padded batches the gateway would send for ``texts`` by default (long text truncated, not windowed)."""
    buckets = effective_buckets(GATEWAY_BUCKETS, metadata.max_length)
    return plan_batches(encoder.encode(list(texts)), False, buckets, metadata.pad_token_id, max_batch_size)


class OnnxClassifier:
    """Tokenize with the gateway's encoder, pad to the gateway's buckets, run ``model.onnx``."""

    def __init__(self, version_dir: Path, threads: int) -> None:
        self.metadata = ServingMetadata.read(version_dir)
        self.encoder = gateway_encoder(version_dir, self.metadata)
        self.session = make_session(version_dir / "model.onnx", threads)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Logits in input order; one ONNX Runtime call per bucket present, as Triton's model does."""
        batches = gateway_batches(self.encoder, self.metadata, texts, max_batch_size=len(texts))
        logits = np.empty((len(texts), len(self.metadata.labels)), dtype=np.float32)
        for batch in batches:
            feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
            feeds = {name: feeds[name] for name in self.metadata.input_names}
            logits[batch.owners] = self.session.run([self.metadata.output_name], feeds)[0]
        return logits


class InProcessLimit:
    """The ideal server: requests queue in memory and one worker thread runs them in batches.

    The worker takes everything waiting, up to ``max_batch_size`` (the best batch size measured
    beforehand), as Triton's dynamic batcher would with no delay and no transport.
    """

    name = "limit"

    def __init__(self, classifier: OnnxClassifier, texts: Sequence[str], max_batch_size: int) -> None:
        self.classifier = classifier
        self.texts = list(texts)
        self.max_batch_size = max_batch_size
        self._pending: list[tuple[int, asyncio.Future]] = []
        self._has_work = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="limit-batcher")
        self._worker: asyncio.Task | None = None

    async def open(self) -> None:
        self._worker = asyncio.create_task(self._run_batches())

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=True)

    def server_pids(self) -> list[int]:
        return []

    async def send(self, index: int) -> int:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((index, future))
        self._has_work.set()
        row = await future
        if row.shape != (len(self.classifier.metadata.labels),):
            raise BadAnswer(f"logits of shape {row.shape}")
        return 1

    async def _run_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._has_work.wait()
            batch, self._pending = self._pending[: self.max_batch_size], self._pending[self.max_batch_size :]
            if not self._pending:
                self._has_work.clear()
            texts = [self.texts[index] for index, _ in batch]
            try:
                logits = await loop.run_in_executor(self._executor, self.classifier.logits, texts)
            except Exception as error:  # fail these requests, keep serving the next ones
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), row in zip(batch, logits, strict=True):
                if not future.done():
                    future.set_result(row)


def sweep_batch_sizes(
    classifier: OnnxClassifier,
    texts: Sequence[str],
    min_seconds: float = 1.0,
    candidates: Sequence[int] = BATCH_SIZE_CANDIDATES,
) -> dict[int, float]:
    """Offline texts/s at each batch size, over consecutive corpus texts, for at least ``min_seconds``
    and two batches each (the first batch of a new shape pays for ONNX Runtime's allocations)."""
    throughput = {}
    for batch_size in candidates:
        classifier.logits(texts[:batch_size])  # warm this shape
        done, started, offset = 0, time.perf_counter(), 0
        while done < 2 * batch_size or time.perf_counter() - started < min_seconds:
            chunk = [texts[(offset + i) % len(texts)] for i in range(batch_size)]
            classifier.logits(chunk)
            done += batch_size
            offset += batch_size
        throughput[batch_size] = done / (time.perf_counter() - started)
    return throughput
