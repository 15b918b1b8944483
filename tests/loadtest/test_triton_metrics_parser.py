"""Reading Triton's batching counters from its exposition format; tests/loadtest/test_loadtest_triton_metrics.py
reads a real Triton's endpoint."""

import pytest

from loadtest.bench.triton_metrics import InferenceCounts, parse_counts

pytestmark = pytest.mark.fast

# The shape of Triton 2.51's /metrics: one sample per model and version, other families around them.
EXPOSITION = """# HELP nv_inference_count Number of inferences performed (does not include cached requests)
# TYPE nv_inference_count counter
nv_inference_count{model="sentiment",version="1"} 120
nv_inference_count{model="sentiment",version="2"} 30
nv_inference_count{model="other",version="1"} 999
# HELP nv_inference_exec_count Number of model executions performed (does not include cached requests)
# TYPE nv_inference_exec_count counter
nv_inference_exec_count{model="sentiment",version="1"} 10
nv_inference_exec_count{model="sentiment",version="2"} 5
nv_inference_exec_count{model="other",version="1"} 1
# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{model="sentiment",version="1"} 5000
"""


def test_counts_are_summed_over_versions_of_the_named_model_only() -> None:
    assert parse_counts(EXPOSITION, "sentiment") == InferenceCounts(rows=150, executions=15)
    assert parse_counts(EXPOSITION, "absent") == InferenceCounts(rows=0, executions=0)
    window = parse_counts(EXPOSITION, "sentiment") - InferenceCounts(rows=110, executions=11)
    assert window.rows_per_execution == 10
    assert InferenceCounts(rows=0, executions=0).rows_per_execution is None
