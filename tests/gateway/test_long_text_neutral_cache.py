"""Beyond truncation: whole-text scoring by windows, the neutral band, and the answer cache."""

from pathlib import Path

import httpx
import numpy as np
import pytest
from localtriton.server import TritonServer
from support import (
    DEFAULT_MODEL_FILES,
    TINY_MODEL_NAME,
    GatewayProcess,
    RedisProcess,
    gateway_settings,
    metric_value,
    scrape,
    start_gateway,
    start_triton,
)
from test_api import InProcessModel

from export.pipeline import ExportRequest, run_export
from export.random_checkpoint import build_random_checkpoint

pytestmark = pytest.mark.slow

POSITIVE_PART = "I loved it, what a wonderful and moving film. " * 60  # about one window
NEGATIVE_PART = "This was a terrible, boring waste of time. " * 520  # about nine windows


def classify(gateway: GatewayProcess, payload: dict) -> dict:
    response = httpx.post(f"{gateway.url}/v1/sentiment", json=payload, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_windows_score_the_whole_of_a_text_ten_times_the_maximum(real_gateway: GatewayProcess) -> None:
    text = POSITIVE_PART + NEGATIVE_PART
    truncated = classify(real_gateway, {"text": text})
    assert truncated["label"] == "POSITIVE" and truncated["truncated"] is True and truncated["windows"] == 1

    whole = classify(real_gateway, {"text": text, "long_text": "windows"})
    assert whole["label"] == "NEGATIVE", "the negative second part must outweigh the positive opening"
    assert whole["truncated"] is False and whole["windows"] >= 10


def test_windows_of_a_short_text_are_one_window_and_the_same_answer(real_gateway: GatewayProcess) -> None:
    payload = {"text": "A quietly moving film."}
    assert classify(real_gateway, payload | {"long_text": "windows"}) == classify(real_gateway, payload)


def test_neutral_band_per_request_keeps_the_raw_scores(real_gateway: GatewayProcess) -> None:
    text = "The movie was fine, I guess."
    plain = classify(real_gateway, {"text": text})
    banded = classify(real_gateway, {"text": text, "neutral_threshold": 1.0})
    assert plain["label"] in {"NEGATIVE", "POSITIVE"}
    assert banded["label"] == "NEUTRAL"
    assert banded["scores"] == plain["scores"] and banded["score"] == plain["score"]
    confident = classify(real_gateway, {"text": "I love this movie, it was wonderful.", "neutral_threshold": 0.6})
    assert confident["label"] == "POSITIVE"


def test_an_invalid_neutral_threshold_or_mode_is_422(real_gateway: GatewayProcess) -> None:
    for payload, field in (
        ({"text": "x", "neutral_threshold": 1.5}, "neutral_threshold"),
        ({"text": "x", "long_text": "all"}, "long_text"),
    ):
        response = httpx.post(f"{real_gateway.url}/v1/sentiment", json=payload)
        assert response.status_code == 422 and response.json()["error"]["field"] == field


def cache_hits(gateway: GatewayProcess) -> float:
    return metric_value(scrape(gateway.url + "/metrics"), "gateway_cache_lookups_total", result="hit")


@pytest.fixture(scope="module")
def two_version_triton(tmp_path_factory: pytest.TempPathFactory, model_repository: Path):
    """Versions 1 and 2 of a tiny model (different weights), both served, for cache isolation."""
    repository = tmp_path_factory.mktemp("versions")
    for version, seed in ((1, 0), (2, 1)):
        checkpoint = build_random_checkpoint(tmp_path_factory.mktemp(f"seed{seed}"), DEFAULT_MODEL_FILES, seed=seed)
        run_export(ExportRequest(model=str(checkpoint), name=TINY_MODEL_NAME, repository=repository, version=version))
    # Both are served: every config the export writes has version_policy { all { } }.
    server: TritonServer = start_triton(repository, tmp_path_factory.mktemp("versions-triton"))
    yield server, repository
    server.stop()


def test_cache_answers_repeats_and_never_crosses_model_versions(
    two_version_triton, redis_server: RedisProcess, tmp_path: Path
) -> None:
    server, repository = two_version_triton
    url = f"127.0.0.1:{server.options.http_port}"
    shared = {"GATEWAY_CACHE_SIZE": "1000", "REDIS_URL": redis_server.url}
    gateways = [
        start_gateway(
            gateway_settings(url, repository, TINY_MODEL_NAME, GATEWAY_MODEL_VERSION=str(version), **shared),
            tmp_path / f"gateway-v{version}.log",
        )
        for version in (1, 2)
    ]
    try:
        v1, v2 = gateways
        text = "A cached   answer,\tplease."
        first = classify(v1, {"text": text})
        hits_before = cache_hits(v1)
        again = classify(v1, {"text": " A cached answer, please. "})  # same after normalisation
        assert again == first and cache_hits(v1) == hits_before + 1

        other_version = classify(v2, {"text": text})
        assert other_version["model_version"] == "2"
        expected = InProcessModel(repository, TINY_MODEL_NAME, version=2).probabilities(text)
        np.testing.assert_allclose(list(other_version["scores"].values()), expected, atol=1e-4)
        assert other_version["scores"] != first["scores"]
    finally:
        for gateway in gateways:
            gateway.stop()
