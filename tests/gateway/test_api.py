"""Every endpoint of a real gateway in front of a real Triton, and answers equal to in-process ONNX Runtime."""

import asyncio
import re
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
from support import TINY_MODEL_NAME, GatewayProcess, RunningTriton, metric_value
from tokenizers import Tokenizer

from gateway.pipeline.postprocess import softmax

pytestmark = pytest.mark.slow

LABELS = {"NEGATIVE", "POSITIVE"}
RESULT_KEYS = {"label", "score", "scores", "truncated", "windows", "model", "model_version"}
# Lengths that land in different buckets, one past the model's 512 tokens.
MIXED_TEXTS = [
    "good",
    "The acting was solid but the script never found its footing, " * 3,
    "bad " * 100,
    "An endless film. " * 200,
    "ok then",
]


class InProcessModel:
    """The model as the export wrote it, run one text at a time with no padding: the reference answer."""

    def __init__(self, repository: Path, model: str, version: int = 1) -> None:
        version_dir = repository / model / str(version)
        self.session = ort.InferenceSession(str(version_dir / "model.onnx"))
        self.tokenizer = Tokenizer.from_file(str(version_dir / "tokenizer" / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(512)

    def probabilities(self, text: str) -> np.ndarray:
        encoding = self.tokenizer.encode(text)
        feeds = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
        }
        return softmax(self.session.run(["logits"], feeds)[0])[0]


@pytest.fixture(scope="module")
def reference(triton: RunningTriton) -> InProcessModel:
    return InProcessModel(triton.repository, TINY_MODEL_NAME)


def classify(gateway: GatewayProcess, text: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/sentiment", json={"text": text}, timeout=30)


def assert_matches_reference(result: dict, expected: np.ndarray) -> None:
    scores = [result["scores"]["NEGATIVE"], result["scores"]["POSITIVE"]]
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    assert result["label"] == ["NEGATIVE", "POSITIVE"][int(np.argmax(expected))]
    assert result["score"] == pytest.approx(max(scores))


def test_single_text_answers_like_in_process_onnx_runtime(gateway: GatewayProcess, reference: InProcessModel) -> None:
    response = classify(gateway, "I love this movie, it was wonderful.")
    assert response.status_code == 200
    result = response.json()
    assert set(result) == RESULT_KEYS
    assert result["model"] == TINY_MODEL_NAME and result["model_version"] == "1"
    assert result["truncated"] is False
    assert sum(result["scores"].values()) == pytest.approx(1.0)
    assert_matches_reference(result, reference.probabilities("I love this movie, it was wonderful."))


def test_batch_keeps_input_order_across_buckets_and_flags_truncation(
    gateway: GatewayProcess, reference: InProcessModel
) -> None:
    response = httpx.post(f"{gateway.url}/v1/sentiment/batch", json={"texts": MIXED_TEXTS}, timeout=30)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(MIXED_TEXTS)
    for text, result in zip(MIXED_TEXTS, results, strict=True):
        assert_matches_reference(result, reference.probabilities(text))
    assert [result["truncated"] for result in results] == [False, False, False, True, False]


def test_a_full_batch_request_is_answered_in_order(gateway: GatewayProcess, reference: InProcessModel) -> None:
    texts = [f"review number {i}: " + "fine " * (i % 40) for i in range(150)]  # 2 buckets
    response = httpx.post(f"{gateway.url}/v1/sentiment/batch", json={"texts": texts}, timeout=60)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(texts)
    for index in (0, 1, 63, 64, 65, 127, 128, 149):
        assert_matches_reference(results[index], reference.probabilities(texts[index]))


@pytest.mark.parametrize(
    "text",
    [
        "Très bien, j'ai adoré ! 👍🏽",
        "这部电影非常好看，我很喜欢。",  # noqa: RUF001 (the full-width comma is the point)
        "これは最悪の映画だった",
        "مرحبا، هذا رائع",
        "😀😃😄😁😆😅🤣😂🙂🙃",
        "bell\x07 null\x00 escape\x1b[31m red",
        "zero\u200bwidth\u200d joiner\ufeff",
        "e\u0301\u0301\u0301 combining",
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f flag",
    ],
    ids=["accents-emoji", "chinese", "japanese", "arabic", "emoji-only", "control", "zero-width", "combining", "tags"],
)
def test_any_unicode_text_is_answered(gateway: GatewayProcess, reference: InProcessModel, text: str) -> None:
    response = classify(gateway, text)
    assert response.status_code == 200, response.text
    assert_matches_reference(response.json(), reference.probabilities(text))


def test_the_real_sst2_model_gets_the_labels_right(real_gateway: GatewayProcess) -> None:
    texts = ["I love this movie, it was wonderful.", "This was a terrible waste of time."]
    response = httpx.post(f"{real_gateway.url}/v1/sentiment/batch", json={"texts": texts}, timeout=30)
    assert [result["label"] for result in response.json()["results"]] == ["POSITIVE", "NEGATIVE"]


def test_service_info_health_readiness_and_docs(gateway: GatewayProcess) -> None:
    info = httpx.get(gateway.url + "/").json()
    assert info["model"] == TINY_MODEL_NAME and info["labels"] == ["NEGATIVE", "POSITIVE"]
    # Every documented operation, the docs pages and the playground, each of them answering.
    paths = httpx.get(gateway.url + "/openapi.json").json()["paths"]
    documented = {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}
    pages = {"GET /openapi.json", "GET /docs", "GET /redoc", "GET /playground"}
    assert set(info["endpoints"]) == documented | pages
    bodies = {f"POST /{v}/sentiment": {"text": "hi"} for v in ("v1", "v2")}
    bodies |= {f"POST /{v}/sentiment/batch": {"texts": ["hi"]} for v in ("v1", "v2")}
    for endpoint in info["endpoints"]:
        method, path = endpoint.split(" ")
        assert httpx.request(method, gateway.url + path, json=bodies.get(endpoint)).status_code == 200, endpoint
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(gateway.url + "/readyz").status_code == 200
    schema = httpx.get(gateway.url + "/openapi.json").json()
    assert {"/v1/sentiment", "/v1/sentiment/batch"} <= set(schema["paths"])
    single = schema["paths"]["/v1/sentiment"]["post"]
    assert {"413", "422", "429", "503", "504"} <= set(single["responses"])
    assert "examples" in str(single["requestBody"]) or "examples" in str(schema["components"])
    assert httpx.get(gateway.url + "/docs").status_code == 200


def test_request_id_is_echoed_or_made_up(gateway: GatewayProcess) -> None:
    echoed = httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "hi"}, headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    made_up = classify(gateway, "hi").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made_up)
    assert '"request_id": "trace-42"' in gateway.log()


def test_metrics_cover_requests_texts_tokens_truncation_triton_and_predictions(gateway: GatewayProcess) -> None:
    before = httpx.get(gateway.url + "/metrics").text
    requests = 12  # spread over both workers; the scrape must add them up
    for _ in range(requests):
        assert classify(gateway, "An endless film. " * 200).status_code == 200
    after = httpx.get(gateway.url + "/metrics").text

    count = {"method": "POST", "route": "/v1/sentiment", "status": "200"}
    name = "gateway_request_duration_seconds_count"
    assert metric_value(after, name, **count) - metric_value(before, name, **count) == requests
    assert (
        metric_value(after, "gateway_truncated_texts_total") - metric_value(before, "gateway_truncated_texts_total")
        == requests
    )
    for series in (
        "gateway_texts_per_request_count",
        "gateway_tokens_per_text_count",
        "gateway_prediction_score_count",
    ):
        assert metric_value(after, series) - metric_value(before, series) >= requests, series
    assert sum(metric_value(after, "gateway_predictions_total", label=label) for label in LABELS) >= requests
    assert metric_value(after, "gateway_triton_request_duration_seconds_count", bucket="512", outcome="ok") >= 1


async def test_concurrent_single_requests_share_triton_calls(gateway: GatewayProcess, triton: RunningTriton) -> None:
    def counters() -> tuple[float, float, float]:
        text = httpx.get(triton.metrics_url).text
        model = {"model": TINY_MODEL_NAME, "version": "1"}
        return (
            metric_value(text, "nv_inference_count", **model),
            metric_value(text, "nv_inference_request_success", **model),
            metric_value(text, "nv_inference_exec_count", **model),
        )

    rows_before, calls_before, executions_before = counters()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/sentiment", json={"text": f"same bucket {i}"}) for i in range(64))
        )
    assert all(response.status_code == 200 for response in responses)
    rows_after, calls_after, executions_after = counters()
    assert rows_after - rows_before == 64, "every text reached Triton exactly once"
    # The workers coalesce concurrent requests into shared calls; Triton's batcher may merge those further.
    assert calls_after - calls_before <= 32
    assert executions_after - executions_before <= calls_after - calls_before
