"""One benchmark run: for each model, every system at every concurrency, servers started and stopped here.

Systems run one after another, never side by side, and a server runs only while it is measured:
on a 2-core machine an idle-but-present server, or a neighbour's warm-up, would show in the
numbers of whatever is measured at the time. The order per model is the limit (no server), Triton
direct, the full stack (Triton + gateway), the same with its answer cache, the mixed cell (single
texts beside a bulk caller) and the v2 cells (v1, v2, v2 with explain on multi-sentence texts), all on
Triton serving ``configs/cpu.pbtxt`` (ragged batches); the shadow cells (the champion's single texts while
a second version scores 0, 10 or 100 % of them) on a Triton of their own with two versions; the full
stack again in front of a Triton serving ``configs/cpu-strict.pbtxt`` (one shape per batch, as the GPU
backend batches), then the baseline (PyTorch). The int8 model skips the baseline (its baseline is the
same fp32 PyTorch server as the shape-true model's), the answer cache, the v2 and the shadow cells (none
depends on the precision; this keeps ``make bench`` near 23 minutes).

Every cell with a Triton behind it also reads Triton's counters at the window's edges (rows per
execution: how full the batches were), and every full-stack cell the gateway's own CPU time
(CPU per request: what the gateway costs).
"""

import asyncio
import gc
import logging
import os
import random
import shutil
from collections.abc import Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

import psutil
from localtriton.server import TritonServer, start_on_free_ports
from prometheus_client.parser import text_string_to_metric_families

from contract.rollout import RolloutState
from loadtest.bench.limit import InProcessLimit, OnnxClassifier, sweep_batch_sizes
from loadtest.bench.loadgen import LoadSettings, run_closed_loop
from loadtest.bench.models import BenchModel, prepare_model
from loadtest.bench.servers import start_baseline, start_gateway
from loadtest.bench.stats import CellResult, WindowSample, summarize
from loadtest.bench.systems import (
    BatchJsonHttpSystem,
    JsonHttpSystem,
    StreamJsonHttpSystem,
    TritonDirect,
    process_tree_cpu,
)
from loadtest.bench.triton_metrics import read_counts
from rollout.stack import Stack
from rollout.verbs import Target, apply

logger = logging.getLogger("loadtest.bench")

SYSTEMS = (
    "limit",
    "triton",
    "stack",
    "stack-cached",
    "stack-strict",
    "stack-mixed",
    "stack-v2",
    "stack-shadow",
    "baseline",
)
# Triton's CPU configs (model_repository/NAME/configs/*.pbtxt): ragged batches, or one shape per batch.
RAGGED_CONFIG, STRICT_CONFIG = "cpu", "cpu-strict"
CACHE_SIZE = 10_000  # the gateway's default
# The mixed cell (issue 17): interactive single texts beside a bulk caller sending batches, on the ragged config.
MIXED_INTERACTIVE_CONCURRENCY, MIXED_BULK_CONCURRENCY, MIXED_BULK_TEXTS = 8, 2, 64
# Its four measurements, in order: each lane alone, then both lanes at once.
MIXED_CELLS = ("interactive-quiet", "bulk-quiet", "interactive-beside-bulk", "bulk-beside-interactive")
# The v2 cells (issue 20): what v2's options cost beside v1, in texts/s, on texts of V2_SENTENCES consecutive
# corpus sentences (each sentence one more row for v2). Cell: (path, request options, texts per request); explain
# makes a row per word, so its requests carry one text. One concurrency: the cost is a ratio, not a curve. Sized
# for the shape-true model on 2 cores (a few thousand padded tokens/s): a v2 request of 8 such texts is about
# 4,000 tokens and an explain request up to 12,000, so two at a time finish within the 10 s deadline instead of
# being refused by admission (c=4 with 32 texts was: 429, "would finish after its deadline").
V2_SENTENCES, V2_CONCURRENCY, V2_BATCH_TEXTS = 3, 2, 8
V2_CELLS = {
    "v1": ("/v1/sentiment/batch", {}, V2_BATCH_TEXTS),
    "v2": ("/v2/sentiment/batch", {}, V2_BATCH_TEXTS),
    "v2-explain": ("/v2/sentiment/batch", {"explain": True}, 1),
}
# Three SST-2 dev sentences reach 97 words: explain them all rather than measure refusals.
V2_EXPLAIN_MAX_WORDS = 128
# The shadow cells (issue 19): single texts at c=SHADOW_CONCURRENCY answered by version 1 while version 2 (a copy
# of it, so the extra work is the same model's) scores a share of them off the response path, at each share.
SHADOW_CONCURRENCY, SHADOW_PERCENTS = 8, (0, 10, 100)


@dataclass(frozen=True)
class BenchSettings:
    """Everything a run depends on; written into results.json so a result says how it was made."""

    models: tuple[str, ...]
    systems: tuple[str, ...]
    concurrency: tuple[int, ...]
    warmup_s: float
    duration_s: float
    build_dir: Path
    work_dir: Path
    gateway_workers: int
    rebuild: bool = False
    cache_repeat_rate: float = 0.3  # share of requests repeating an earlier text, for the stack-cached system


@dataclass
class ModelRun:
    """The results of one model, with the limit's batch-size sweep that chose its batch size."""

    model: str
    quantized: bool
    limit_batch_size: int | None = None
    batch_sweep: dict[int, float] = field(default_factory=dict)
    results: list[CellResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what went wrong, printed under the model's table


class ServerGone(RuntimeError):
    """A server under test exited in the middle of the run (crashed, or was killed from outside)."""


@dataclass(frozen=True)
class Probes:
    """What a cell reads at its window's edges besides the load generator's and the servers' CPU."""

    gateway_pids: tuple[int, ...] = ()  # the gateway's CPU per request
    triton: TritonServer | None = None  # Triton's rows per execution of ``model_name``
    model_name: str = ""


class System(Protocol):
    name: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def send(self, index: int) -> int: ...
    def server_pids(self) -> list[int]: ...


async def measure(
    system: System, model: str, item_count: int, settings: BenchSettings, probes: Probes = Probes()
) -> list[CellResult]:
    """Every concurrency level against one system, lowest first, over one connection pool."""
    await system.open()
    results = []
    try:
        pids = system.server_pids()
        server_cpu = process_tree_cpu(pids) if pids else None
        gateway_cpu = process_tree_cpu(probes.gateway_pids) if probes.gateway_pids else None
        triton_counts = None
        if probes.triton is not None:
            metrics_url = f"http://127.0.0.1:{probes.triton.options.metrics_port}/metrics"
            triton_counts = partial(read_counts, metrics_url, probes.model_name)
        for concurrency in settings.concurrency:
            load = LoadSettings(concurrency=concurrency, warmup_s=settings.warmup_s, duration_s=settings.duration_s)
            sample = await run_closed_loop(system.send, item_count, load, server_cpu, gateway_cpu, triton_counts)
            result = summarize(model, system.name, concurrency, sample)
            logger.info(
                "%-15s %-12s c=%-4d %8.1f texts/s  p50 %8.1f ms  p95 %8.1f ms  p99 %8.1f ms  errors %d  "
                "client CPU %3.0f%%  rows/execution %s  gateway CPU/request %s ms",
                model,
                system.name,
                concurrency,
                result.throughput,
                result.p50_ms,
                result.p95_ms,
                result.p99_ms,
                result.errors,
                result.client_cpu_percent,
                "-" if result.rows_per_execution is None else f"{result.rows_per_execution:.1f}",
                "-" if result.gateway_cpu_ms_per_request is None else f"{result.gateway_cpu_ms_per_request:.2f}",
            )
            results.append(result)
            if gone := [pid for pid in pids if not psutil.pid_exists(pid)]:
                # Every further cell would be 100% errors: say why once instead of measuring a dead server.
                raise ServerGone(f"{system.name}: server process(es) {gone} exited during the c={concurrency} cell")
    finally:
        await system.close()
    return results


async def _run_limit(model: BenchModel, texts: list[str], settings: BenchSettings, run: ModelRun) -> None:
    classifier = OnnxClassifier(model.version_dir, threads=os.cpu_count() or 1)
    run.batch_sweep = sweep_batch_sizes(classifier, texts)
    run.limit_batch_size = max(run.batch_sweep, key=run.batch_sweep.__getitem__)
    logger.info(
        "%s limit: batch sweep %s -> batch size %d",
        model.key,
        {size: round(rate, 1) for size, rate in run.batch_sweep.items()},
        run.limit_batch_size,
    )
    limit = InProcessLimit(classifier, texts, run.limit_batch_size)
    run.results += await measure(limit, model.key, len(texts), settings)
    del limit, classifier
    gc.collect()  # free the session's threads and arenas before the servers start


async def _run_stack(
    name: str, triton: TritonServer, model: BenchModel, texts: list[str], settings: BenchSettings, cache_size: int = 0
) -> list[CellResult]:
    """One full-stack system: a gateway started for it in front of ``triton``, stopped afterwards."""
    triton_url = f"127.0.0.1:{triton.options.http_port}"
    gateway = start_gateway(
        triton_url, model.repository, model.name, settings.gateway_workers, settings.work_dir / model.key, cache_size
    )
    try:
        url, pids = gateway.url + "/v1/sentiment", [triton.process.pid, gateway.pid]
        pool, labels = max(settings.concurrency), model.metadata.labels
        if cache_size:
            stream = repeated_stream(texts, settings.cache_repeat_rate, STREAM_LENGTH)
            system = StreamJsonHttpSystem(name, url, stream, labels, pool, pids)
        else:
            system = JsonHttpSystem(name, url, texts, labels, pool, pids)
        probes = Probes(gateway_pids=(gateway.pid,), triton=triton, model_name=model.name)
        return await measure(system, model.key, len(system.bodies), settings, probes)
    finally:
        gateway.stop()


async def _run_mixed(
    triton: TritonServer, model: BenchModel, texts: list[str], settings: BenchSettings
) -> list[CellResult]:
    """Interactive single texts beside a bulk caller on one gateway: each lane alone, then both at once.

    What the lanes are for (docs/batching.md): the single texts' p99 beside bulk against their quiet p99, and
    the bulk caller's throughput beside single texts against its own alone.
    """
    triton_url = f"127.0.0.1:{triton.options.http_port}"
    gateway = start_gateway(
        triton_url, model.repository, model.name, settings.gateway_workers, settings.work_dir / model.key, 0
    )
    pids, labels = [triton.process.pid, gateway.pid], model.metadata.labels
    batches = [texts[start : start + MIXED_BULK_TEXTS] for start in range(0, len(texts), MIXED_BULK_TEXTS)]
    lanes: dict[str, JsonHttpSystem] = {
        "interactive": JsonHttpSystem(
            "stack-mixed", gateway.url + "/v1/sentiment", texts, labels, MIXED_INTERACTIVE_CONCURRENCY, pids
        ),
        "bulk": BatchJsonHttpSystem(
            "stack-mixed", gateway.url + "/v1/sentiment/batch", batches, labels, MIXED_BULK_CONCURRENCY, pids
        ),
    }

    def run(lane: str) -> Coroutine[None, None, WindowSample]:
        return _closed_loop(lanes[lane], settings, pids)

    try:
        for system in lanes.values():
            await system.open()
        samples = [await run("interactive"), await run("bulk"), *await asyncio.gather(run("interactive"), run("bulk"))]
    finally:
        for system in lanes.values():
            await system.close()
        gateway.stop()
    return [
        _summarize_cell(model, f"stack-mixed:{cell}", lanes[cell.split("-")[0]].concurrency, sample)
        for cell, sample in zip(MIXED_CELLS, samples, strict=True)
    ]


async def run_v2_cells(
    triton: TritonServer, model: BenchModel, texts: list[str], settings: BenchSettings
) -> list[CellResult]:
    """v1, v2 and v2 with explain on one gateway, one after the other, on multi-sentence texts (``V2_CELLS``)."""
    triton_url = f"127.0.0.1:{triton.options.http_port}"
    gateway = start_gateway(
        triton_url,
        model.repository,
        model.name,
        settings.gateway_workers,
        settings.work_dir / model.key,
        0,
        GATEWAY_EXPLAIN_MAX_WORDS=str(V2_EXPLAIN_MAX_WORDS),
    )
    pids, labels = [triton.process.pid, gateway.pid], model.metadata.labels
    documents = [" ".join(texts[start : start + V2_SENTENCES]) for start in range(0, len(texts), V2_SENTENCES)]
    results = []
    try:
        for cell, (path, options, batch_texts) in V2_CELLS.items():
            batches = [documents[start : start + batch_texts] for start in range(0, len(documents), batch_texts)]
            system = BatchJsonHttpSystem("stack-v2", gateway.url + path, batches, labels, V2_CONCURRENCY, pids, options)
            await system.open()
            try:
                sample = await _closed_loop(system, settings, pids)
            finally:
                await system.close()
            results.append(_summarize_cell(model, f"stack-v2:{cell}", V2_CONCURRENCY, sample))
    finally:
        gateway.stop()
    return results


async def run_shadow_cells(model: BenchModel, texts: list[str], settings: BenchSettings, run: ModelRun) -> None:
    """The champion's single texts with shadowing off, then at each share in ``SHADOW_PERCENTS``, on one gateway.

    A repository of its own (the model's, with version 1 copied as version 2) and the real rollout verbs'
    ``apply``, which writes the state file and waits until the gateway's workers all follow it. How many texts
    both versions scored, and how many shadow texts were shed, go into the run's notes: shedding is what keeps
    the champion's latency, so a cost without it would be half the story.
    """
    work_dir = settings.work_dir / model.key / "shadow"
    repository = work_dir / "repository"
    shutil.rmtree(repository, ignore_errors=True)
    shutil.copytree(model.repository / model.name, repository / model.name)
    shutil.copytree(model.version_dir, repository / model.name / "2")
    state_file = work_dir / "rollout.json"
    RolloutState("1").write(state_file)
    triton = start_on_free_ports(repository, work_dir, ready_timeout_s=300, model_config_name=RAGGED_CONFIG)
    try:
        triton_url = f"127.0.0.1:{triton.options.http_port}"
        gateway = start_gateway(
            triton_url,
            repository,
            model.name,
            settings.gateway_workers,
            work_dir,
            0,
            GATEWAY_ROLLOUT_FILE=str(state_file),
        )
        try:
            target = Target(Stack(gateway.url, triton_url), repository, model.name, state_file)
            pids, state = [triton.process.pid, gateway.pid], RolloutState("1")
            for percent in SHADOW_PERCENTS:
                new = RolloutState("1", "2", "shadow", percent) if percent else RolloutState("1")
                await asyncio.to_thread(apply, target, state, new)
                state = new
                system = JsonHttpSystem(
                    "stack-shadow",
                    gateway.url + "/v1/sentiment",
                    texts,
                    model.metadata.labels,
                    SHADOW_CONCURRENCY,
                    pids,
                )
                before = shadow_counts(target.stack.metrics_text())
                await system.open()
                try:
                    sample = await _closed_loop(system, settings, pids)
                finally:
                    await system.close()
                run.results.append(_summarize_cell(model, f"stack-shadow:{percent}", SHADOW_CONCURRENCY, sample))
                after = shadow_counts(target.stack.metrics_text())
                if percent:
                    run.notes.append(
                        f"shadow {percent}%: {after[0] - before[0]:.0f} texts scored by both versions, "
                        f"{after[1] - before[1]:.0f} shadow requests shed (warm-up included)"
                    )
        finally:
            gateway.stop()
    finally:
        triton.stop()


def shadow_counts(metrics_text: str) -> tuple[float, float]:
    """Texts compared and shadow requests shed so far, summed over their labels, from the gateway's /metrics."""
    totals = {"gateway_compared_texts": 0.0, "gateway_shadow_shed": 0.0}
    for family in text_string_to_metric_families(metrics_text):
        if family.name in totals:
            totals[family.name] += sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
    return totals["gateway_compared_texts"], totals["gateway_shadow_shed"]


def _closed_loop(
    system: JsonHttpSystem, settings: BenchSettings, pids: list[int]
) -> Coroutine[None, None, WindowSample]:
    """One cell of a system at its own fixed concurrency (the mixed and v2 cells)."""
    load = LoadSettings(concurrency=system.concurrency, warmup_s=settings.warmup_s, duration_s=settings.duration_s)
    return run_closed_loop(system.send, len(system.bodies), load, process_tree_cpu(pids))


def _summarize_cell(model: BenchModel, name: str, concurrency: int, sample: WindowSample) -> CellResult:
    result = summarize(model.key, name, concurrency, sample)
    logger.info(
        "%-15s %-32s c=%-3d %8.1f texts/s  p50 %8.1f ms  p99 %8.1f ms  errors %d",
        model.key,
        result.system,
        concurrency,
        result.throughput,
        result.p50_ms,
        result.p99_ms,
        result.errors,
    )
    return result


async def _run_served(model: BenchModel, texts: list[str], settings: BenchSettings, run: ModelRun) -> None:
    """Triton direct and the full stacks: first against the ragged CPU config, then against the strict one."""
    systems = set(settings.systems) - ({"stack-cached", "stack-v2", "stack-shadow"} if model.quantized else set())
    if systems & {"triton", "stack", "stack-cached", "stack-mixed", "stack-v2"}:
        triton = start_on_free_ports(
            model.repository, settings.work_dir / model.key, ready_timeout_s=300, model_config_name=RAGGED_CONFIG
        )
        try:
            if "triton" in systems:
                triton_url = f"127.0.0.1:{triton.options.http_port}"
                direct = TritonDirect(
                    triton_url, model.version_dir, texts, max(settings.concurrency), triton.process.pid
                )
                probes = Probes(triton=triton, model_name=model.name)
                run.results += await measure(direct, model.key, len(texts), settings, probes)
            if "stack" in systems:
                run.results += await _run_stack("stack", triton, model, texts, settings)
            if "stack-cached" in systems:
                run.results += await _run_stack("stack-cached", triton, model, texts, settings, CACHE_SIZE)
            if "stack-mixed" in systems:
                run.results += await _run_mixed(triton, model, texts, settings)
            if "stack-v2" in systems:
                run.results += await run_v2_cells(triton, model, texts, settings)
        finally:
            triton.stop()
    if "stack-shadow" in systems:
        await run_shadow_cells(model, texts, settings, run)
    if "stack-strict" in systems:
        strict = start_on_free_ports(
            model.repository, settings.work_dir / model.key, ready_timeout_s=300, model_config_name=STRICT_CONFIG
        )
        try:
            run.results += await _run_stack("stack-strict", strict, model, texts, settings)
        finally:
            strict.stop()


STREAM_LENGTH = 200_000  # more requests than any cell sends, so no text comes back by wrapping around


def repeated_stream(texts: list[str], repeat_rate: float, length: int, seed: int = 0) -> list[str]:
    """Requests where ``repeat_rate`` of them repeat a text sent before and the rest were never sent.

    New texts cycle through the corpus with a counter appended once it is used up, so only the stated
    share of requests can be a cache hit.
    """
    rng = random.Random(seed)
    stream: list[str] = []
    fresh = 0
    for _ in range(length):
        if stream and rng.random() < repeat_rate:
            stream.append(rng.choice(stream))
            continue
        cycle, position = divmod(fresh, len(texts))
        stream.append(texts[position] if cycle == 0 else f"{texts[position]} ({cycle})")
        fresh += 1
    return stream


async def _run_baseline(model: BenchModel, texts: list[str], settings: BenchSettings, run: ModelRun) -> None:
    baseline = start_baseline(model.checkpoint, settings.work_dir / model.key)
    try:
        system = JsonHttpSystem(
            "baseline",
            baseline.url + "/v1/sentiment",
            texts,
            model.metadata.labels,
            max(settings.concurrency),
            [baseline.pid],
        )
        run.results += await measure(system, model.key, len(texts), settings)
    finally:
        baseline.stop()


async def run_model(key: str, texts: list[str], settings: BenchSettings) -> ModelRun:
    """Build (or reuse) model ``key`` and measure every requested system on it.

    A server that dies mid-run ends that step only: its cells so far are kept, the reason goes into
    the report's notes, and the remaining steps still run.
    """
    model = prepare_model(key, settings.build_dir, settings.rebuild)
    run = ModelRun(model=key, quantized=model.quantized)
    steps = []
    if "limit" in settings.systems:
        steps.append(_run_limit)
    if {"triton", "stack", "stack-cached", "stack-strict", "stack-mixed", "stack-v2", "stack-shadow"} & set(
        settings.systems
    ):
        steps.append(_run_served)
    if "baseline" in settings.systems and not model.quantized:
        steps.append(_run_baseline)
    for step in steps:
        try:
            await step(model, texts, settings, run)
        except ServerGone as gone:
            logger.error("%s", gone)
            run.notes.append(str(gone))
    return run
