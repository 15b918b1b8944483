"""Write a run's results three ways: JSON (everything, for tools), markdown (the table for docs) and a PNG plot.

The markdown also checks the issue's targets, because a number without the bar it is held to
invites the wrong reading: each target is computed from the same cells the table shows.
"""

import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata as package_metadata
from pathlib import Path

from loadtest.bench.runner import (
    MIXED_BULK_TEXTS,
    MIXED_CELLS,
    SHADOW_CONCURRENCY,
    SYSTEMS,
    V2_CELLS,
    V2_CONCURRENCY,
    V2_SENTENCES,
    ModelRun,
)
from loadtest.bench.stats import CellResult, cell, peak

SYSTEM_TITLES = {
    "limit": "limit (in-process ORT)",
    "triton": "Triton direct",
    "stack": "full stack (gateway + Triton)",
    "stack-cached": "full stack, answer cache on (repeating stream)",
    "stack-strict": "full stack, strict shapes (Triton cpu-strict)",
    "stack-mixed": "full stack, interactive single texts beside a bulk caller",
    "stack-v2": "full stack, v1 and v2 batches of multi-sentence texts",
    "stack-shadow": "full stack, champion single texts while a challenger shadows a share of them",
    "baseline": "seed-style baseline (PyTorch pipeline)",
}
# Above this much CPU (percent of one core) taken by processes outside the benchmark, a cell is flagged.
DISTURBED_PERCENT = 20
# Issue 10's bars (on this 2-core machine).
LIMIT_SHARE = 0.9  # full stack at saturation, of the in-process limit
BASELINE_SPEEDUP = 3  # full stack over the seed-style server at c=32
P99_AT_1_MS = 50  # full stack p99 at concurrency 1
TINY_THROUGHPUT = 2000  # texts/s, tiny model, full stack at saturation
TINY_GATEWAY_CPU_MS = 0.5  # gateway CPU per single-text request at saturation, tiny model
STRICT_ROWS_PER_EXECUTION = 8  # strict shapes, at concurrency STRICT_CONCURRENCY
STRICT_CONCURRENCY = 64
TINY_MODEL = "tiny"
PACKAGES = ("onnxruntime", "torch", "transformers", "tritonclient", "fastapi", "uvicorn", "aiohttp")


@dataclass(frozen=True)
class TargetCheck:
    """One target of the issues, with the measured figure and whether it is met (None: not measured)."""

    target: str
    measured: str
    met: bool | None


def machine_info() -> dict:
    """What the numbers depend on: CPU model and count, memory, load, versions."""
    cpu_model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        memory_gib = round(total_kib / 2**20, 1)
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_model": cpu_model,
        "logical_cpus": os.cpu_count(),
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1_5_15": [round(value, 2) for value in os.getloadavg()],
        "packages": versions,
    }


def _ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def _disturbed(result: CellResult) -> bool:
    """Other work took a sizeable share of the 2 cores during the cell, so its figures understate the system."""
    return result.other_cpu_percent is not None and result.other_cpu_percent > DISTURBED_PERCENT


def _ratio(value: float, reference: float | None) -> str:
    return "n/a" if not reference else f"{100 * value / reference:.0f}%"


def _optional(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def check_targets(run: ModelRun, fp32_baseline: Sequence[CellResult] = ()) -> list[TargetCheck]:
    """The issues' targets that apply to one model, each from cells of the table.

    ``fp32_baseline`` stands in when the model has no baseline row (int8).
    """
    results = run.results
    baselines = [r for r in results if r.system == "baseline"] or list(fp32_baseline)
    checks = []
    limit_peak, stack_peak = peak(results, "limit"), peak(results, "stack")
    if limit_peak and stack_peak:
        share = stack_peak.throughput / limit_peak.throughput
        checks.append(
            TargetCheck(
                f"full stack >= {100 * LIMIT_SHARE:.0f}% of the limit's saturated throughput",
                f"{stack_peak.throughput:.1f} (c={stack_peak.concurrency}) vs {limit_peak.throughput:.1f} "
                f"(c={limit_peak.concurrency}) texts/s = {100 * share:.0f}%",
                share >= LIMIT_SHARE,
            )
        )
    stack_32, baseline_32 = cell(results, "stack", 32), cell(baselines, "baseline", 32)
    if stack_32 and baseline_32 and baseline_32.throughput > 0:
        speedup = stack_32.throughput / baseline_32.throughput
        checks.append(
            TargetCheck(
                f"full stack >= {BASELINE_SPEEDUP}x the baseline's throughput at c=32, with a lower p95",
                f"{stack_32.throughput:.1f} vs {baseline_32.throughput:.1f} texts/s = {speedup:.1f}x; "
                f"p95 {_ms(stack_32.p95_ms)} vs {_ms(baseline_32.p95_ms)} ms",
                speedup >= BASELINE_SPEEDUP and stack_32.p95_ms < baseline_32.p95_ms,
            )
        )
    if stack_1 := cell(results, "stack", 1):
        checks.append(
            TargetCheck(
                f"full stack p99 at c=1 under {P99_AT_1_MS} ms",
                f"{_ms(stack_1.p99_ms)} ms",
                stack_1.p99_ms < P99_AT_1_MS,
            )
        )
    if stack_peak and run.model == TINY_MODEL:
        checks.append(
            TargetCheck(
                f"full stack >= {TINY_THROUGHPUT:,} texts/s at saturation",
                f"{stack_peak.throughput:.1f} texts/s (c={stack_peak.concurrency})",
                stack_peak.throughput >= TINY_THROUGHPUT,
            )
        )
        cost = stack_peak.gateway_cpu_ms_per_request
        checks.append(
            TargetCheck(
                f"gateway CPU <= {TINY_GATEWAY_CPU_MS} ms per request at saturation",
                f"{_optional(cost, 2)} ms (c={stack_peak.concurrency})",
                None if cost is None else cost <= TINY_GATEWAY_CPU_MS,
            )
        )
    if strict := cell(results, "stack-strict", STRICT_CONCURRENCY):
        rows = strict.rows_per_execution
        checks.append(
            TargetCheck(
                f"strict shapes: Triton rows per execution >= {STRICT_ROWS_PER_EXECUTION} at c={STRICT_CONCURRENCY}",
                f"{_optional(rows, 1)} rows per execution",
                None if rows is None else rows >= STRICT_ROWS_PER_EXECUTION,
            )
        )
    stack_1, limit_1 = cell(results, "stack", 1), cell(results, "limit", 1)
    if stack_1 and limit_1:
        gap = stack_1.p50_ms - limit_1.p50_ms
        checks.append(
            TargetCheck(
                "full stack p50 at c=1 within 5 ms of the limit's batch-1 latency",
                f"{_ms(stack_1.p50_ms)} vs {_ms(limit_1.p50_ms)} ms = +{gap:.1f} ms",
                gap <= 5,
            )
        )
    return checks


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("yes" if met else "NO")


def cache_speedups(run: ModelRun) -> list[tuple[int, float]]:
    """Throughput of the stack with its answer cache on a repeating stream over the stack without, per concurrency."""
    pairs = []
    for cached in (r for r in run.results if r.system == "stack-cached"):
        plain = cell(run.results, "stack", cached.concurrency)
        if plain and plain.throughput > 0:
            pairs.append((cached.concurrency, cached.throughput / plain.throughput))
    return pairs


def mixed_markdown(run: ModelRun) -> list[str]:
    """The mixed cell's lanes: each lane's throughput and p99 beside the other, against its quiet values."""
    cells = {r.system.removeprefix("stack-mixed:"): r for r in run.results if r.system.startswith("stack-mixed:")}
    if len(cells) < len(MIXED_CELLS):
        return []
    lines = [
        "",
        f"{SYSTEM_TITLES['stack-mixed']} (issue 17): single texts at c={cells['interactive-quiet'].concurrency}, "
        f"batches of {MIXED_BULK_TEXTS} texts at c={cells['bulk-quiet'].concurrency}",
        "",
        "| lane | texts/s quiet | texts/s beside the other | ratio | p99 ms quiet | p99 ms beside | ratio | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lane, quiet, beside in (
        ("interactive", cells["interactive-quiet"], cells["interactive-beside-bulk"]),
        ("bulk", cells["bulk-quiet"], cells["bulk-beside-interactive"]),
    ):
        lines.append(
            f"| {lane} | {quiet.throughput:.1f} | {beside.throughput:.1f} "
            f"| {_ratio(beside.throughput, quiet.throughput)} "
            f"| {_ms(quiet.p99_ms)} | {_ms(beside.p99_ms)} | {_ratio(beside.p99_ms, quiet.p99_ms)} "
            f"| {quiet.errors + beside.errors} |"
        )
    return lines


def v2_markdown(run: ModelRun) -> list[str]:
    """What v2 and its explain option cost beside v1, in texts/s on the same texts and gateway."""
    cells = {r.system.removeprefix("stack-v2:"): r for r in run.results if r.system.startswith("stack-v2:")}
    if "v1" not in cells:
        return []
    lines = [
        "",
        f"{SYSTEM_TITLES['stack-v2']} (issue 20): texts of {V2_SENTENCES} consecutive corpus sentences, "
        f"c={V2_CONCURRENCY}",
        "",
        "| request | texts per request | texts/s | of v1 | p50 ms per request | p99 ms per request | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (path, options, batch_texts) in V2_CELLS.items():
        if result := cells.get(name):
            request = f"`{path}`" + "".join(f" `{key}`" for key in options)
            lines.append(
                f"| {request} | {batch_texts} | {result.throughput:.1f} "
                f"| {_ratio(result.throughput, cells['v1'].throughput)} | {_ms(result.p50_ms)} "
                f"| {_ms(result.p99_ms)} | {result.errors} |"
            )
    return lines


def shadow_markdown(run: ModelRun) -> list[str]:
    """What shadowing costs the champion: its throughput and p99 at each share against shadowing off."""
    cells = {r.system.removeprefix("stack-shadow:"): r for r in run.results if r.system.startswith("stack-shadow:")}
    if "0" not in cells:
        return []
    off = cells["0"]
    lines = [
        "",
        f"{SYSTEM_TITLES['stack-shadow']} (issue 19): c={SHADOW_CONCURRENCY}, the challenger a copy of the champion",
        "",
        "| shadow share | texts/s | of off | p50 ms | p99 ms | p99 of off | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for share, result in cells.items():
        lines.append(
            f"| {'off' if share == '0' else share + '%'} | {result.throughput:.1f} "
            f"| {_ratio(result.throughput, off.throughput)} | {_ms(result.p50_ms)} | {_ms(result.p99_ms)} "
            f"| {_ratio(result.p99_ms, off.p99_ms)} | {result.errors} |"
        )
    return lines


def model_markdown(run: ModelRun, fp32_baseline: Sequence[CellResult] = ()) -> str:
    """The table, peaks and target checks of one model."""
    limit_peak = peak(run.results, "limit")
    reference = limit_peak.throughput if limit_peak else None
    lines = [f"### Model `{run.model}`", ""]
    if run.limit_batch_size:
        sweep = ", ".join(f"{size}: {rate:.0f}" for size, rate in run.batch_sweep.items())
        lines += [f"Limit batch size {run.limit_batch_size} (offline texts/s by batch size: {sweep}).", ""]
    lines += [
        "| system | concurrency | texts/s | of limit peak | p50 ms | p95 ms | p99 ms | errors "
        "| rows per execution | gateway CPU ms/request | client CPU | server CPU | other CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for system in SYSTEMS:
        for result in (r for r in run.results if r.system == system):
            server_cpu = "in-process" if result.server_cpu_percent is None else f"{result.server_cpu_percent:.0f}%"
            lines.append(
                f"| {SYSTEM_TITLES[system]} | {result.concurrency} | {result.throughput:.1f} | "
                f"{_ratio(result.throughput, reference)} | {_ms(result.p50_ms)} | {_ms(result.p95_ms)} | "
                f"{_ms(result.p99_ms)} | {result.errors} | {_optional(result.rows_per_execution, 1)} | "
                f"{_optional(result.gateway_cpu_ms_per_request, 2)} | {result.client_cpu_percent:.0f}% | "
                f"{server_cpu} | {_percent(result.other_cpu_percent)}{' (!)' if _disturbed(result) else ''} |"
            )
    lines += ["", "| system | saturated texts/s (at concurrency) | of limit |", "|---|---:|---:|"]
    for system in SYSTEMS:
        if best := peak(run.results, system):
            lines.append(
                f"| {SYSTEM_TITLES[system]} | {best.throughput:.1f} (c={best.concurrency}) | "
                f"{_ratio(best.throughput, reference)} |"
            )
    lines += mixed_markdown(run)
    lines += v2_markdown(run)
    lines += shadow_markdown(run)
    if checks := check_targets(run, fp32_baseline):
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {c.target} | {c.measured} | {_verdict(c.met)} |" for c in checks]
    if speedups := cache_speedups(run):
        lines += ["", "| answer cache (repeating stream) vs no cache | speed-up |", "|---|---:|"]
        lines += [f"| c={concurrency} | {speedup:.2f}x |" for concurrency, speedup in speedups]
    if disturbed := [r for r in run.results if _disturbed(r)]:
        lines += [
            "",
            f"(!) {len(disturbed)} cell(s) ran while processes outside the benchmark used more than "
            f"{DISTURBED_PERCENT}% of a core (column *other CPU*); their figures understate the system.",
        ]
    if run.notes:
        lines += ["", *(f"**Note:** {note}" for note in run.notes)]
    errors = [example for r in run.results for example in r.error_examples]
    if errors:
        lines += ["", "Error examples: " + "; ".join(f"`{e[:160]}`" for e in errors[:5])]
    return "\n".join(lines) + "\n"


def fp32_baseline_for(run: ModelRun, runs: Sequence[ModelRun]) -> list[CellResult]:
    """The int8 model's baseline is the fp32 PyTorch server of the model it was quantized from."""
    if not run.quantized:
        return []
    source = run.model.removesuffix("-int8")
    return [r for other in runs if other.model == source for r in other.results if r.system == "baseline"]


def write_markdown(runs: Sequence[ModelRun], info: dict, command: str, path: Path) -> Path:
    machine = info["machine"]
    header = [
        "## Results",
        "",
        f"Machine: {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs, {machine['memory_gib']} GiB; "
        f"load average before the run {machine['load_average_1_5_15']}. Corpus: {info['corpus']['source']} "
        f"({info['corpus']['texts']} texts). Each cell: {info['settings']['warmup_s']:g} s warm-up, "
        f"{info['settings']['duration_s']:g} s measured; one text per request; closed loop.",
        "",
        f"Command: `{command}`",
        "",
    ]
    body = [model_markdown(run, fp32_baseline_for(run, runs)) for run in runs]
    path.write_text("\n".join(header) + "\n".join(body), encoding="utf-8")
    return path


def write_json(runs: Sequence[ModelRun], info: dict, path: Path) -> Path:
    document = {
        **info,
        "models": [
            {
                "model": run.model,
                "quantized": run.quantized,
                "limit_batch_size": run.limit_batch_size,
                "batch_sweep": {str(size): rate for size, rate in run.batch_sweep.items()},
                "results": [result.to_json() for result in run.results],
                "notes": run.notes,
                "targets": [vars(check) for check in check_targets(run, fp32_baseline_for(run, runs))],
            }
            for run in runs
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def write_plot(runs: Sequence[ModelRun], path: Path) -> Path:
    """Throughput and p95 against concurrency, one row of two panels per model."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; set before pyplot is imported
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(runs), 2, figsize=(11, 3.6 * len(runs)), squeeze=False)
    for row, run in zip(axes, runs, strict=True):
        for system in SYSTEMS:
            cells = sorted((r for r in run.results if r.system == system), key=lambda r: r.concurrency)
            if not cells:
                continue
            concurrency = [r.concurrency for r in cells]
            row[0].plot(concurrency, [r.throughput for r in cells], marker="o", label=SYSTEM_TITLES[system])
            row[1].plot(concurrency, [r.p95_ms for r in cells], marker="o", label=SYSTEM_TITLES[system])
        row[0].set(title=f"{run.model}: throughput", xlabel="concurrency", ylabel="texts/s", xscale="log")
        row[1].set(title=f"{run.model}: p95 latency", xlabel="concurrency", ylabel="p95 ms", xscale="log", yscale="log")
        for axis in row:
            axis.grid(True, which="both", alpha=0.3)
        row[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_report(runs: Sequence[ModelRun], info: dict, command: str, out_dir: Path) -> list[Path]:
    """results.json, results.md and throughput_p95.png in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_json(runs, {**info, "command": command}, out_dir / "results.json"),
        write_markdown(runs, info, command, out_dir / "results.md"),
        write_plot(runs, out_dir / "throughput_p95.png"),
    ]
