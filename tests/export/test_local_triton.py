"""The real tritonserver serving the export: readiness, exact logits, dynamic batching, real labels."""

import asyncio
import ipaddress
from pathlib import Path

import numpy as np
import onnxruntime as ort
import psutil
import pytest
import tritonclient.http as triton_http
import tritonclient.http.aio as triton_aio
from localtriton.server import TritonStartError
from prometheus_client.parser import text_string_to_metric_families
from support import REAL_MODEL_NAME, TINY_MODEL_NAME, RunningTriton, scrape, start_triton
from tokenizers import Tokenizer

from gateway.pipeline.postprocess import softmax

pytestmark = pytest.mark.slow

SENTENCES = ["I love this movie, it was wonderful.", "This was a terrible waste of time.", "fine", "meh 🙃"]


def encode(repository: Path, model: str, texts: list[str], length: int = 32) -> dict[str, np.ndarray]:
    tokenizer = Tokenizer.from_file(str(repository / model / "1" / "tokenizer" / "tokenizer.json"))
    tokenizer.enable_padding(length=length)
    tokenizer.enable_truncation(length)
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
    }


def triton_logits(client: triton_http.InferenceServerClient, model: str, tensors: dict[str, np.ndarray]) -> np.ndarray:
    inputs = []
    for name, array in tensors.items():
        infer_input = triton_http.InferInput(name, list(array.shape), "INT64")
        infer_input.set_data_from_numpy(array, binary_data=True)
        inputs.append(infer_input)
    outputs = [triton_http.InferRequestedOutput("logits", binary_data=True)]
    return client.infer(model, inputs, outputs=outputs).as_numpy("logits")


def metric(text: str, name: str, model: str) -> float:
    """One of Triton's per-model metrics, which must be there (a missing one means the model did not load)."""
    samples = [
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
        if sample.labels.get("model") == model
    ]
    assert samples, f"{name} for {model} missing from Triton's metrics"
    return sum(samples)


@pytest.fixture
def client(triton: RunningTriton):
    with triton_http.InferenceServerClient(triton.http_url) as client:
        yield client


def test_both_models_are_ready(client: triton_http.InferenceServerClient) -> None:
    assert client.is_server_ready()
    assert client.is_model_ready(TINY_MODEL_NAME)
    assert client.is_model_ready(REAL_MODEL_NAME)


def test_triton_returns_the_logits_of_in_process_onnx_runtime(
    client: triton_http.InferenceServerClient, triton: RunningTriton
) -> None:
    tensors = encode(triton.repository, TINY_MODEL_NAME, SENTENCES)
    session = ort.InferenceSession(str(triton.repository / TINY_MODEL_NAME / "1" / "model.onnx"))
    expected = session.run(["logits"], tensors)[0]
    np.testing.assert_allclose(triton_logits(client, TINY_MODEL_NAME, tensors), expected, atol=1e-5)


async def test_concurrent_requests_are_merged_by_the_dynamic_batcher(triton: RunningTriton) -> None:
    tensors = encode(triton.repository, TINY_MODEL_NAME, ["the same shape for every request"])
    inputs = []
    for name, array in tensors.items():
        infer_input = triton_aio.InferInput(name, list(array.shape), "INT64")
        infer_input.set_data_from_numpy(array, binary_data=True)
        inputs.append(infer_input)
    requests = 48

    before = scrape(triton.metrics_url)
    async with triton_aio.InferenceServerClient(triton.http_url) as client:
        results = await asyncio.gather(*(client.infer(TINY_MODEL_NAME, inputs) for _ in range(requests)))
    after = scrape(triton.metrics_url)
    assert len(results) == requests

    succeeded = metric(after, "nv_inference_request_success", TINY_MODEL_NAME) - metric(
        before, "nv_inference_request_success", TINY_MODEL_NAME
    )
    executions = metric(after, "nv_inference_exec_count", TINY_MODEL_NAME) - metric(
        before, "nv_inference_exec_count", TINY_MODEL_NAME
    )
    assert succeeded == requests
    assert executions < requests, f"{requests} requests ran in {executions} executions: no batching"


def test_the_real_sst2_model_labels_sentences_correctly(
    client: triton_http.InferenceServerClient, triton: RunningTriton
) -> None:
    texts = ["I love this movie, it was wonderful.", "This was a terrible waste of time."]
    probabilities = softmax(triton_logits(client, REAL_MODEL_NAME, encode(triton.repository, REAL_MODEL_NAME, texts)))
    labels = (triton.repository / REAL_MODEL_NAME / "labels.txt").read_text().split()
    assert [labels[i] for i in probabilities.argmax(axis=1)] == ["POSITIVE", "NEGATIVE"]
    assert probabilities.max(axis=1).min() > 0.9


def test_a_model_that_fails_to_load_is_a_clear_start_error(tmp_path: Path) -> None:
    broken = tmp_path / "repository" / "broken"
    (broken / "1").mkdir(parents=True)
    (broken / "configs").mkdir()
    # Unparseable (a string where a number belongs), so Triton gives up at once and exits.
    (broken / "configs" / "cpu.pbtxt").write_text('backend: "python"\nmax_batch_size: "many"\n')
    with pytest.raises(TritonStartError, match=r"exited with code 1(.|\n)*failed to load all models"):
        start_triton(tmp_path / "repository", tmp_path / "work")


def test_triton_listens_on_loopback_only(triton: RunningTriton) -> None:
    """Triton has no keys or quotas: by default nothing off this machine may reach it, only the gateway."""
    options = triton.server.options
    listening = {
        (connection.laddr.ip, connection.laddr.port)
        for connection in psutil.Process(triton.server.process.pid).net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }
    ports = {options.http_port, options.grpc_port, options.metrics_port}
    assert {port for _, port in listening} == ports
    # gRPC listens on an IPv6 socket that carries the IPv4 address (::ffff:127.0.0.1): loopback all the same.
    addresses = {ipaddress.ip_address(address) for address, _ in listening}
    assert {getattr(address, "ipv4_mapped", None) or address for address in addresses} == {
        ipaddress.ip_address("127.0.0.1")
    }
