"""Report writing and the target checks, on hand-made results (no servers)."""

import json
from pathlib import Path

import pytest

from loadtest.bench.report import check_targets, fp32_baseline_for, model_markdown, write_report
from loadtest.bench.runner import ModelRun
from loadtest.bench.stats import CellResult, WindowSample, summarize

pytestmark = pytest.mark.fast


def result(
    system: str, concurrency: int, texts: int, latency_s: float, model: str = "shape-true", **measured: float
) -> CellResult:
    sample = WindowSample([latency_s] * max(texts, 1), texts, 0, 1.0, 0.1, 1.0, **measured)
    return summarize(model, system, concurrency, sample)


def shape_true_run() -> ModelRun:
    run = ModelRun(model="shape-true", quantized=False, limit_batch_size=32, batch_sweep={1: 40.0, 32: 64.0})
    run.results = [
        result("limit", 1, 40, 0.025),
        result("limit", 32, 64, 0.5),
        result("stack", 1, 35, 0.028),
        result("stack", 32, 60, 0.53),
        result("baseline", 1, 25, 0.04),
        result("baseline", 32, 18, 1.7),
    ]
    return run


def test_targets_are_computed_from_the_cells() -> None:
    throughput, speedup, p99, latency = check_targets(shape_true_run())
    assert throughput.met is True and "94%" in throughput.measured
    assert speedup.met is True and "3.3x" in speedup.measured
    assert p99.target == "full stack p99 at c=1 under 50 ms" and p99.met is True and p99.measured == "28.0 ms"
    assert latency.met is True and "+3.0 ms" in latency.measured


def test_tiny_throughput_gateway_cost_and_strict_batching_targets() -> None:
    run = ModelRun(model="tiny", quantized=False)
    run.results = [
        result("stack", 1, 900, 0.06, "tiny", gateway_cpu_s=0.5),
        result("stack", 64, 2100, 0.03, "tiny", gateway_cpu_s=0.84),
        result("stack-strict", 64, 1500, 0.04, "tiny", triton_rows=1500, triton_executions=250),
    ]
    checks = {check.target: check for check in check_targets(run)}
    assert checks["full stack p99 at c=1 under 50 ms"].met is False
    assert checks["full stack >= 2,000 texts/s at saturation"].met is True
    gateway = checks["gateway CPU <= 0.5 ms per request at saturation"]
    assert gateway.met is True and gateway.measured == "0.40 ms (c=64)"
    strict = checks["strict shapes: Triton rows per execution >= 8 at c=64"]
    assert strict.met is False and strict.measured == "6.0 rows per execution"

    unmeasured = ModelRun(model="tiny", quantized=False, results=[result("stack-strict", 64, 10, 0.1, "tiny")])
    (strict,) = check_targets(unmeasured)
    assert strict.met is None and "| not measured |" in model_markdown(unmeasured)


def test_int8_run_borrows_the_fp32_baseline() -> None:
    fp32 = shape_true_run()
    int8 = ModelRun(model="shape-true-int8", quantized=True)
    int8.results = [result("limit", 32, 160, 0.2, "shape-true-int8"), result("stack", 32, 100, 0.3, "shape-true-int8")]
    borrowed = fp32_baseline_for(int8, [fp32, int8])
    assert {r.system for r in borrowed} == {"baseline"}
    throughput, speedup = check_targets(int8, borrowed)
    assert throughput.met is False and "62%" in throughput.measured
    assert speedup.met is True


def test_write_report_writes_json_markdown_and_png(tmp_path: Path) -> None:
    info = {
        "machine": {"cpu_model": "Test CPU", "logical_cpus": 2, "memory_gib": 1.0, "load_average_1_5_15": [0, 0, 0]},
        "settings": {"warmup_s": 2.0, "duration_s": 10.0},
        "corpus": {"source": "built-in", "texts": 12},
    }
    paths = write_report([shape_true_run()], info, "python -m loadtest.bench --models shape-true", tmp_path / "out")
    assert [path.name for path in paths] == ["results.json", "results.md", "throughput_p95.png"]

    document = json.loads(paths[0].read_text())
    assert document["command"].startswith("python -m loadtest.bench")
    (model,) = document["models"]
    assert model["limit_batch_size"] == 32 and len(model["results"]) == 6
    assert all(target["met"] for target in model["targets"])

    markdown = paths[1].read_text()
    assert "Test CPU, 2 logical CPUs" in markdown
    assert "| full stack (gateway + Triton) | 32 | 60.0 | 94% |" in markdown
    assert "| rows per execution | gateway CPU ms/request |" in markdown
    assert "| seed-style baseline (PyTorch pipeline) | 64.0" not in markdown
    assert "(!)" not in markdown  # no cell was disturbed by outside work
    assert paths[2].read_bytes().startswith(b"\x89PNG")


def test_cells_disturbed_by_outside_work_are_flagged(tmp_path: Path) -> None:
    run = shape_true_run()
    busy = WindowSample([0.5] * 10, 10, 0, 1.0, client_cpu_s=0.1, server_cpu_s=1.0, machine_cpu_s=1.9)
    run.results.append(summarize("shape-true", "triton", 32, busy))
    markdown = model_markdown(run)
    assert "| 80% (!) |" in markdown
    assert "1 cell(s) ran while processes outside the benchmark" in markdown
