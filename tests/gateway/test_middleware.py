"""Request metrics name the route a request was meant for, refusals included, and never a raw path."""

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import MAX_BODY_BYTES, TINY_MODEL_NAME, GatewayProcess, RunningTriton, gateway_settings, start_gateway

from gateway.api.auth import digest

pytestmark = pytest.mark.slow

API_KEY = "metrics-test-key"
KEY = {"X-API-Key": API_KEY}
UNKNOWN_PATH = "/v1/no-such-endpoint-7f3a"


@pytest.fixture(scope="module")
def keyed_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """Keys on and a quota of two requests per minute, so admission refuses with 401 and 429."""
    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        TINY_MODEL_NAME,
        GATEWAY_API_KEY_HASHES=digest(API_KEY),
        GATEWAY_RATE_LIMIT="2/minute",
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("metrics-gateway") / "gateway.log")
    yield process
    process.stop()


def request_counts(gateway: GatewayProcess) -> Counter[tuple[str, str, str]]:
    """``(method, route, status) -> requests`` from the gateway's own Prometheus exposition (/metrics is public)."""
    text = httpx.get(gateway.url + "/metrics").text
    (family,) = (f for f in text_string_to_metric_families(text) if f.name == "gateway_request_duration_seconds")
    return Counter(
        {
            (sample.labels["method"], sample.labels["route"], sample.labels["status"]): sample.value
            for sample in family.samples
            if sample.name.endswith("_count")
        }
    )


def test_admission_and_body_size_refusals_count_under_the_route_they_were_meant_for(
    keyed_gateway: GatewayProcess,
) -> None:
    url = keyed_gateway.url
    assert httpx.post(url + "/v1/sentiment", json={"text": "no key"}).status_code == 401
    oversized = {"texts": ["x" * MAX_BODY_BYTES]}
    assert httpx.post(url + "/v1/sentiment/batch", json=oversized, headers=KEY).status_code == 413
    assert httpx.get(url + UNKNOWN_PATH, headers=KEY).status_code == 404
    assert httpx.post(url + "/v1/sentiment", json={"text": "over quota"}, headers=KEY).status_code == 429

    counts = request_counts(keyed_gateway)
    assert counts[("POST", "/v1/sentiment", "401")] == 1
    assert counts[("POST", "/v1/sentiment/batch", "413")] == 1
    assert counts[("GET", "unmatched", "404")] == 1
    assert counts[("POST", "/v1/sentiment", "429")] == 1
    assert not [labels for labels in counts if UNKNOWN_PATH in labels[1]]


def test_docs_their_assets_and_a_wrong_method_count_under_their_route(gateway: GatewayProcess) -> None:
    before = request_counts(gateway)
    requests = {
        ("GET", "/docs"): "/docs",
        ("GET", "/openapi.json"): "/openapi.json",
        ("GET", "/static-offline-docs/swagger-ui.css"): "/static-offline-docs",
        ("GET", "/v1/sentiment"): "/v1/sentiment",  # 405
    }
    statuses = {}
    for (method, path), route in requests.items():
        statuses[(method, route)] = str(httpx.request(method, gateway.url + path).status_code)
    counted = request_counts(gateway) - before

    assert statuses[("GET", "/v1/sentiment")] == "405"
    for (method, route), status in statuses.items():
        assert counted[(method, route, status)] == 1, (method, route, status, counted)
