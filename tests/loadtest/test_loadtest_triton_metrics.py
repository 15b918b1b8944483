"""Reading a real Triton's batching counters; the parser alone is tests/loadtest/test_triton_metrics_parser.py."""

import pytest
import tritonclient.http as triton_http
from support import TINY_MODEL_NAME

from contract.metadata import ServingMetadata
from loadtest.bench.limit import gateway_batches, gateway_encoder
from loadtest.bench.triton_metrics import InferenceCounts, read_counts

pytestmark = pytest.mark.slow


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
