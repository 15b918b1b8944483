"""API keys: off by default, on when digests are configured; Bearer or X-API-Key; 401 with one JSON body;
public paths configurable; the key itself never reaches the log."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import GatewayProcess, RunningTriton, gateway_settings, start_gateway

from contract.rollout import RolloutState
from gateway.api.auth import digest
from rollout.stack import API_KEY_ENV

pytestmark = pytest.mark.slow

KEY = "s3cret-key-for-tests-0123456789"
OTHER_KEY = "another-valid-key-9876543210"
WRONG_KEY = "not-a-configured-key-XYZ"
PUBLIC = ("/healthz", "/readyz", "/metrics")
PRIVATE_GETS = ("/", "/docs", "/openapi.json")


@pytest.fixture(scope="module")
def keyed_gateway(triton: RunningTriton, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    settings = gateway_settings(
        triton.http_url, triton.repository, GATEWAY_API_KEY_HASHES=f"{digest(KEY)}, {digest(OTHER_KEY).upper()}"
    )
    process = start_gateway(settings, tmp_path_factory.mktemp("keyed-gateway") / "gateway.log")
    yield process
    process.stop()


def classify(gateway: GatewayProcess, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "hello"}, headers=headers, timeout=30)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "unauthorized"
    assert set(response.json()["error"]) == {"type", "message", "field"}
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_without_configured_keys_no_key_is_needed(open_gateway: GatewayProcess) -> None:
    assert classify(open_gateway).status_code == 200
    assert classify(open_gateway, {"Authorization": f"Bearer {WRONG_KEY}"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": f"bearer   {KEY}"},
        {"X-API-Key": KEY},
        {"X-API-Key": OTHER_KEY},  # configured upper-case: digests compare case-insensitively
        {"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": KEY},
    ],
    ids=["bearer", "bearer-lowercase-spaces", "x-api-key", "second-key", "x-api-key-beside-basic"],
)
def test_a_configured_key_is_accepted_either_way(keyed_gateway: GatewayProcess, headers: dict[str, str]) -> None:
    assert classify(keyed_gateway, headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {WRONG_KEY}"},
        {"X-API-Key": WRONG_KEY},
        {"Authorization": "Bearer"},
        {"Authorization": KEY},  # no scheme
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY[:-1]}"},
        {"Authorization": f"Bearer {KEY}x"},
        {"X-API-Key": digest(KEY)},  # the digest is not the key
        {"X-API-Key": "k" * 8000},
    ],
    ids=[
        "none",
        "wrong-bearer",
        "wrong-x-api-key",
        "bearer-empty",
        "no-scheme",
        "basic",
        "prefix",
        "suffix",
        "digest",
        "8kB-key",
    ],
)
def test_a_missing_or_wrong_key_is_401_on_every_private_route(
    keyed_gateway: GatewayProcess, headers: dict[str, str]
) -> None:
    assert_unauthorized(classify(keyed_gateway, headers))
    batch = httpx.post(f"{keyed_gateway.url}/v1/sentiment/batch", json={"texts": ["a"]}, headers=headers, timeout=30)
    assert_unauthorized(batch)
    for path in PRIVATE_GETS:
        assert_unauthorized(httpx.get(keyed_gateway.url + path, headers=headers, timeout=30))


def test_non_ascii_key_bytes_are_401_not_500(keyed_gateway: GatewayProcess) -> None:
    for raw in (b"Bearer caf\xe9", b"Bearer \xff\xfe\xfd"):
        assert_unauthorized(
            httpx.post(
                f"{keyed_gateway.url}/v1/sentiment", json={"text": "x"}, headers={"Authorization": raw}, timeout=30
            )
        )


def test_unauthenticated_requests_are_refused_before_the_body_is_read(keyed_gateway: GatewayProcess) -> None:
    # Broken JSON and an oversized body: without a key the answer is 401 all the same, not 422 or 413.
    broken = httpx.post(
        f"{keyed_gateway.url}/v1/sentiment", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_unauthorized(broken)


@pytest.mark.parametrize("path", PUBLIC)
def test_health_readiness_and_metrics_are_public_by_default(keyed_gateway: GatewayProcess, path: str) -> None:
    assert httpx.get(keyed_gateway.url + path, timeout=30).status_code == 200


def test_public_paths_are_configurable(triton: RunningTriton, tmp_path: Path) -> None:
    settings = gateway_settings(
        triton.http_url, triton.repository, GATEWAY_API_KEY_HASHES=digest(KEY), GATEWAY_PUBLIC_PATHS="/healthz"
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log", wait_for="/healthz")
    try:
        assert httpx.get(gateway.url + "/healthz", timeout=30).status_code == 200
        assert_unauthorized(httpx.get(gateway.url + "/metrics", timeout=30))
        assert_unauthorized(httpx.get(gateway.url + "/readyz", timeout=30))
        assert httpx.get(gateway.url + "/readyz", headers={"X-API-Key": KEY}, timeout=30).status_code == 200
    finally:
        gateway.stop()


def test_keys_never_reach_the_log(keyed_gateway: GatewayProcess) -> None:
    classify(keyed_gateway, {"Authorization": f"Bearer {KEY}"})
    classify(keyed_gateway, {"X-API-Key": WRONG_KEY})
    classify(keyed_gateway, {"Authorization": f"Bearer {OTHER_KEY}"})
    log = keyed_gateway.log()
    for secret in (KEY, OTHER_KEY, WRONG_KEY):
        assert secret not in log


def test_the_rollout_verbs_send_the_clients_key(
    keyed_gateway: GatewayProcess, triton: RunningTriton, tmp_path: Path
) -> None:
    """`make rollout-status` and the verbs read GET / (private once keys are on) with SENTIMENT_API_KEY."""
    state = tmp_path / "rollout.json"
    RolloutState("1").write(state)
    command = [sys.executable, "-m", "rollout", "--gateway", keyed_gateway.url, "--state", str(state), "status"]
    environment = {key: value for key, value in os.environ.items() if key != API_KEY_ENV}

    refused = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert refused.returncode == 2 and "answered 401" in refused.stderr, refused.stderr
    accepted = subprocess.run(
        command, capture_output=True, text=True, env={**environment, API_KEY_ENV: KEY}, check=False
    )
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.strip().endswith("champion 1, no challenger; the gateway follows it")

    # A verb that cannot see the gateway follow (no key) puts the state back as it was: nothing changes unseen.
    trying = RolloutState("1", "2", "shadow", 10)
    trying.write(state)
    rollback = [*command[:-1], "--triton", triton.http_url, "rollback"]
    refused = subprocess.run(rollback, capture_output=True, text=True, env=environment, check=False)
    assert refused.returncode == 2 and "the state is back to champion 1, challenger 2" in refused.stderr
    assert RolloutState.read(state) == trying
