"""The coalescer with a real, slow Triton: a deadline passing while rows wait, and a Triton killed mid-call.

The lingering model runs one batch per second, so the order of events is set by the clock, not by luck:
a call is in flight while the next requests queue behind it in the gateway's lane.
"""

import asyncio
import dataclasses
import time
from pathlib import Path

import httpx
import pytest
from localtriton.server import TritonServer
from reliability_helpers import Outcome, send, summary, triton_counter
from support import RunningTriton, gateway_batch_calls, gateway_settings, start_gateway, start_triton

pytestmark = pytest.mark.slow

EXECUTION_S = 1.0  # the lingering model's time per batch
# One call at a time per worker, so the next requests must wait in the gateway's queues behind it.
ONE_CALL = "1"


async def later(delay_s: float, client: httpx.AsyncClient, text: str) -> Outcome:
    await asyncio.sleep(delay_s)
    return await send(client, "/v1/sentiment", {"text": text})


async def test_a_deadline_passing_in_the_lane_is_a_504_at_that_deadline_and_its_rows_never_reach_triton(
    paced_triton: RunningTriton, tmp_path: Path
) -> None:
    deadline_s = 0.6
    gateway = start_gateway(
        gateway_settings(
            paced_triton.http_url,
            paced_triton.repository,
            "lingering",
            GATEWAY_TRITON_TIMEOUT_S=str(deadline_s),
            GATEWAY_BATCH_CALLS_IN_FLIGHT=ONE_CALL,
        ),
        tmp_path / "gateway.log",
    )
    try:
        rows_before = triton_counter(paced_triton, "nv_inference_count", "lingering")
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            # The first is in Triton for a second; the second waits behind it in the lane and runs out of time there.
            in_call, waiting = await asyncio.gather(later(0, client, "first"), later(0.2, client, "second"))
        assert in_call.status == 504 and waiting.status == 504, summary([in_call, waiting])
        assert waiting.error_type == "inference_timeout"
        assert waiting.elapsed_s < deadline_s + 0.3, "answered at its own deadline, not when the call in front ended"
        assert 0.2 + waiting.elapsed_s < EXECUTION_S, "answered while the call in front of it was still running"
        await asyncio.sleep(EXECUTION_S + 0.5)  # the first call ends; the lane must not send the expired rows
        assert triton_counter(paced_triton, "nv_inference_count", "lingering") - rows_before == 1
        assert httpx.get(gateway.url + "/readyz", timeout=5).status_code == 200
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log()


async def test_triton_killed_during_a_coalesced_call_fails_only_that_calls_requests_then_recovers(
    paced_repository: Path, tmp_path: Path
) -> None:
    triton = start_triton(paced_repository, tmp_path / "triton")
    back: TritonServer | None = None
    gateway = start_gateway(
        gateway_settings(
            f"127.0.0.1:{triton.options.http_port}",
            paced_repository,
            "lingering",
            GATEWAY_BATCH_CALLS_IN_FLIGHT=ONE_CALL,
        ),
        tmp_path / "gateway.log",
    )
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            first = asyncio.create_task(later(0, client, "first"))
            # Three more while the first is in Triton: they gather in the lane and go as one call when it returns.
            coalesced = [asyncio.create_task(later(0.3, client, f"then {i}")) for i in range(3)]
            await asyncio.sleep(EXECUTION_S + 0.4)  # the first answered; the three-row call is running
            assert triton.process is not None
            triton.process.kill()  # SIGKILL mid-call: the connection is cut
            triton.process.wait()
            outcomes = await asyncio.gather(first, *coalesced)
            assert gateway_batch_calls(gateway) == (2, 4), "four requests, two calls: the first alone, then three"
            down = await send(client, "/v1/sentiment", {"text": "while down"})

            assert outcomes[0].status == 200, summary(outcomes)
            assert [outcome.status for outcome in outcomes[1:]] == [503, 503, 503], summary(outcomes)
            assert all(outcome.error_type == "model_unavailable" for outcome in outcomes[1:])
            assert all(outcome.headers.get("retry-after") for outcome in outcomes[1:])
            assert down.status == 503

            back = TritonServer(dataclasses.replace(triton.options)).start(ready_timeout_s=120)
            started = time.monotonic()
            again = await send(client, "/v1/sentiment", {"text": "after"})
            while again.status != 200 and time.monotonic() - started < 10:
                await asyncio.sleep(0.2)
                again = await send(client, "/v1/sentiment", {"text": "after"})
        assert again.status == 200, again
        assert gateway.process.poll() is None
    finally:
        gateway.stop()
        (back or triton).stop()
    assert "Traceback" not in gateway.log()
