"""Quotas behind a real trusted proxy hop, as on EKS behind an ALB.

A real gateway (real Triton behind it) trusts X-Forwarded-For only from GATEWAY_FORWARDED_ALLOW_IPS. A real
proxy process on 127.0.0.1 (forwarding_proxy.py) appends each caller's address, as an ALB does. Linux
routes all of 127/8 to loopback, so 127.0.0.2, .3, ... are distinct callers on one machine.
"""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from localtriton.server import free_port
from support import GatewayProcess, RunningTriton, gateway_settings, start_gateway

from gateway.api.auth import digest

pytestmark = pytest.mark.slow

PROXY_SCRIPT = Path(__file__).with_name("forwarding_proxy.py")
QUOTA = 3
KEY_A = "proxy-quota-key-a-0123456789"
KEY_B = "proxy-quota-key-b-0123456789"


@dataclass
class Proxy:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_proxy(upstream: str, log_file: Path) -> Proxy:
    port = free_port()
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(PROXY_SCRIPT), "--port", str(port), "--upstream", upstream],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"proxy exited with {process.returncode}:\n{log_file.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return Proxy(process, port)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("proxy did not listen within 20 s")


@pytest.fixture
def behind_proxy(triton: RunningTriton, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple]:
    """A gateway with keys on or off (the test's parameter) and a small quota, and a proxy in front of it."""
    overrides = getattr(request, "param", {})
    settings = gateway_settings(triton.http_url, triton.repository, GATEWAY_RATE_LIMIT=f"{QUOTA}/minute", **overrides)
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    proxy = None
    try:
        proxy = start_proxy(gateway.url, tmp_path / "proxy.log")
        yield gateway, proxy
    finally:
        if proxy is not None:
            proxy.process.terminate()
            proxy.process.wait(timeout=10)
        gateway.stop()


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def classify(client: httpx.Client, base_url: str, headers: dict[str, str] | None = None) -> int:
    return client.post(f"{base_url}/v1/sentiment", json={"text": "fine"}, headers=headers).status_code


def spend(client: httpx.Client, base_url: str, headers: dict[str, str] | None = None) -> list[int]:
    """One request more than the quota: QUOTA successes, then a 429."""
    return [classify(client, base_url, headers) for _ in range(QUOTA + 1)]


SPENT = [200] * QUOTA + [429]


def test_callers_behind_the_proxy_get_a_quota_each(behind_proxy: tuple[GatewayProcess, Proxy]) -> None:
    _, proxy = behind_proxy
    with client_from("127.0.0.2") as first, client_from("127.0.0.3") as second:
        assert spend(first, proxy.url) == SPENT
        # Same proxy hop, another forwarded address: its own quota, not the proxy's.
        assert spend(second, proxy.url) == SPENT


@pytest.mark.parametrize(
    "behind_proxy", [{"GATEWAY_API_KEY_HASHES": f"{digest(KEY_A)},{digest(KEY_B)}"}], indirect=True
)
def test_keys_behind_the_proxy_get_a_quota_each(behind_proxy: tuple[GatewayProcess, Proxy]) -> None:
    _, proxy = behind_proxy
    with client_from("127.0.0.2") as caller:
        assert spend(caller, proxy.url, {"X-API-Key": KEY_A}) == SPENT
        # The same address with another key: the quota is the key's.
        assert spend(caller, proxy.url, {"Authorization": f"Bearer {KEY_B}"}) == SPENT


def test_a_forged_forwarded_address_gets_no_quota_of_its_own(behind_proxy: tuple[GatewayProcess, Proxy]) -> None:
    gateway, proxy = behind_proxy
    with client_from("127.0.0.4") as direct, client_from("127.0.0.5") as proxied:
        # Straight to the gateway from an untrusted address: its X-Forwarded-For is ignored.
        forged = [classify(direct, gateway.url, {"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(QUOTA + 1)]
        assert forged == SPENT
        # Through the proxy, which appends the real caller after the forged entry: the caller pays.
        forged = [classify(proxied, proxy.url, {"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(QUOTA + 1)]
        assert forged == SPENT


@pytest.mark.parametrize("behind_proxy", [{"GATEWAY_FORWARDED_ALLOW_IPS": "10.0.0.0/16"}], indirect=True)
def test_a_proxy_outside_the_trusted_range_is_one_caller(behind_proxy: tuple[GatewayProcess, Proxy]) -> None:
    """GATEWAY_FORWARDED_ALLOW_IPS is what makes the hop trusted: without 127.0.0.1 in it, all share one quota."""
    _, proxy = behind_proxy
    with client_from("127.0.0.2") as first, client_from("127.0.0.3") as second:
        assert spend(first, proxy.url) == SPENT
        assert classify(second, proxy.url) == 429
