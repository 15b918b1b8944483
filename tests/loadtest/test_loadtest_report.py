"""Report writing and the target checks, on hand-made results (no servers)."""

import json
from pathlib import Path

from loadtest.bench.report import check_targets, fp32_baseline_for, model_markdown, write_report
from loadtest.bench.runner import ModelRun
from loadtest.bench.stats import CellResult, WindowSample, summarize


def result(system: str, concurrency: int, texts: int, latency_s: float, model: str = "shape-true") -> CellResult:
    return summarize(model, system, concurrency, WindowSample([latency_s] * max(texts, 1), texts, 0, 1.0, 0.1, 1.0))


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
    throughput, speedup, latency = check_targets(shape_true_run())
    assert throughput.met is True and "94%" in throughput.measured
    assert speedup.met is True and "3.3x" in speedup.measured
    assert latency.met is True and "+3.0 ms" in latency.measured


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
