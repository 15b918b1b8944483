"""The client's retries when nothing listens: connection errors are retried until the deadline, then raised."""

import time

import pytest
from sentiment_client import AsyncSentimentClient, RetryEvent, RetryPolicy, TransportError
from support import free_port

pytestmark = pytest.mark.fast


async def test_connection_errors_are_retried_within_the_deadline() -> None:
    retries: list[RetryEvent] = []
    started = time.monotonic()
    async with AsyncSentimentClient(
        f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(deadline_s=1.5, base_delay_s=0.05), on_retry=retries.append
    ) as client:
        with pytest.raises(TransportError) as raised:
            await client.classify("nobody listens")
    assert len(retries) >= 2 and raised.value.attempts == len(retries) + 1
    assert time.monotonic() - started <= 2.5
