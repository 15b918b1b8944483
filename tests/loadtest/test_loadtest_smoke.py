"""A real, tiny benchmark: the harness against a real Triton serving the tiny model, a real gateway, in seconds.

It proves the whole measuring path (tokenizing and bucketing, the three clients, the closed loop,
CPU sampling, the report) works against the real servers; the numbers themselves are not checked,
because on a shared 2-core machine they mean nothing at this scale.
"""

import asyncio
from pathlib import Path

import pytest
from support import TINY_MODEL_NAME

from loadtest.bench.limit import InProcessLimit, OnnxClassifier, sweep_batch_sizes
from loadtest.bench.models import BenchModel
from loadtest.bench.report import shadow_markdown, v2_markdown, write_report
from loadtest.bench.runner import (
    SHADOW_PERCENTS,
    V2_CELLS,
    V2_CONCURRENCY,
    BenchSettings,
    ModelRun,
    Probes,
    measure,
    run_shadow_cells,
    run_v2_cells,
)
from loadtest.bench.servers import start_gateway
from loadtest.bench.systems import JsonHttpSystem, TritonDirect
from loadtest.corpus import BUILTIN_CORPUS

pytestmark = pytest.mark.slow

TEXTS = [example.text for example in BUILTIN_CORPUS]


def test_harness_measures_every_system_against_real_servers(triton, tmp_path: Path) -> None:
    settings = BenchSettings(
        models=("tiny",),
        systems=("limit", "triton", "stack"),
        concurrency=(1, 4),
        warmup_s=0.2,
        duration_s=0.5,
        build_dir=tmp_path,
        work_dir=tmp_path,
        gateway_workers=1,
    )
    version_dir = triton.repository / TINY_MODEL_NAME / "1"
    classifier = OnnxClassifier(version_dir, threads=1)
    run = ModelRun(model="tiny", quantized=False)
    run.batch_sweep = sweep_batch_sizes(classifier, TEXTS, min_seconds=0.05, candidates=(1, 4))
    run.limit_batch_size = max(run.batch_sweep, key=run.batch_sweep.__getitem__)
    gateway = start_gateway(triton.http_url, triton.repository, TINY_MODEL_NAME, workers=1, work_dir=tmp_path)
    try:
        batching = Probes(triton=triton.server, model_name=TINY_MODEL_NAME)
        systems = [
            (InProcessLimit(classifier, TEXTS, run.limit_batch_size), Probes()),
            (TritonDirect(triton.http_url, version_dir, TEXTS, 4, triton.server.process.pid), batching),
            (
                JsonHttpSystem(
                    "stack", gateway.url + "/v1/sentiment", TEXTS, ["NEGATIVE", "POSITIVE"], 4, [gateway.pid]
                ),
                Probes(gateway_pids=(gateway.pid,), triton=triton.server, model_name=TINY_MODEL_NAME),
            ),
        ]
        for system, probes in systems:
            run.results += asyncio.run(measure(system, "tiny", len(TEXTS), settings, probes))
    finally:
        gateway.stop()

    assert [(r.system, r.concurrency) for r in run.results] == [
        (system, c) for system in ("limit", "triton", "stack") for c in (1, 4)
    ]
    for result in run.results:
        assert result.errors == 0, result.error_examples
        assert result.texts > 0 and result.p50_ms > 0
    assert all(r.server_cpu_percent is not None for r in run.results if r.system != "limit")
    # Every request carried one text, so Triton ran at least one row per batch and at most one per request.
    for result in (r for r in run.results if r.system != "limit"):
        assert 1 <= result.rows_per_execution <= result.concurrency, result
    assert all(r.gateway_cpu_ms_per_request > 0 for r in run.results if r.system == "stack")
    assert all(r.rows_per_execution is r.gateway_cpu_ms_per_request is None for r in run.results if r.system == "limit")

    info = {
        "machine": {"cpu_model": "x", "logical_cpus": 2, "memory_gib": 1, "load_average_1_5_15": [0, 0, 0]},
        "settings": {"warmup_s": 0.2, "duration_s": 0.5},
        "corpus": {"source": "built-in", "texts": len(TEXTS)},
    }
    paths = write_report([run], info, "smoke", tmp_path / "report")
    assert all(path.stat().st_size > 0 for path in paths)


def test_v2_cells_measure_v1_v2_and_explain_on_one_real_gateway(triton, tmp_path: Path) -> None:
    settings = BenchSettings(
        models=("tiny",),
        systems=("stack-v2",),
        concurrency=(1,),
        warmup_s=0.2,
        duration_s=0.5,
        build_dir=tmp_path,
        work_dir=tmp_path,
        gateway_workers=1,
    )
    model = BenchModel("tiny", checkpoint=tmp_path, repository=triton.repository, name=TINY_MODEL_NAME)
    results = asyncio.run(run_v2_cells(triton.server, model, TEXTS, settings))

    assert [r.system for r in results] == [f"stack-v2:{cell}" for cell in V2_CELLS]
    for result in results:
        assert result.errors == 0, result.error_examples
        assert result.texts > 0 and result.concurrency == V2_CONCURRENCY
    # Every request answered all its texts: v1 and v2 batches count their texts, explain one per request.
    by_cell = {r.system.removeprefix("stack-v2:"): r for r in results}
    assert by_cell["v1"].texts >= V2_CELLS["v1"][2] and by_cell["v2"].texts >= V2_CELLS["v2"][2]
    lines = v2_markdown(ModelRun(model="tiny", quantized=False, results=results))
    assert lines[3].startswith("| request | texts per request |") and len(lines) == 5 + len(V2_CELLS)


def test_shadow_cells_measure_the_champion_at_each_share_on_two_real_versions(model_repository, tmp_path: Path) -> None:
    settings = BenchSettings(
        models=("tiny",),
        systems=("stack-shadow",),
        concurrency=(1,),
        warmup_s=0.2,
        duration_s=1.0,
        build_dir=tmp_path,
        work_dir=tmp_path,
        gateway_workers=1,
    )
    run = ModelRun(model="tiny", quantized=False)
    model = BenchModel("tiny", checkpoint=tmp_path, repository=model_repository, name=TINY_MODEL_NAME)
    asyncio.run(run_shadow_cells(model, TEXTS, settings, run))

    assert [r.system for r in run.results] == [f"stack-shadow:{percent}" for percent in SHADOW_PERCENTS]
    for result in run.results:
        assert result.errors == 0, result.error_examples
        assert result.texts > 0
    # Shadowing every text of a second of traffic compares some of them (or sheds them, and says so).
    shares = [percent for percent in SHADOW_PERCENTS if percent]
    assert [note.split(":")[0] for note in run.notes] == [f"shadow {percent}%" for percent in shares]
    compared_at_100 = int(run.notes[-1].split(": ")[1].split(" ")[0])
    assert compared_at_100 > 0, run.notes
    assert shadow_markdown(run)[3].startswith("| shadow share |")
