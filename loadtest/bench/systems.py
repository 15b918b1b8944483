"""The served systems under test, each behind one ``send(index)`` coroutine that classifies corpus item ``index``.

Every system classifies one text per request, so texts/s and requests/s are the same number and
the systems differ only in what sits between the caller and ``model.onnx`` (the in-process
``limit`` they are compared with lives in ``limit``):

- ``triton``: tritonclient straight to Triton (what the gateway adds is then the difference to
  ``stack``). Texts are tokenized and padded once before the run: tokenizing is the gateway's job,
  not Triton's, and doing it per request would bill the load generator for it.
- ``stack`` (and its variants ``stack-cached``, ``stack-strict``) and ``baseline``: JSON over HTTP to
  ``POST /v1/sentiment``, of the gateway and of the seed-style pipeline server respectively; bodies
  are encoded once before the run.
"""

import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import aiohttp
import numpy as np
import psutil
import tritonclient.http.aio as triton_http

from contract.metadata import ServingMetadata
from loadtest.bench.limit import BadAnswer, gateway_batches, gateway_encoder

HTTP_TIMEOUT_S = 120  # generous: the baseline at concurrency 128 answers in seconds, and a timeout is an error


class TritonDirect:
    """tritonclient's asyncio HTTP client sending one pre-tokenized text per inference request."""

    name = "triton"

    def __init__(self, url: str, version_dir: Path, texts: Sequence[str], concurrency: int, pid: int) -> None:
        self.metadata = ServingMetadata.read(version_dir)
        encoder = gateway_encoder(version_dir, self.metadata)
        self.tensors: list[dict[str, np.ndarray]] = []
        for text in texts:
            (batch,) = gateway_batches(encoder, self.metadata, [text], max_batch_size=1)
            self.tensors.append({"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
        self.url = url
        self.concurrency = concurrency
        self.pid = pid
        self.client: triton_http.InferenceServerClient | None = None

    async def open(self) -> None:
        self.client = triton_http.InferenceServerClient(self.url, conn_limit=max(self.concurrency, 1))

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    def server_pids(self) -> list[int]:
        return [self.pid]

    async def send(self, index: int) -> int:
        inputs = []
        for name in self.metadata.input_names:
            tensor = self.tensors[index][name]
            infer_input = triton_http.InferInput(name, list(tensor.shape), self.metadata.input_dtype)
            infer_input.set_data_from_numpy(tensor, binary_data=True)
            inputs.append(infer_input)
        outputs = [triton_http.InferRequestedOutput(self.metadata.output_name, binary_data=True)]
        result = await self.client.infer(self.metadata.model_name, inputs, outputs=outputs)
        logits = result.as_numpy(self.metadata.output_name)
        if logits is None or logits.shape != (1, len(self.metadata.labels)):
            raise BadAnswer(f"logits of shape {None if logits is None else logits.shape}")
        return 1


class JsonHttpSystem:
    """``POST {"text": ...}`` over one pooled aiohttp session; any non-200 or off-schema answer is an error."""

    def __init__(
        self, name: str, url: str, texts: Sequence[str], labels: Sequence[str], concurrency: int, pids: list[int]
    ) -> None:
        self.name = name
        self.url = url
        self.bodies = [json.dumps({"text": text}).encode() for text in texts]
        self.labels = frozenset(labels)
        self.concurrency = concurrency
        self.pids = pids
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=max(self.concurrency, 1))
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S),
            headers={"Content-Type": "application/json"},
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def server_pids(self) -> list[int]:
        return self.pids

    async def send(self, index: int) -> int:
        async with self.session.post(self.url, data=self.bodies[index]) as response:
            raw = await response.read()
            if response.status != 200:
                raise BadAnswer(f"HTTP {response.status}: {raw[:200]!r}")
        answer = json.loads(raw)
        if answer.get("label") not in self.labels or not isinstance(answer.get("score"), float):
            raise BadAnswer(f"unexpected answer {raw[:200]!r}")
        return 1


class BatchJsonHttpSystem(JsonHttpSystem):
    """``POST {"texts": [...]}`` to /v1 or /v2: a bulk caller, each request a batch; it counts the texts answered."""

    def __init__(
        self,
        name: str,
        url: str,
        batches: Sequence[Sequence[str]],
        labels: Sequence[str],
        concurrency: int,
        pids: list[int],
        options: dict | None = None,
    ) -> None:
        super().__init__(name, url, [], labels, concurrency, pids)
        # ``options``: the request's other fields, the same in every body (v2's {"explain": true}).
        self.bodies = [json.dumps({"texts": list(batch), **(options or {})}).encode() for batch in batches]
        self.sizes = [len(batch) for batch in batches]

    async def send(self, index: int) -> int:
        async with self.session.post(self.url, data=self.bodies[index]) as response:
            raw = await response.read()
            if response.status != 200:
                raise BadAnswer(f"HTTP {response.status}: {raw[:200]!r}")
        results = json.loads(raw).get("results")
        if not isinstance(results, list) or len(results) != self.sizes[index]:
            raise BadAnswer(f"expected {self.sizes[index]} results, got {raw[:200]!r}")
        if any(result.get("label") not in self.labels for result in results):
            raise BadAnswer(f"unexpected labels in {raw[:200]!r}")
        return len(results)


class StreamJsonHttpSystem(JsonHttpSystem):
    """Like ``JsonHttpSystem``, but every request takes the next text of one stream, across all cells.

    For the answer cache: restarting each cell at the first text would replay the previous cell's texts
    and make the hit rate whatever the cell order makes it, instead of the stream's stated repeat rate.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.position = itertools.count()

    async def send(self, index: int) -> int:
        return await super().send(next(self.position) % len(self.bodies))


def process_tree_cpu(pids: Sequence[int]) -> Callable[[], float]:
    """A clock of the CPU seconds used by ``pids`` and all their children (Triton's Python-backend stub
    and uvicorn's workers are child processes, and they do most of the work)."""
    roots = [psutil.Process(pid) for pid in pids]

    def clock() -> float:
        total = 0.0
        for root in roots:
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for process in processes:
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system
        return total

    return clock
