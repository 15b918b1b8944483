"""Drift monitoring end to end: the export's reference profile, the gateway's rolling PSI gauges."""

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import (
    REAL_MODEL_NAME,
    SST2_DEV,
    GatewayProcess,
    RunningTriton,
    gateway_settings,
    scrape,
    start_gateway,
)

from contract.drift_profile import TrafficProfile
from contract.labelled_data import load_tsv

pytestmark = pytest.mark.slow

WINDOW = 200


def drift_psi(gateway: GatewayProcess) -> dict[str, float]:
    text = scrape(gateway.url + "/metrics")
    return {
        sample.labels["signal"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "gateway_drift_psi"
        for sample in family.samples
    }


def send(gateway: GatewayProcess, texts: list[str]) -> None:
    for start in range(0, len(texts), 50):
        response = httpx.post(
            f"{gateway.url}/v1/sentiment/batch", json={"texts": texts[start : start + 50]}, timeout=60
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def drift_gateway(triton: RunningTriton, tmp_path: Path):
    settings = gateway_settings(
        triton.http_url,
        triton.repository,
        REAL_MODEL_NAME,
        GATEWAY_DRIFT_WINDOW=str(WINDOW),
        GATEWAY_DRIFT_MIN_TEXTS=str(WINDOW // 2),
        GATEWAY_MAX_TEXT_CHARS="20000",
        GATEWAY_MAX_BODY_BYTES="2000000",
        GATEWAY_TRITON_TIMEOUT_S="60",  # the machine may be busy; this test is about drift, not deadlines
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    yield gateway
    gateway.stop()


def test_the_export_records_the_reference_profile(triton: RunningTriton) -> None:
    profile = TrafficProfile.read(triton.repository / REAL_MODEL_NAME / "1")
    assert profile is not None and profile.texts == 872 and profile.labels == ["NEGATIVE", "POSITIVE"]
    for fractions in (profile.label_fractions, profile.score_fractions, profile.token_fractions):
        assert sum(fractions) == pytest.approx(1.0)
    assert 0.4 < profile.label_fractions[1] < 0.6  # SST-2 dev is balanced


def test_psi_stays_low_on_reference_like_traffic_and_rises_on_a_shifted_stream(drift_gateway: GatewayProcess) -> None:
    reference_like = [example.text for example in load_tsv(SST2_DEV)[:WINDOW]]
    assert drift_psi(drift_gateway) == {}, "no PSI before the window has enough texts"
    send(drift_gateway, reference_like)
    steady = drift_psi(drift_gateway)
    assert set(steady) == {"label", "score", "tokens"}
    assert max(steady.values()) < 0.1, steady

    # Several times longer than SST-2's sentences (bucket 64-128 vs 16-32) and all negative.
    shifted = [f"Day {i}: the product broke again and support never answered. " * 5 for i in range(WINDOW)]
    send(drift_gateway, shifted)
    drifted = drift_psi(drift_gateway)
    assert drifted["tokens"] > 0.25 and drifted["label"] > 0.25, drifted
