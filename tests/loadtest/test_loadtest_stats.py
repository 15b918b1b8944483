"""Percentiles and cell summaries: the arithmetic every benchmark table rests on."""

import math

import numpy as np
import pytest

from loadtest.bench.stats import WindowSample, cell, peak, percentile, summarize

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("q", [0, 1, 25, 50, 95, 99, 100])
@pytest.mark.parametrize("values", [[5.0], [3.0, 1.0], [float(v) for v in range(1, 102)], [0.1, 9.0, 2.5, 2.5, 7.0]])
def test_percentile_matches_numpy_linear(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_percentile_of_nothing_is_nan_and_range_is_checked() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summarize_counts_successful_texts_and_converts_units() -> None:
    sample = WindowSample(
        latencies_s=[0.010, 0.020, 0.030, 0.040],
        texts=4,
        errors=2,
        window_s=2.0,
        client_cpu_s=0.5,
        server_cpu_s=3.0,
        error_examples=["BadAnswer: HTTP 429"],
    )
    result = summarize("tiny", "stack", 8, sample)
    assert result.throughput == 2.0
    assert result.requests == 4 and result.errors == 2
    assert result.p50_ms == pytest.approx(25.0)
    assert result.mean_ms == pytest.approx(25.0)
    assert result.client_cpu_percent == pytest.approx(25.0)
    assert result.server_cpu_percent == pytest.approx(150.0)


def test_all_failed_cell_has_no_latency_and_serialises_it_as_null() -> None:
    result = summarize("tiny", "stack", 1, WindowSample([], 0, 7, 1.0, 0.1))
    assert result.throughput == 0 and result.errors == 7
    assert result.to_json()["p95_ms"] is None
    assert result.server_cpu_percent is None


def test_peak_and_cell_pick_rows() -> None:
    rows = [
        summarize("m", system, c, WindowSample([0.01] * n, n, 0, 1.0, 0.0))
        for system, c, n in [("limit", 1, 10), ("limit", 8, 30), ("stack", 1, 5), ("stack", 8, 4)]
    ]
    assert peak(rows, "limit").concurrency == 8
    assert peak(rows, "stack").concurrency == 1
    assert peak(rows, "baseline") is None
    assert cell(rows, "stack", 8).texts == 4
    assert cell(rows, "stack", 32) is None


def test_other_cpu_is_what_the_machine_spent_beyond_client_and_server() -> None:
    sample = WindowSample([0.01], 1, 0, 2.0, client_cpu_s=0.4, server_cpu_s=2.6, machine_cpu_s=3.5)
    assert summarize("m", "stack", 1, sample).other_cpu_percent == pytest.approx(25.0)
    unknown = WindowSample([0.01], 1, 0, 2.0, client_cpu_s=0.4)
    assert summarize("m", "limit", 1, unknown).other_cpu_percent is None


def test_rows_per_execution_and_gateway_cpu_per_request_come_from_the_window() -> None:
    sample = WindowSample(
        [0.01] * 90, 90, 10, 2.0, client_cpu_s=0.4, gateway_cpu_s=0.05, triton_rows=90, triton_executions=12
    )
    result = summarize("m", "stack-strict", 64, sample)
    assert result.rows_per_execution == pytest.approx(7.5)
    assert result.gateway_cpu_ms_per_request == pytest.approx(0.5)  # 50 ms over 100 answers, errors included
    idle = summarize("m", "triton", 1, WindowSample([], 0, 0, 1.0, 0.0, triton_rows=0, triton_executions=0))
    assert idle.rows_per_execution is None and idle.gateway_cpu_ms_per_request is None
