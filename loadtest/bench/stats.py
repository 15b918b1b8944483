"""Percentiles and the summary of one benchmark cell (one system at one concurrency).

Kept free of numpy and I/O so that the arithmetic every table rests on is tested on its own.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (numpy's default method).

    Returns NaN for no values: a cell where every request failed has no latency, and a NaN shows as
    such in the table instead of a misleading zero.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lower = math.floor(rank)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (rank - lower)


@dataclass(frozen=True)
class WindowSample:
    """What the load generator saw inside the measurement window."""

    latencies_s: list[float]
    texts: int
    errors: int
    window_s: float
    client_cpu_s: float
    server_cpu_s: float | None = None
    machine_cpu_s: float | None = None  # every process on the machine, ours included
    error_examples: list[str] = field(default_factory=list)
    gateway_cpu_s: float | None = None  # the gateway's process tree alone (full-stack systems)
    triton_rows: float | None = None  # Triton's nv_inference_count change over the window
    triton_executions: float | None = None  # and its nv_inference_exec_count change


@dataclass(frozen=True)
class CellResult:
    """One row of the results table; latencies in milliseconds, CPU as a percentage of one core."""

    model: str
    system: str
    concurrency: int
    throughput: float  # texts per second
    requests: int
    texts: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    window_s: float
    client_cpu_percent: float
    server_cpu_percent: float | None
    other_cpu_percent: float | None  # what processes outside the benchmark took meanwhile
    error_examples: list[str]
    rows_per_execution: float | None = None  # Triton's mean batch in the window (systems with a Triton)
    gateway_cpu_ms_per_request: float | None = None  # gateway process tree CPU over requests answered

    def to_json(self) -> dict:
        return {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in asdict(self).items()
        }


def _other_cpu_percent(sample: WindowSample) -> float | None:
    if not sample.machine_cpu_s:
        return None
    ours = sample.client_cpu_s + (sample.server_cpu_s or 0.0)
    return max(0.0, 100 * (sample.machine_cpu_s - ours) / sample.window_s)


def _rows_per_execution(sample: WindowSample) -> float | None:
    if not sample.triton_executions:  # not measured, or no batch ran in the window
        return None
    return sample.triton_rows / sample.triton_executions


def _gateway_cpu_ms_per_request(sample: WindowSample) -> float | None:
    answered = len(sample.latencies_s) + sample.errors
    if sample.gateway_cpu_s is None or not answered:
        return None
    return 1000 * sample.gateway_cpu_s / answered


def summarize(model: str, system: str, concurrency: int, sample: WindowSample) -> CellResult:
    """Turn the raw window into the reported figures; throughput counts only successful texts."""
    if sample.window_s <= 0:
        raise ValueError("the measurement window must be positive")
    latencies_ms = [latency * 1000 for latency in sample.latencies_s]
    return CellResult(
        model=model,
        system=system,
        concurrency=concurrency,
        throughput=sample.texts / sample.window_s,
        requests=len(latencies_ms),
        texts=sample.texts,
        errors=sample.errors,
        p50_ms=percentile(latencies_ms, 50),
        p95_ms=percentile(latencies_ms, 95),
        p99_ms=percentile(latencies_ms, 99),
        mean_ms=sum(latencies_ms) / len(latencies_ms) if latencies_ms else math.nan,
        window_s=sample.window_s,
        client_cpu_percent=100 * sample.client_cpu_s / sample.window_s,
        server_cpu_percent=None if sample.server_cpu_s is None else 100 * sample.server_cpu_s / sample.window_s,
        other_cpu_percent=_other_cpu_percent(sample),
        error_examples=list(sample.error_examples),
        rows_per_execution=_rows_per_execution(sample),
        gateway_cpu_ms_per_request=_gateway_cpu_ms_per_request(sample),
    )


def peak(results: Sequence[CellResult], system: str) -> CellResult | None:
    """The cell where ``system`` reached its highest throughput (its saturated throughput), if measured."""
    cells = [result for result in results if result.system == system]
    return max(cells, key=lambda result: result.throughput) if cells else None


def cell(results: Sequence[CellResult], system: str, concurrency: int) -> CellResult | None:
    return next((r for r in results if r.system == system and r.concurrency == concurrency), None)
