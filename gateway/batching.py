"""Coalescing: the rows of concurrent requests share full, single-shape Triton calls, one lane per length bucket.

Triton's dynamic batcher closes a batch as soon as the next queued request has another shape. On a backend
that needs one shape per batch (onnxruntime on a GPU), requests from many clients interleave their length
buckets, so each execution gets a row or two. Each gateway worker therefore forms the batches itself, one
queue per bucket, shaped like Hugging Face TEI's queue:

- a request appends its rows to its bucket's lane with a future for the reply;
- when the lane has no call in flight, everything waiting (up to ``max_batch_size`` rows) goes at once, so an
  idle service adds no wait; while a call is in flight, rows gather for the next one, and a full batch goes
  without waiting for it;
- rows whose caller has gone (deadline passed, client disconnected) are dropped before they cost compute;
- a failed call fails only the requests whose rows were in it.

A lane belongs to one served model version, so versions never mix in one call.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from gateway import metrics
from gateway.errors import InferenceTimeout
from gateway.tokenization import BucketBatch

logger = logging.getLogger("gateway.batching")

# Runs one padded batch on the model: (input_ids, attention_mask, deadline) -> logits, one row per input row.
InferFunction = Callable[[np.ndarray, np.ndarray, float], Awaitable[np.ndarray]]


@dataclass(eq=False)
class Pending:
    """One request's rows in one bucket, waiting for a call; ``reply`` gets their logits or the call's error."""

    batch: BucketBatch
    deadline: float
    reply: asyncio.Future

    @property
    def rows(self) -> int:
        return len(self.batch.owners)


@dataclass
class Taken:
    """What ``take_batch`` removed from the front of a queue."""

    batch: list[Pending] = field(default_factory=list)
    expired: list[Pending] = field(default_factory=list)
    rows_removed: int = 0  # every removed entry's rows, abandoned ones included


def take_batch(queue: deque[Pending], max_rows: int, now: float) -> Taken:
    """Pop the next call's entries: whole entries in arrival order while they fit in ``max_rows``.

    Entries nobody waits for any more are dropped; entries whose deadline has passed are returned
    apart, to be answered with a timeout. An entry never exceeds ``max_rows`` (``submit`` checks), so
    a non-empty queue always yields a non-empty batch or removes something.
    """
    taken = Taken()
    rows = 0
    while queue:
        entry = queue[0]
        if not entry.reply.done() and entry.deadline > now and rows + entry.rows > max_rows:
            break
        queue.popleft()
        taken.rows_removed += entry.rows
        if entry.reply.done():
            continue
        if entry.deadline <= now:
            taken.expired.append(entry)
            continue
        taken.batch.append(entry)
        rows += entry.rows
    return taken


def split_logits(logits: np.ndarray, entries: Iterable[Pending]) -> list[np.ndarray]:
    """Each entry's slice of a call's logits, in the order the entries were concatenated."""
    slices = []
    start = 0
    for entry in entries:
        slices.append(logits[start : start + entry.rows])
        start += entry.rows
    if start != len(logits):
        raise ValueError(f"Triton returned {len(logits)} rows for {start} inputs")
    return slices


class BucketLane:
    """The queue of one length bucket in one worker, and the Triton calls it makes."""

    def __init__(self, bucket: int, max_rows: int, run_batch: InferFunction) -> None:
        self.bucket = bucket
        self.max_rows = max_rows
        self.run_batch = run_batch
        self.queue: deque[Pending] = deque()
        self.queued_rows = 0
        self.in_flight = 0
        self.calls: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones

    def submit(self, batch: BucketBatch, deadline: float) -> asyncio.Future:
        """Queue ``batch`` (one request's rows of this bucket) and return the future of its logits."""
        if not 1 <= len(batch.owners) <= self.max_rows:
            raise ValueError(f"a lane entry holds 1 to {self.max_rows} rows, got {len(batch.owners)}")
        reply = asyncio.get_running_loop().create_future()
        self.queue.append(Pending(batch, deadline, reply))
        self.queued_rows += len(batch.owners)
        self._dispatch()
        return reply

    def _dispatch(self) -> None:
        # Send when the lane is idle (no added latency), or when a full batch is waiting anyway.
        while self.queue and (self.in_flight == 0 or self.queued_rows >= self.max_rows):
            taken = take_batch(self.queue, self.max_rows, asyncio.get_running_loop().time())
            self.queued_rows -= taken.rows_removed
            for entry in taken.expired:
                entry.reply.set_exception(InferenceTimeout("the request's deadline passed while it waited for a batch"))
            if taken.batch:
                self.in_flight += 1
                call = asyncio.create_task(self._call(taken.batch))
                self.calls.add(call)
                call.add_done_callback(self.calls.discard)

    async def _call(self, entries: list[Pending]) -> None:
        try:
            input_ids = np.concatenate([entry.batch.input_ids for entry in entries])
            attention_mask = np.concatenate([entry.batch.attention_mask for entry in entries])
            metrics.BATCH_ROWS.labels(bucket=str(self.bucket)).observe(len(input_ids))
            # The call lasts as long as someone in it still waits; each caller stops waiting at its own deadline.
            logits = await self.run_batch(input_ids, attention_mask, max(entry.deadline for entry in entries))
            for entry, rows in zip(entries, split_logits(logits, entries), strict=True):
                if not entry.reply.done():
                    entry.reply.set_result(rows)
        except asyncio.CancelledError:
            for entry in entries:
                entry.reply.cancel()
            raise
        except Exception as error:  # every caller in this call gets the error; nobody else does
            for entry in entries:
                if not entry.reply.done():
                    entry.reply.set_exception(error)
        finally:
            self.in_flight -= 1
            self._dispatch()

    async def close(self) -> None:
        """Cancel calls still running (shutdown): their callers get a cancellation, not a hang."""
        for call in list(self.calls):
            call.cancel()
        await asyncio.gather(*self.calls, return_exceptions=True)


class Coalescer:
    """One lane per bucket for one model version; requests wait for their rows' logits under their own deadline."""

    def __init__(self, max_rows: int, run_batch: InferFunction) -> None:
        self.max_rows = max_rows
        self.run_batch = run_batch
        self.lanes: dict[int, BucketLane] = {}

    def lane(self, bucket: int) -> BucketLane:
        if bucket not in self.lanes:
            self.lanes[bucket] = BucketLane(bucket, self.max_rows, self.run_batch)
        return self.lanes[bucket]

    async def infer(self, batches: list[BucketBatch], deadline: float) -> list[np.ndarray]:
        """Logits for each of a request's batches, in order; ``InferenceTimeout`` once ``deadline`` passes.

        Leaving early (deadline, error, or the client's task cancelled) cancels only this request's
        futures: its queued rows are dropped, and calls already made finish for the others in them.
        """
        replies = [self.lane(batch.bucket).submit(batch, deadline) for batch in batches]
        try:
            async with asyncio.timeout_at(deadline):
                return [await reply for reply in replies]
        except TimeoutError as error:
            raise InferenceTimeout("the request's deadline passed before Triton answered") from error
        finally:
            for reply in replies:
                if not reply.done():
                    reply.cancel()
                elif not reply.cancelled():
                    reply.exception()  # retrieved: a sibling's error after ours is not "never retrieved"

    async def close(self) -> None:
        await asyncio.gather(*(lane.close() for lane in self.lanes.values()))
