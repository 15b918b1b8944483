"""A call's slot is held until Triton answers, not until its last caller's deadline: HTTP cannot cancel what
Triton runs, so freeing the slot at the deadline would let abandoned calls pile up at Triton."""

import time
from pathlib import Path

import httpx
import pytest
from localtriton.server import TritonServer
from support import gateway_settings, metric_value, scrape, start_gateway

pytestmark = pytest.mark.slow

SLEEP_S = 1.5  # the slow model's time per execution (slow_model/config.pbtxt)


def slots_in_use(gateway_url: str) -> float:
    return metric_value(scrape(gateway_url + "/metrics"), "gateway_coalescer_call_slots_in_use")


def executions(triton: TritonServer) -> float:
    metrics = scrape(f"http://127.0.0.1:{triton.options.metrics_port}/metrics")
    return metric_value(metrics, "nv_inference_exec_count", model="slow")


def test_the_caller_gets_504_at_its_deadline_while_the_slot_waits_for_tritons_answer(
    slow_triton: TritonServer, slow_repository: Path, tmp_path: Path
) -> None:
    settings = gateway_settings(
        f"127.0.0.1:{slow_triton.options.http_port}",
        slow_repository,
        "slow",
        GATEWAY_TRITON_TIMEOUT_S="0.3",
        GATEWAY_BATCH_CALLS_IN_FLIGHT="1",
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    executions_before = executions(slow_triton)
    try:
        started = time.monotonic()
        timed_out = httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "slow"}, timeout=30)
        answered_s = time.monotonic() - started
        held_after_504 = slots_in_use(gateway.url)
        # The next request needs the slot the abandoned call still holds: it waits, then meets its own deadline,
        # instead of sending Triton a second execution while the first runs.
        behind = httpx.post(f"{gateway.url}/v1/sentiment", json={"text": "behind"}, timeout=30)
        while slots_in_use(gateway.url) and time.monotonic() - started < 2 * SLEEP_S + 1:
            time.sleep(0.05)
        freed_s = time.monotonic() - started
        executions_run = executions(slow_triton) - executions_before
    finally:
        gateway.stop()
    assert timed_out.status_code == 504 and timed_out.json()["error"]["type"] == "inference_timeout"
    assert answered_s < 1.0, f"the 504 came {answered_s:.2f} s after; the deadline is 0.3 s"
    assert held_after_504 == 1, "the slot was freed while Triton still ran the call"
    assert behind.status_code == 504, behind.text
    assert SLEEP_S <= freed_s < 2 * SLEEP_S, f"slot freed {freed_s:.2f} s after the call; Triton answers at {SLEEP_S}"
    assert executions_run == 1, f"Triton ran {executions_run:.0f} executions; only the first call was sent"
