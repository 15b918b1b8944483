"""A gateway worker SIGKILLed under load (the OOM killer's way): uvicorn's supervisor starts a replacement, the
service goes on answering, and the dead worker's queue and slots stop counting in /metrics."""

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest
from reliability_helpers import closed_loop, summary
from support import RunningTriton, gateway_settings, metric_value, scrape, start_gateway

pytestmark = pytest.mark.slow

LOAD_S = 10.0
KILL_AT_S = 1.5
REPLACEMENT_S = 6.0  # a new worker imports the app, loads the tokenizer and checks Triton before it serves


def workers(supervisor_pid: int) -> set[int]:
    """uvicorn's live worker processes: the supervisor's children started by multiprocessing's spawn."""
    found = set()
    for child in psutil.Process(supervisor_pid).children():
        try:
            command = child.cmdline()
        except (psutil.ZombieProcess, psutil.NoSuchProcess):  # killed, not reaped yet: not a worker any more
            continue
        if any("multiprocessing.spawn" in part for part in command):
            found.add(child.pid)
    return found


async def test_a_killed_worker_is_replaced_and_the_service_keeps_answering(
    paced_triton: RunningTriton, tmp_path: Path
) -> None:
    settings = gateway_settings(
        paced_triton.http_url, paced_triton.repository, "paced", GATEWAY_WORKERS="2", GATEWAY_TRITON_TIMEOUT_S="5"
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        before = workers(gateway.pid)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            load = asyncio.create_task(closed_loop(client, "/v1/sentiment", 8, LOAD_S, max_requests=1000))
            await asyncio.sleep(KILL_AT_S)  # both workers hold calls at the 0.1 s-per-execution model now
            victim = min(before)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            while len(after := workers(gateway.pid)) < 2 and time.monotonic() - killed_at < REPLACEMENT_S:
                await asyncio.sleep(0.1)
            replaced_s = time.monotonic() - killed_at
            outcomes = await load
        metrics = scrape(gateway.url + "/metrics")
        supervisor_alive = gateway.process.poll() is None
    finally:
        gateway.stop()
    assert len(before) == 2, f"expected 2 workers, found {before}"
    assert victim not in after and len(after) == 2, f"workers after the kill: {after} (before {before})"
    assert supervisor_alive
    # Only the killed worker's connections may fail; everything sent after the supervisor started a replacement
    # is answered (the other worker serves while the new one starts).
    settled = [outcome for outcome in outcomes if outcome.started > killed_at + replaced_s]
    assert settled and all(outcome.status == 200 for outcome in settled), summary(settled)
    assert all(outcome.status in (200, None) for outcome in outcomes), summary(outcomes)
    assert metric_value(metrics, "gateway_coalescer_call_slots_in_use") == 0
    assert metric_value(metrics, "gateway_tokens_held") == 0
    print(f"worker replaced {replaced_s:.1f} s after SIGKILL; load: {summary(outcomes)}; after: {summary(settled)}")
