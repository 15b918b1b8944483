"""Coalescing: the rows of concurrent requests share full, single-shape Triton calls, one queue per length bucket.

Triton's dynamic batcher closes a batch as soon as the next queued request has another shape. On a backend
that needs one shape per batch (onnxruntime on a GPU), requests from many clients interleave their length
buckets, so each execution gets a row or two. Each gateway worker therefore forms the batches itself, one
queue per bucket, shaped like Hugging Face TEI's queue:

- a request appends its rows to its bucket's queue, each entry with a future for the reply;
- a request is admitted by its cost in padded tokens (``budget``): each lane of a worker bounds the tokens it
  holds, and refuses at once what it could not finish before the request's deadline at the rate the lane's
  calls drain (a bulk request beside busy interactive traffic gets only bulk's turns);
- while the worker has a free call slot, the bucket whose oldest row has waited longest goes at once with
  everything it holds (up to ``max_batch_size`` rows), so an idle service adds no wait; while the slots are
  busy, rows gather for the next calls. A full batch waits for a slot like any other: the slots are what
  bound Triton's queue, so that a burst can never leave it more work than a few calls;
- rows whose caller has gone (deadline passed, client disconnected) are dropped before they cost compute;
- a failed call fails only the requests whose rows were in it;
- two lanes: a request of at most ``interactive_max_tokens`` padded tokens (a single text, a few short ones) is
  interactive, anything bigger (batches, windows) is bulk. Bulk calls never hold the last free slot, so a small
  request always finds one without waiting behind bulk work; when both lanes wait, they take turns, so bulk
  still gets at least every other call (``next_queue``). A bulk call is sized in time, not tokens (TEI's
  ``max_batch_tokens``, at the measured drain rate; ``BulkSizing``): short while interactive requests are about,
  so a small request that reaches Triton behind a bulk execution waits for a short one, on a CPU as on a GPU;
  long once they are gone, so bulk alone keeps its throughput.

A coalescer belongs to one served model version, so versions never mix in one call.
"""

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from gateway import metrics
from gateway.errors import InferenceTimeout, Overloaded
from gateway.pipeline.budget import TokenBudget
from gateway.pipeline.tokenization import BucketBatch

# Runs one padded batch on the model: (input_ids, attention_mask, deadline) -> logits, one row per input row.
InferFunction = Callable[[np.ndarray, np.ndarray, float], Awaitable[np.ndarray]]
# Set for each request by the HTTP edge (``DisconnectWatch``) and called when the request turns out to be bulk:
# its client's connection is watched from then on, not only after the usual delay, since a bulk request's rows
# are worth dropping the moment its client leaves.
ON_BULK: ContextVar[Callable[[], None] | None] = ContextVar("on_bulk", default=None)


@dataclass(eq=False)
class Pending:
    """One request's rows in one bucket, waiting for a call; ``reply`` gets their logits or the call's error."""

    batch: BucketBatch
    deadline: float
    reply: asyncio.Future
    enqueued: float  # loop time it joined its queue: the start of its queue wait
    seq: int = field(default_factory=itertools.count().__next__)  # arrival order across buckets
    sent: bool = False  # in a call: its tokens are released when the call ends, not when its caller leaves

    @property
    def rows(self) -> int:
        return len(self.batch.owners)

    @property
    def tokens(self) -> int:
        """Padded tokens: what the entry costs Triton, padding included."""
        return self.batch.input_ids.size


@dataclass
class Taken:
    """What ``take_batch`` removed from the front of a queue."""

    batch: list[Pending] = field(default_factory=list)
    expired: list[Pending] = field(default_factory=list)
    rows_removed: int = 0  # every removed entry's rows, abandoned ones included


def take_batch(queue: deque[Pending], max_rows: int, now: float) -> Taken:
    """Pop the next call's entries: whole entries in arrival order while they fit in ``max_rows``.

    Entries nobody waits for any more are dropped; entries whose deadline has passed are returned
    apart, to be answered with a timeout. The first live entry always goes, even over ``max_rows``: it was
    cut to fit the model's batch size, but a bulk call's share may have shrunk since it was queued (the
    measured rate fell). So a non-empty queue always yields a non-empty batch or removes something.
    """
    taken = Taken()
    rows = 0
    while queue:
        entry = queue[0]
        if not entry.reply.done() and entry.deadline > now and taken.batch and rows + entry.rows > max_rows:
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


Lane = Literal["interactive", "bulk"]
LANES: tuple[Lane, ...] = ("interactive", "bulk")


@dataclass
class BucketQueue:
    """The rows of one length bucket and lane waiting in one worker, oldest first."""

    bucket: int
    lane: Lane = "interactive"
    entries: deque[Pending] = field(default_factory=deque)
    rows: int = 0

    def __post_init__(self) -> None:
        self.rows_gauge = metrics.QUEUED_ROWS.labels(bucket=str(self.bucket))

    def add_rows(self, rows: int) -> None:
        self.rows += rows
        self.rows_gauge.inc(rows)  # the bucket's two lanes share its gauge


# A worker that has had no interactive request for this long runs bulk alone: its bulk calls may then carry
# ``bulk_alone_call_s`` of work, which a CPU runs more efficiently, with nobody about to wait behind them.
INTERACTIVE_GONE_S = 1.0


@dataclass(frozen=True)
class BulkSizing:
    """How big a bulk call may be: ``call_s`` of work at the rate bulk calls drain while interactive requests
    are about, at least half of what the last interactive call carried; ``alone_call_s`` once they are gone."""

    call_s: float
    alone_call_s: float
    unmeasured_tokens: int  # until a call is measured: no more than an interactive request may carry

    def tokens(self, tokens_per_s: float | None, interactive_tokens: int, interactive_about: bool) -> int:
        """Padded tokens the next bulk call may carry (``interactive_tokens``: the last interactive call's).

        In time rather than a fixed count, so a bulk call lasts about as long on a model that drains 1,500
        tokens a second as on one that drains a million. Beside interactive calls, half their size at least: a
        single text then waits behind one short bulk execution, while bulk still gets about a third of a Triton
        that small requests alone would keep busy, enough to finish what admission let in.
        """
        if tokens_per_s is None:
            return self.unmeasured_tokens
        if not interactive_about:
            return int(tokens_per_s * self.alone_call_s)
        return max(int(tokens_per_s * self.call_s), interactive_tokens // 2)

    def entry_tokens(self, tokens_per_s: float | None) -> int:
        """The share a bulk request is cut into when queued: the smallest call, so calls are sized when sent."""
        return self.tokens(tokens_per_s, 0, interactive_about=True)


def call_rows(lane: Lane, bucket: int, max_rows: int, bulk_tokens: int) -> int:
    """Rows one call of ``lane`` may carry in ``bucket``: the model's batch size, and for bulk its share of
    ``bulk_tokens`` too (at least one row, so any bucket can go)."""
    if lane == "interactive":
        return max_rows
    return max(1, min(max_rows, bulk_tokens // bucket))


def bulk_slots(calls_in_flight: int) -> int:
    """Slots bulk calls may hold at once: all but one, so a small request never waits behind bulk for a slot."""
    return max(1, calls_in_flight - 1)


def next_queue(
    queues: Iterable[BucketQueue], last_lane: Lane | None, bulk_calls: int, calls_in_flight: int
) -> BucketQueue | None:
    """The queue the next call takes from: in each lane the bucket whose oldest row has waited longest.

    Bulk may go only while it holds fewer than ``bulk_slots`` calls. When both lanes may go, the one the last
    call did not serve goes: interactive rows never wait for more than one bulk call, and bulk keeps at least
    every other call (most of the tokens, its calls being the big ones) however many small requests come.
    """
    oldest: dict[Lane, BucketQueue] = {}
    for queue in queues:
        if not queue.entries or (queue.lane == "bulk" and bulk_calls >= bulk_slots(calls_in_flight)):
            continue
        if queue.lane not in oldest or queue.entries[0].seq < oldest[queue.lane].entries[0].seq:
            oldest[queue.lane] = queue
    if len(oldest) == 2:
        return oldest["bulk" if last_lane == "interactive" else "interactive"]
    return next(iter(oldest.values()), None)


class Coalescer:
    """Per-bucket queues and the Triton calls of one worker, for one model version.

    A worker keeps at most ``calls_in_flight`` calls open while batches fill, full ones included; when
    a call ends, the lanes take turns and in a lane the bucket whose oldest row has waited longest goes next
    (``next_queue``), so every bucket is served in turn and each call carries everything its bucket gathered
    meanwhile. Requests wait for their rows'
    logits under their own deadline.
    """

    def __init__(
        self,
        max_rows: int,
        calls_in_flight: int,
        run_batch: InferFunction,
        budgets: dict[Lane, TokenBudget],
        interactive_max_tokens: int,
        bulk: BulkSizing,
    ) -> None:
        self.max_rows = max_rows
        self.calls_in_flight = calls_in_flight
        self.run_batch = run_batch
        self.budgets = budgets
        self.interactive_max_tokens = interactive_max_tokens
        self.bulk = bulk
        self.interactive_seen = -INTERACTIVE_GONE_S  # loop time of the last interactive request
        self.interactive_tokens = 0  # padded tokens of the last interactive call
        self.queues: dict[tuple[Lane, int], BucketQueue] = {}
        # Each call's lane; the dict is also the strong reference the loop does not keep to its tasks.
        self.calls: dict[asyncio.Task, Lane] = {}
        self.last_lane: Lane | None = None

    async def infer(self, batches: list[BucketBatch], deadline: float) -> list[np.ndarray]:
        """Logits for each of a request's batches, in order; ``InferenceTimeout`` once ``deadline`` passes.

        ``Overloaded`` at once when the token budget of the request's lane cannot take it in time.
        Leaving early (deadline, error, or the client's task cancelled) ends only this request's
        futures: its queued rows are dropped, and calls already made finish for the others in them.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        for batch in batches:
            if not 1 <= len(batch.owners) <= self.max_rows:
                raise ValueError(f"a queue entry holds 1 to {self.max_rows} rows, got {len(batch.owners)}")
        cost = sum(batch.input_ids.size for batch in batches)
        lane: Lane = "interactive" if cost <= self.interactive_max_tokens else "bulk"
        if refusal := self.budgets[lane].refusal(cost, deadline - now):
            metrics.REFUSED.labels(reason=refusal.reason).inc()
            raise Overloaded(refusal.message, headers={"Retry-After": str(refusal.retry_after_s)})
        if lane == "interactive":
            self.interactive_seen = now
        elif watch := ON_BULK.get():
            watch()
        # Each batch as entries that fit one call of its lane, a bulk batch in the smallest bulk call's shares.
        pieces = [batch.chunks(self._entry_rows(lane, batch.bucket)) for batch in batches]
        entries = [Pending(piece, deadline, loop.create_future(), now) for chunks in pieces for piece in chunks]
        self._hold(lane, cost)
        for entry in entries:
            key = (lane, entry.batch.bucket)
            queue = self.queues.setdefault(key, BucketQueue(entry.batch.bucket, lane))
            queue.entries.append(entry)
            queue.add_rows(entry.rows)
        self._dispatch()
        replies = [entry.reply for entry in entries]
        # One timer answering the replies still open, cheaper than asyncio.timeout's rescheduling on a hot path.
        timer = loop.call_at(deadline, _time_out, replies)
        try:
            logits = iter([await reply for reply in replies])
            return [_joined([next(logits) for _ in chunks]) for chunks in pieces]
        finally:
            timer.cancel()
            for reply in replies:
                if not reply.done():
                    reply.cancel()
                elif not reply.cancelled():
                    reply.exception()  # retrieved: a sibling's error after ours is not "never retrieved"
            # Rows still queued will never be sent (their replies are done): they stop counting at once.
            self._hold(lane, -sum(entry.tokens for entry in entries if not entry.sent))

    @property
    def waiting_rows(self) -> int:
        """Rows queued for a call: more than none means Triton is this worker's bottleneck right now."""
        return sum(queue.rows for queue in self.queues.values())

    @property
    def has_free_slot(self) -> bool:
        return len(self.calls) < self.calls_in_flight

    def _entry_rows(self, lane: Lane, bucket: int) -> int:
        return call_rows(lane, bucket, self.max_rows, self.bulk.entry_tokens(self._bulk_rate()))

    def _call_rows(self, lane: Lane, bucket: int, now: float) -> int:
        about = now - self.interactive_seen < INTERACTIVE_GONE_S
        bulk_tokens = self.bulk.tokens(self._bulk_rate(), self.interactive_tokens, about)
        return call_rows(lane, bucket, self.max_rows, bulk_tokens)

    def _bulk_rate(self) -> float | None:
        """Tokens a second bulk calls drain: what a bulk call's time is measured in."""
        return self.budgets["bulk"].rate.tokens_per_s

    def _hold(self, lane: Lane, tokens: int) -> None:
        self.budgets[lane].hold(tokens)
        metrics.TOKENS_HELD.set(sum(budget.held for budget in self.budgets.values()))

    def _dispatch(self) -> None:
        while self.has_free_slot and (waiting := self._next_queue()):
            self._send(waiting)

    def _next_queue(self) -> BucketQueue | None:
        bulk_calls = sum(lane == "bulk" for lane in self.calls.values())
        return next_queue(self.queues.values(), self.last_lane, bulk_calls, self.calls_in_flight)

    def _send(self, queue: BucketQueue) -> None:
        now = asyncio.get_running_loop().time()
        taken = take_batch(queue.entries, self._call_rows(queue.lane, queue.bucket, now), now)
        queue.add_rows(-taken.rows_removed)
        for entry in taken.expired:
            entry.reply.set_exception(InferenceTimeout("the request's deadline passed while it waited for a batch"))
        if taken.batch:
            wait = metrics.QUEUE_WAIT.labels(bucket=str(queue.bucket))
            for entry in taken.batch:
                entry.sent = True
                wait.observe(now - entry.enqueued)
            if queue.lane == "interactive":
                self.interactive_tokens = sum(entry.tokens for entry in taken.batch)
            self.budgets[queue.lane].call_started(now)
            call = asyncio.create_task(self._call(queue.bucket, queue.lane, taken.batch))
            self.calls[call] = self.last_lane = queue.lane
            metrics.CALL_SLOTS_IN_USE.set(len(self.calls))
            call.add_done_callback(self._free_slot)  # a cancelled call (shutdown) frees its slot too

    def _free_slot(self, call: asyncio.Task) -> None:
        self.calls.pop(call, None)
        metrics.CALL_SLOTS_IN_USE.set(len(self.calls))

    async def _call(self, bucket: int, lane: Lane, entries: list[Pending]) -> None:
        tokens = sum(entry.tokens for entry in entries)
        try:
            input_ids = np.concatenate([entry.batch.input_ids for entry in entries])
            attention_mask = np.concatenate([entry.batch.attention_mask for entry in entries])
            metrics.BATCH_ROWS.labels(bucket=str(bucket)).observe(len(input_ids))
            # Each caller stops waiting at its own deadline; the call (and its slot) lasts until Triton answers.
            logits = await self.run_batch(input_ids, attention_mask, max(entry.deadline for entry in entries))
            answers: list[np.ndarray] | Exception = split_logits(logits, entries)
        except asyncio.CancelledError:
            self._hold(lane, -tokens)
            for entry in entries:
                entry.reply.cancel()
            raise
        except Exception as error:  # every caller in this call gets the error; nobody else does
            answers = error
        budget = self.budgets[lane]
        budget.call_finished(None if isinstance(answers, Exception) else tokens, asyncio.get_running_loop().time())
        self._hold(lane, -tokens)
        if rate := budget.rate.tokens_per_s:
            metrics.DRAIN_RATE.labels(lane=lane).set(rate)
        # Free the slot and send the next batch before waking this call's callers: Triton works on it while
        # they write their answers, instead of idling until they are done.
        self._free_slot(asyncio.current_task())
        self._dispatch()
        for index, entry in enumerate(entries):
            if entry.reply.done():
                continue
            if isinstance(answers, Exception):
                entry.reply.set_exception(answers)
            else:
                entry.reply.set_result(answers[index])

    async def close(self) -> None:
        """Cancel calls still running (shutdown): their callers get a cancellation, not a hang."""
        for call in list(self.calls):
            call.cancel()
        await asyncio.gather(*self.calls, return_exceptions=True)


def _joined(logits: list[np.ndarray]) -> np.ndarray:
    return logits[0] if len(logits) == 1 else np.concatenate(logits)


def _time_out(replies: list[asyncio.Future]) -> None:
    for reply in replies:
        if not reply.done():
            reply.set_exception(InferenceTimeout("the request's deadline passed before Triton answered"))
