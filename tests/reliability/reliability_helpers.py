"""Helpers the reliability tests import: paced test models and bounded load loops.

Every load loop here is bounded twice, by a request count and by a wall-clock budget, and only ever
talks to 127.0.0.1: these tests share two cores with everything else on the machine.
"""

import asyncio
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support import REPO_ROOT, TINY_MODEL_NAME, RunningTriton, metric_value, scrape

SLOW_MODEL_CODE = REPO_ROOT / "tests" / "gateway" / "slow_model" / "model.py"

# Statuses a gateway may answer under overload or faults; anything else (500, 502, a dropped
# connection) is a bug these tests exist to find.
SHED = frozenset({429, 503})
FAULT_STATUSES = frozenset({200, 503, 504})


@dataclass(frozen=True)
class PacedModel:
    """A Triton python-backend model that sleeps ``sleep_s`` per execution: a real server with a known capacity."""

    name: str
    sleep_s: float
    max_batch_size: int
    max_queue_size: int

    def config(self) -> str:
        return f"""name: "{self.name}"
backend: "python"
max_batch_size: {self.max_batch_size}
input [
  {{ name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "attention_mask" data_type: TYPE_INT64 dims: [ -1 ] }}
]
output [ {{ name: "logits" data_type: TYPE_FP32 dims: [ 2 ] }} ]
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
dynamic_batching {{
  default_queue_policy {{
    timeout_action: REJECT
    default_timeout_microseconds: 30000000
    allow_timeout_override: true
    max_queue_size: {self.max_queue_size}
  }}
}}
parameters: {{ key: "SLEEP_S" value: {{ string_value: "{self.sleep_s}" }} }}
"""


def write_paced_repository(repository: Path, tiny_repository: Path, models: list[PacedModel]) -> Path:
    """A model repository of paced models sharing the tiny model's tokenizer and metadata."""
    tiny_version = tiny_repository / TINY_MODEL_NAME / "1"
    metadata = json.loads((tiny_version / "serving_metadata.json").read_text())
    for model in models:
        version_dir = repository / model.name / "1"
        shutil.copytree(tiny_version / "tokenizer", version_dir / "tokenizer")
        shutil.copyfile(SLOW_MODEL_CODE, version_dir / "model.py")
        (repository / model.name / "config.pbtxt").write_text(model.config())
        (version_dir / "serving_metadata.json").write_text(
            json.dumps({**metadata, "model_name": model.name, "max_batch_size": model.max_batch_size})
        )
    return repository


def triton_counter(triton: RunningTriton, metric: str, model: str) -> float:
    """One of Triton's per-model counters (``nv_inference_count``: rows run)."""
    return metric_value(scrape(triton.metrics_url), metric, model=model)


@dataclass(frozen=True)
class Outcome:
    """One request of a load loop: when it started (monotonic), how long it took, and its status or failure."""

    started: float
    elapsed_s: float
    status: int | None
    failure: str | None = None
    error_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


async def send(client: httpx.AsyncClient, path: str, payload: dict, headers: dict | None = None) -> Outcome:
    """One POST, never raising: a transport failure is an outcome like any other."""
    started = time.monotonic()
    try:
        response = await client.post(path, json=payload, headers=headers)
    except httpx.HTTPError as error:
        return Outcome(started, time.monotonic() - started, None, f"{type(error).__name__}: {error}")
    error_type = None
    if response.status_code != 200:
        try:
            error_type = response.json()["error"]["type"]
        except (ValueError, KeyError, TypeError):
            error_type = "<not the error schema>"
    return Outcome(started, time.monotonic() - started, response.status_code, None, error_type, dict(response.headers))


async def closed_loop(
    client: httpx.AsyncClient,
    path: str,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    payload: dict | None = None,
) -> list[Outcome]:
    """``concurrency`` clients, each sending its next request when the last one answered, until either bound."""
    outcomes: list[Outcome] = []
    stop_at = time.monotonic() + duration_s

    async def client_loop(index: int) -> None:
        while time.monotonic() < stop_at and len(outcomes) < max_requests:
            outcome = await send(client, path, payload or {"text": f"load request {index} {len(outcomes)}"})
            outcomes.append(outcome)
            if outcome.status != 200:
                await asyncio.sleep(0.01)  # a refusal comes back in microseconds; do not spin on the shared cores

    await asyncio.gather(*(client_loop(index) for index in range(concurrency)))
    return outcomes


async def open_loop(
    client: httpx.AsyncClient, path: str, rate_per_s: float, duration_s: float, max_requests: int
) -> list[Outcome]:
    """Requests started at a fixed rate whatever the answers: how real overload arrives."""
    count = min(max_requests, int(rate_per_s * duration_s))
    interval = 1.0 / rate_per_s
    started = time.monotonic()
    tasks = []
    for index in range(count):
        await asyncio.sleep(max(0.0, started + index * interval - time.monotonic()))
        tasks.append(asyncio.create_task(send(client, path, {"text": f"overload request {index}"})))
    return list(await asyncio.gather(*tasks))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(outcomes: list[Outcome]) -> str:
    """Counts per status and failure, for assertion messages."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        key = str(outcome.status) if outcome.status is not None else (outcome.failure or "?").split(":")[0]
        if outcome.error_type:
            key += f" {outcome.error_type}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{key}: {count}" for key, count in sorted(counts.items()))


def wait_for_status(url: str, status: int, timeout_s: float) -> float:
    """Poll ``url`` until it answers ``status``; return how long that took, or raise."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout_s:
        try:
            last = httpx.get(url, timeout=2).status_code
        except httpx.HTTPError as error:
            last = type(error).__name__
        if last == status:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{url} still answered {last} after {timeout_s} s, expected {status}")
