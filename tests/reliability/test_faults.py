"""Faults under concurrent load, all with real processes: Triton killed, Triton too slow, the gateway told to stop.

tests/gateway/test_triton_faults.py covers the quiet versions (one request at a time); these add the
load, because that is when a hung connection, a leaked permit or a 500 shows.
"""

import asyncio
import dataclasses
import signal
import time
from pathlib import Path

import httpx
import pytest
from localtriton.server import TritonServer
from reliability_helpers import (
    FAULT_STATUSES,
    Outcome,
    closed_loop,
    send,
    summary,
    triton_counter,
    wait_for_status,
)
from support import RunningTriton, gateway_settings, start_gateway

pytestmark = pytest.mark.slow

DEADLINE_S = 2.0
# What the gateway may add to its deadline: tokenizing, JSON, scheduling on two shared cores.
SLACK_S = 1.0


def triton_url(server: TritonServer) -> str:
    return f"127.0.0.1:{server.options.http_port}"


def assert_bounded(outcomes: list[Outcome], allowed: frozenset[int], limit_s: float) -> None:
    """Every request answered (no dropped connection), with an allowed status, within ``limit_s``."""
    assert outcomes, "the load loop sent nothing"
    unexpected = [outcome for outcome in outcomes if outcome.status not in allowed]
    assert not unexpected, f"unexpected answers ({summary(outcomes)}); first: {unexpected[0]}"
    slowest = max(outcome.elapsed_s for outcome in outcomes)
    assert slowest < limit_s, f"slowest answer took {slowest:.2f} s, the bound is {limit_s} s ({summary(outcomes)})"


async def test_triton_killed_during_load_fails_fast_and_recovers_without_restarting_the_gateway(
    own_triton: TritonServer, model_repository: Path, tmp_path: Path
) -> None:
    settings = gateway_settings(
        triton_url(own_triton), model_repository, GATEWAY_TRITON_TIMEOUT_S=str(DEADLINE_S), GATEWAY_WORKERS="2"
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    gateway_pid = gateway.process.pid
    back: TritonServer | None = None
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=DEADLINE_S + 10) as client:
            load = asyncio.create_task(closed_loop(client, "/v1/sentiment", 8, duration_s=5, max_requests=4000))
            await asyncio.sleep(1.5)
            assert own_triton.process is not None
            own_triton.process.kill()  # SIGKILL: no goodbye, connections cut mid-request
            own_triton.process.wait()
            killed_at = time.monotonic()
            outcomes = await load

        assert_bounded(outcomes, FAULT_STATUSES, DEADLINE_S + SLACK_S)
        before = [outcome for outcome in outcomes if outcome.started + outcome.elapsed_s < killed_at]
        after = [outcome for outcome in outcomes if outcome.started > killed_at + 0.5]
        assert before and all(outcome.status == 200 for outcome in before), summary(before)
        assert after and all(outcome.status == 503 for outcome in after), summary(after)
        assert all(outcome.error_type == "model_unavailable" for outcome in after)
        assert all(outcome.headers.get("retry-after") for outcome in after)
        assert httpx.get(gateway.url + "/readyz", timeout=5).status_code == 503
        assert httpx.get(gateway.url + "/healthz", timeout=5).status_code == 200

        back = TritonServer(dataclasses.replace(own_triton.options)).start(ready_timeout_s=120)
        recovered_in_s = wait_for_status(gateway.url + "/readyz", 200, timeout_s=10)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=DEADLINE_S + 10) as client:
            again = await closed_loop(client, "/v1/sentiment", 8, duration_s=1.5, max_requests=1000)
        assert all(outcome.status == 200 for outcome in again), summary(again)
        assert gateway.process.poll() is None and gateway.process.pid == gateway_pid
        print(
            f"killed: {summary(outcomes)}; readiness back {recovered_in_s:.2f} s after Triton; after: {summary(again)}"
        )
    finally:
        if back is not None:
            back.stop()
        gateway.stop()
    assert "Traceback" not in gateway.log()


async def test_a_slow_triton_under_load_gives_504_within_the_deadline_and_drops_what_queued(
    paced_triton: RunningTriton, tmp_path: Path
) -> None:
    """The model needs 1 s per batch of 8; the deadline is 0.5 s. Nothing may wait past the deadline, and the
    requests still in Triton's queue when it passes must be dropped there, not run for nobody."""
    deadline_s = 0.5
    settings = gateway_settings(
        paced_triton.http_url, paced_triton.repository, "lingering", GATEWAY_TRITON_TIMEOUT_S=str(deadline_s)
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        executed_before = triton_counter(paced_triton, "nv_inference_count", "lingering")
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            outcomes = await asyncio.gather(*(send(client, "/v1/sentiment", {"text": f"t{i}"}) for i in range(24)))
        assert_bounded(outcomes, frozenset({504}), deadline_s + SLACK_S)
        assert all(outcome.error_type == "inference_timeout" for outcome in outcomes), summary(outcomes)
        await asyncio.sleep(2.5)  # let the batch that did start finish
        executed = triton_counter(paced_triton, "nv_inference_count", "lingering") - executed_before
        # One batch of at most 8 was running when the deadline passed; the other 16 expired in Triton's queue.
        assert executed <= 8, f"Triton ran {executed} of 24 requests whose client had given up"
        assert httpx.get(gateway.url + "/healthz", timeout=5).status_code == 200
    finally:
        gateway.stop()


async def turned_away(url: str) -> str:
    """The kind of transport failure a new request gets; an HTTP answer of any status is a failure here."""
    try:
        async with httpx.AsyncClient(base_url=url, timeout=1.0) as newcomer:
            response = await newcomer.get("/healthz")
    except httpx.TransportError as error:
        return type(error).__name__
    raise AssertionError(f"a request sent after SIGTERM was served: {response.status_code}")


# One worker closes its listening socket as soon as the signal arrives: new connections are refused.
# With several, uvicorn's supervisor checks for signals every 0.5 s and keeps the shared socket open
# until its workers have drained, so a newcomer is accepted by the kernel but never served.
@pytest.mark.parametrize(("workers", "signal_noticed_s", "refusals"), [("1", 0.2, {"ConnectError"}), ("2", 0.8, None)])
async def test_sigterm_under_load_finishes_in_flight_requests_refuses_new_ones_and_exits_0(
    paced_triton: RunningTriton, tmp_path: Path, workers: str, signal_noticed_s: float, refusals: set[str] | None
) -> None:
    settings = gateway_settings(
        paced_triton.http_url,
        paced_triton.repository,
        "lingering",
        GATEWAY_TRITON_TIMEOUT_S="5",
        GATEWAY_WORKERS=workers,
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as client:
            # Each takes 1-2 s in the lingering model; they are all in flight when the signal arrives.
            in_flight = [asyncio.create_task(send(client, "/v1/sentiment", {"text": f"t{i}"})) for i in range(6)]
            await asyncio.sleep(0.4)
            gateway.process.send_signal(signal.SIGTERM)
            signalled_at = time.monotonic()
            await asyncio.sleep(signal_noticed_s)
            refusal = await turned_away(gateway.url)
            outcomes = await asyncio.gather(*in_flight)
        assert refusals is None or refusal in refusals, refusal
        assert [outcome.status for outcome in outcomes] == [200] * 6, summary(outcomes)
        assert all(outcome.started + outcome.elapsed_s > signalled_at for outcome in outcomes), "not in flight"
        exit_code = await asyncio.to_thread(gateway.process.wait, 15)
        assert exit_code == 0, f"exit code {exit_code} after a graceful shutdown:\n{gateway.log()[-1500:]}"
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log()
