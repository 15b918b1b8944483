"""A client that hangs up: its rows still queued never reach Triton, and everyone else is answered as before.

Real processes throughout: the gateway on the 1 s "lingering" model (one execution per second, 8 rows at most),
one call slot, and a client that writes a large request on a raw socket and closes it while the request waits.
"""

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from reliability_helpers import triton_counter
from support import RunningTriton, gateway_settings, metric_value, scrape, start_gateway

pytestmark = pytest.mark.slow

MODEL = "lingering"
# 32 texts of the 32-token bucket: a bulk request (1,024 padded tokens), four calls of the model's 8 rows, four
# seconds of Triton if they ran.
LARGE = {
    "texts": [f"a text nobody will ever read, however long and slow it goes on and on {index}" for index in range(32)]
}


async def send_and_hang_up(url: str, payload: dict, wait_s: float) -> None:
    """POST ``payload`` over a raw connection and close it after ``wait_s``, before any answer can come."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(payload).encode()
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /v1/sentiment/batch HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(wait_s)
    writer.close()
    await writer.wait_closed()


# The call in front of the large request lasts 1 s. Sent at 0.2 s, the request is still queued whether its client
# leaves 0.05 s later or 0.5 s later. Sent at 0.8 s and left 0.05 s later, it would be sent to Triton at 1 s,
# before a delayed watch (WATCH_AFTER_S, 0.25 s) could notice: a bulk request is watched at once.
@pytest.mark.parametrize(("send_after_s", "hang_up_after_s"), [(0.2, 0.05), (0.2, 0.5), (0.8, 0.05)])
async def test_rows_of_a_client_that_disconnected_never_reach_triton(
    paced_triton: RunningTriton, tmp_path: Path, send_after_s: float, hang_up_after_s: float
) -> None:
    settings = gateway_settings(
        paced_triton.http_url,
        paced_triton.repository,
        model=MODEL,
        GATEWAY_BATCH_CALLS_IN_FLIGHT="1",
        GATEWAY_TRITON_TIMEOUT_S="10",  # far past the test: only the disconnect can drop the rows
        GATEWAY_TRITON_BACKSTOP_S="10",
    )
    gateway = start_gateway(settings, tmp_path / "gateway.log")
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            # A full call measures the drain rate (128 tokens/s), at which the large request fits its deadline.
            warm = await client.post("/v1/sentiment/batch", json={"texts": [f"warm {index}" for index in range(8)]})
            assert warm.status_code == 200, warm.text
            before = triton_counter(paced_triton, "nv_inference_count", MODEL)
            started = time.monotonic()
            # One single text takes the only call slot for a second; the large request queues behind it.
            in_flight = asyncio.create_task(client.post("/v1/sentiment", json={"text": "in flight"}))
            await asyncio.sleep(send_after_s)
            await send_and_hang_up(gateway.url, LARGE, wait_s=hang_up_after_s)
            first = await in_flight
            after_it = await client.post("/v1/sentiment", json={"text": "after the hang-up"})
            elapsed = time.monotonic() - started
            await asyncio.sleep(1.5)  # a second call would have started when the first ended; give it time to count
        rows_run = triton_counter(paced_triton, "nv_inference_count", MODEL) - before
        gateway_metrics = scrape(gateway.url + "/metrics")
    finally:
        gateway.stop()
    print(f"rows Triton ran: {rows_run:.0f} (2 single texts; 34 if the large request's had gone); {elapsed:.2f} s")
    assert first.status_code == 200 and after_it.status_code == 200, (first.text, after_it.text)
    assert rows_run == 2, f"Triton ran {rows_run:.0f} rows: the two single texts only, none of the 32 left behind"
    assert elapsed < 3, "the request after the hang-up did not wait for the abandoned rows"
    assert metric_value(gateway_metrics, "gateway_tokens_held") == 0
    assert metric_value(gateway_metrics, "gateway_request_duration_seconds_count", status="499") == 1
