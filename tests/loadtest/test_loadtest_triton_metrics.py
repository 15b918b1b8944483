"""Reading Triton's batching counters: the parser on Triton's exposition format, and a real Triton's endpoint."""

import pytest
import tritonclient.http as triton_http
from support import TINY_MODEL_NAME

from contract.metadata import ServingMetadata
from loadtest.bench.limit import gateway_batches, gateway_encoder
from loadtest.bench.triton_metrics import InferenceCounts, parse_counts, read_counts

pytestmark = pytest.mark.slow

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


def test_a_real_tritons_counters_move_by_the_rows_and_batches_it_ran(triton) -> None:
    metrics_url = triton.metrics_url
    version_dir = triton.repository / TINY_MODEL_NAME / "1"
    metadata = ServingMetadata.read(version_dir)
    encoder = gateway_encoder(version_dir, metadata)
    (batch,) = gateway_batches(encoder, metadata, ["one", "two", "three"], max_batch_size=3)
    before = read_counts(metrics_url, TINY_MODEL_NAME)
    client = triton_http.InferenceServerClient(triton.http_url)
    inputs = []
    for name, tensor in (("input_ids", batch.input_ids), ("attention_mask", batch.attention_mask)):
        infer_input = triton_http.InferInput(name, list(tensor.shape), "INT64")
        infer_input.set_data_from_numpy(tensor)
        inputs.append(infer_input)
    client.infer(TINY_MODEL_NAME, inputs)
    client.close()
    assert read_counts(metrics_url, TINY_MODEL_NAME) - before == InferenceCounts(rows=3, executions=1)
