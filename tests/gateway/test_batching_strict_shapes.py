"""Full batches under strict shapes: real Triton serving ``configs/cpu-strict.pbtxt``, real gateway, SST-2 texts.

With no ragged batching every Triton batch has one shape, as with the GPU's onnxruntime backend, and
SST-2 dev texts fall into several length buckets. Sent one per request, interleaved buckets used to
close Triton's batches after 1.6 rows on average (issue 10); the gateway must coalesce the rows of
concurrent requests per bucket so that Triton runs at least 8 rows per execution at concurrency 64.
Measured as the bench measures it: Triton's ``nv_inference_count`` / ``nv_inference_exec_count``
changes over a few seconds of closed-loop load.
"""

from functools import partial
from pathlib import Path

import pytest
import tritonclient.http as triton_http
from support import REAL_MODEL_NAME, SST2_DEV, gateway_settings, start_gateway

from contract.labelled_data import load_tsv
from contract.metadata import ServingMetadata
from loadtest.bench.loadgen import LoadSettings, run_closed_loop
from loadtest.bench.systems import JsonHttpSystem
from loadtest.bench.triton_metrics import read_counts

pytestmark = pytest.mark.slow

CONCURRENCY = 64
MIN_ROWS_PER_EXECUTION = 8
# Two workers, as `make run` starts the gateway: each coalesces only its own requests.
GATEWAY_WORKERS = 2
LOAD = LoadSettings(concurrency=CONCURRENCY, warmup_s=1.0, duration_s=4.0, drain_timeout_s=20.0)


async def test_sst2_texts_one_per_request_fill_tritons_batches_under_strict_shapes(
    strict_triton, tmp_path: Path
) -> None:
    served = triton_http.InferenceServerClient(strict_triton.http_url).get_model_config(REAL_MODEL_NAME)
    assert not any(tensor.get("allow_ragged_batch") for tensor in served["input"]), "not the strict config"
    texts = [example.text for example in load_tsv(SST2_DEV)]
    repository = strict_triton.repository
    labels = ServingMetadata.read(repository / REAL_MODEL_NAME / "1").labels
    settings = gateway_settings(
        strict_triton.http_url, repository, REAL_MODEL_NAME, GATEWAY_WORKERS=str(GATEWAY_WORKERS)
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    system = JsonHttpSystem("stack-strict", gateway.url + "/v1/sentiment", texts, labels, CONCURRENCY, [])
    await system.open()
    try:
        counts = partial(read_counts, strict_triton.metrics_url, REAL_MODEL_NAME)
        sample = await run_closed_loop(system.send, len(texts), LOAD, triton_counts=counts)
    finally:
        await system.close()
        gateway.stop()

    assert sample.errors == 0, sample.error_examples
    # Enough answers that the ratio describes steady load, not a handful of calls.
    assert sample.texts >= 2 * CONCURRENCY, f"only {sample.texts} answers in {LOAD.duration_s:g} s"
    rows_per_execution = sample.triton_rows / sample.triton_executions
    assert rows_per_execution >= MIN_ROWS_PER_EXECUTION, (
        f"Triton ran {sample.triton_rows:.0f} rows in {sample.triton_executions:.0f} executions "
        f"({rows_per_execution:.1f} per execution) while {sample.texts} texts were answered at concurrency "
        f"{CONCURRENCY}; at least {MIN_ROWS_PER_EXECUTION} per execution expected"
    )
