"""The coalescer (gateway/pipeline/batching.py): its queue logic alone (properties), then its lanes on the event loop.

The event-loop tests drive a ``Coalescer`` with a model function the test controls (a small real
implementation that records each call and answers when told), so the order of events is exact. No server
runs here; tests/gateway/test_batching_gateway.py sends concurrent traffic through a real gateway and Triton.
"""

import asyncio
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InferenceFailed, InferenceTimeout, Overloaded
from gateway.pipeline.batching import (
    INTERACTIVE_GONE_S,
    LANES,
    BucketQueue,
    BulkSizing,
    Coalescer,
    Lane,
    Pending,
    bulk_slots,
    call_rows,
    next_queue,
    take_batch,
)
from gateway.pipeline.budget import TokenBudget
from gateway.pipeline.tokenization import BucketBatch, pad_to_bucket

pytestmark = pytest.mark.fast

PURE = settings(max_examples=200, deadline=None, database=None)


def roomy(lane: Lane) -> TokenBudget:
    """A budget these tests never reach: what they are about is the order of calls."""
    return TokenBudget(max_tokens=10**9, half_life_s=5.0, lane=lane)


def rows_batch(*first_tokens: int, bucket: int = 8) -> BucketBatch:
    """A request's batch whose rows are told apart by their first token."""
    input_ids, attention_mask = pad_to_bucket([[token, 7] for token in first_tokens], bucket, pad_token_id=0)
    return BucketBatch(owners=list(range(len(first_tokens))), input_ids=input_ids, attention_mask=attention_mask)


class ScriptedModel:
    """Answers each call when the test says so; the logits of a row are its first token, twice."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.gates: list[asyncio.Future] = []

    async def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray, deadline: float) -> np.ndarray:
        assert input_ids.shape == attention_mask.shape, "one shape per call"
        self.calls.append(input_ids[:, 0].tolist())
        gate = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        error = await gate
        if error is not None:
            raise error
        return np.repeat(input_ids[:, :1].astype(np.float32), 2, axis=1)

    def finish(self, call: int, error: Exception | None = None) -> None:
        self.gates[call].set_result(error)


def coalescer_over(
    model: ScriptedModel,
    max_rows: int,
    calls_in_flight: int,
    interactive_max_tokens: int = 512,
    bulk_call_s: float = 1.0,
    tokens_per_s: float | None = 1e9,
) -> Coalescer:
    """A coalescer on the scripted model; at 512 tokens every request of a few 8-token rows is interactive.
    Its drain rate starts measured at ``tokens_per_s`` (None: unmeasured), by default so fast that bulk calls
    are not cut unless a test asks; bulk alone gets calls 10x as long."""
    budgets: dict[Lane, TokenBudget] = {lane: roomy(lane) for lane in LANES}
    if tokens_per_s is not None:
        budgets["bulk"].rate.observe(tokens=tokens_per_s, busy_s=1.0)
    bulk = BulkSizing(bulk_call_s, 10 * bulk_call_s, interactive_max_tokens)
    return Coalescer(max_rows, calls_in_flight, model, budgets, interactive_max_tokens, bulk)


async def settle() -> None:
    """Let every task that can run, run (a finished call resumes, frees its lane, the next call starts)."""
    for _ in range(10):
        await asyncio.sleep(0)


# --- take_batch: the queue logic, pure -------------------------------------------------------------------------


@st.composite
def queues(draw: st.DrawFn) -> tuple[deque[Pending], int, float]:
    loop = asyncio.new_event_loop()
    max_rows = draw(st.integers(1, 16))
    now = 100.0
    entries = deque()
    for index in range(draw(st.integers(0, 12))):
        reply = loop.create_future()
        if draw(st.booleans()) and draw(st.booleans()):
            reply.cancel()  # a caller that left
        # Up to a few rows over the call's limit: a bulk entry cut when the measured rate was higher.
        rows = draw(st.integers(1, max_rows + 3))
        deadline = now + draw(st.sampled_from([-1.0, 0.0, 1.0, 5.0]))
        entries.append(Pending(rows_batch(*[index] * rows), deadline, reply, now))
    loop.close()
    return entries, max_rows, now


@PURE
@given(queues())
def test_take_batch_keeps_arrival_order_never_overfills_and_accounts_for_every_row(
    case: tuple[deque[Pending], int, float],
) -> None:
    queue, max_rows, now = case
    before = list(queue)
    taken = take_batch(queue, max_rows, now)

    removed = before[: len(before) - len(queue)]
    assert list(queue) == before[len(removed) :], "only the front of the queue is taken"
    assert taken.rows_removed == sum(entry.rows for entry in removed)
    assert sum(entry.rows for entry in taken.batch) <= max_rows or len(taken.batch) == 1, "over only by one entry"
    assert [e for e in removed if e in taken.batch] == taken.batch, "the batch keeps arrival order"
    assert all(not e.reply.done() and e.deadline > now for e in taken.batch)
    assert all(not e.reply.done() and e.deadline <= now for e in taken.expired)
    assert all(e in taken.batch or e in taken.expired or e.reply.done() for e in removed), "nothing lost"
    if queue:  # it stopped because the next live entry did not fit
        head = queue[0]
        assert not head.reply.done() and head.deadline > now
        assert taken.batch, "a non-empty queue always yields a call"
        assert sum(entry.rows for entry in taken.batch) + head.rows > max_rows


# --- the coalescer on the event loop ---------------------------------------------------------------------------


def request(coalescer: Coalescer, *tokens: int, bucket: int = 8, deadline_s: float = 10) -> asyncio.Task:
    """A request of one batch (rows told apart by ``tokens``) waiting for its logits, as a task."""
    deadline = asyncio.get_running_loop().time() + deadline_s
    return asyncio.create_task(coalescer.infer([rows_batch(*tokens, bucket=bucket)], deadline))


async def answer(task: asyncio.Task) -> list[int]:
    [logits] = await task
    return logits[:, 0].astype(int).tolist()


async def test_an_idle_worker_sends_at_once_and_rows_gather_while_its_call_is_in_flight() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=1)
    first = request(coalescer, 1)
    await settle()
    assert model.calls == [[1]], "an idle worker must not wait for company"

    second, third = request(coalescer, 2, 3), request(coalescer, 4)
    await settle()
    assert model.calls == [[1]], "while the call is in flight, rows gather"

    model.finish(0)
    assert await answer(first) == [1]
    await settle()
    assert model.calls == [[1], [2, 3, 4]], "everything waiting goes as one call"
    model.finish(1)
    assert await answer(second) == [2, 3] and await answer(third) == [4]


async def test_a_full_batch_waits_for_a_free_call_like_any_other() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=3, calls_in_flight=1)
    tasks = [request(coalescer, token) for token in (1, 2, 3, 4, 5)]
    await settle()
    assert model.calls == [[1]], "three rows waiting fill a batch, which still waits: the slots bound Triton's queue"
    model.finish(0)
    await settle()
    assert model.calls == [[1], [2, 3, 4]]
    model.finish(1)
    await settle()
    assert model.calls[-1] == [5]
    model.finish(2)
    assert [await answer(task) for task in tasks] == [[1], [2], [3], [4], [5]]


async def test_buckets_take_turns_oldest_waiting_first() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=1)
    tasks = [request(coalescer, 1, bucket=8)]
    await settle()
    tasks += [request(coalescer, 2, bucket=16), request(coalescer, 3, bucket=8), request(coalescer, 4, bucket=16)]
    await settle()
    model.finish(0)
    await settle()
    assert model.calls == [[1], [2, 4]], "bucket 16's oldest row waited longest"
    model.finish(1)
    await settle()
    assert model.calls == [[1], [2, 4], [3]]
    model.finish(2)
    assert [await answer(task) for task in tasks] == [[1], [2], [3], [4]]


async def test_more_calls_in_flight_send_other_buckets_at_once() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=2)
    tasks = [request(coalescer, 1, bucket=8), request(coalescer, 2, bucket=16), request(coalescer, 3, bucket=8)]
    await settle()
    assert model.calls == [[1], [2]]
    model.finish(1)
    await settle()
    assert model.calls == [[1], [2], [3]]
    model.finish(0)
    model.finish(2)
    assert [await answer(task) for task in tasks] == [[1], [2], [3]]


async def test_a_failed_call_fails_only_its_own_requests() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=1)
    first = request(coalescer, 1)
    await settle()
    in_failing_call = [request(coalescer, 2), request(coalescer, 3)]
    await settle()
    model.finish(0)
    await first
    await settle()
    after = request(coalescer, 4)
    model.finish(1, InferenceFailed("Triton failed to run the model: boom"))
    for task in in_failing_call:
        with pytest.raises(InferenceFailed, match="boom"):
            await task
    await settle()
    assert model.calls[-1] == [4], "the worker goes on after a failure"
    model.finish(2)
    assert await answer(after) == [4]


async def test_callers_that_left_are_dropped_before_they_cost_compute() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=1)
    first = request(coalescer, 1)
    gone, expiring, staying = request(coalescer, 2), request(coalescer, 3, deadline_s=0.01), request(coalescer, 4)
    await settle()
    gone.cancel()  # its client disconnected
    with pytest.raises(InferenceTimeout):
        await expiring  # answered at its own deadline, while the call in front of it still runs
    assert model.calls == [[1]]
    model.finish(0)
    await first
    await settle()
    assert model.calls == [[1], [4]], "neither the departed nor the expired rows were sent"
    model.finish(1)
    assert await answer(staying) == [4]
    assert all(queue.rows == 0 and not queue.entries for queue in coalescer.queues.values())
    assert not coalescer.calls


async def test_one_request_over_several_buckets_gets_each_batch_back_in_order() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=1)
    deadline = asyncio.get_running_loop().time() + 10
    task = asyncio.create_task(
        coalescer.infer([rows_batch(5, 6, bucket=16), rows_batch(7, bucket=8), rows_batch(8, bucket=16)], deadline)
    )
    await settle()
    assert model.calls == [[5, 6, 8]], "a bucket's rows go together, the oldest bucket first"
    model.finish(0)
    await settle()
    assert model.calls == [[5, 6, 8], [7]]
    model.finish(1)
    assert [logits[:, 0].tolist() for logits in await task] == [[5, 6], [7], [8]]
    await coalescer.close()


# --- lanes: interactive requests beside bulk ones ------------------------------------------------------------


@st.composite
def lane_queues(draw: st.DrawFn) -> list[BucketQueue]:
    loop = asyncio.new_event_loop()
    queues = []
    for bucket in draw(st.lists(st.sampled_from([8, 16, 32]), unique=True, max_size=3)):
        for lane in draw(st.lists(st.sampled_from(["interactive", "bulk"]), unique=True)):
            queue = BucketQueue(bucket, lane)
            for _ in range(draw(st.integers(0, 3))):
                queue.entries.append(Pending(rows_batch(1, bucket=bucket), 10.0, loop.create_future(), 0.0))
            queues.append(queue)
    loop.close()
    return draw(st.permutations(queues))


@PURE
@given(lane_queues(), st.sampled_from([None, "interactive", "bulk"]), st.integers(1, 4), st.data())
def test_next_queue_leaves_a_slot_to_interactive_and_lets_the_lanes_take_turns(
    queues: list[BucketQueue], last_lane: str | None, calls_in_flight: int, data: st.DataObject
) -> None:
    bulk_calls = data.draw(st.integers(0, calls_in_flight))
    chosen = next_queue(queues, last_lane, bulk_calls, calls_in_flight)

    may_go = {
        lane: [q for q in queues if q.lane == lane and q.entries]
        for lane in ("interactive", "bulk")
        if lane == "interactive" or bulk_calls < bulk_slots(calls_in_flight)
    }
    may_go = {lane: waiting for lane, waiting in may_go.items() if waiting}
    if not may_go:
        assert chosen is None
        return
    assert chosen is not None and chosen.lane in may_go, "bulk never takes the last slot"
    assert chosen.entries[0].seq == min(q.entries[0].seq for q in may_go[chosen.lane]), "oldest first in a lane"
    if len(may_go) == 2:
        assert chosen.lane == ("bulk" if last_lane == "interactive" else "interactive"), "the lanes take turns"


def bulk_request(coalescer: Coalescer, *tokens: int) -> asyncio.Task:
    """Two or more rows of 8 tokens: over the lane tests' 8-token interactive limit."""
    return request(coalescer, *tokens)


async def test_a_small_request_gets_the_slot_bulk_leaves_and_bulk_goes_on_at_every_other_call() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=2, interactive_max_tokens=8)
    tasks = [bulk_request(coalescer, 1, 2), bulk_request(coalescer, 3, 4)]
    await settle()
    assert model.calls == [[1, 2]], "bulk holds at most one of the two slots"
    tasks.append(request(coalescer, 5))
    await settle()
    assert model.calls == [[1, 2], [5]], "the small request goes at once, in the slot bulk left"
    tasks += [request(coalescer, 6), bulk_request(coalescer, 7, 8)]
    model.finish(1)
    await settle()
    assert model.calls[-1] == [6], "a free slot that bulk may not take goes to the next small request"
    model.finish(0)
    await settle()
    assert model.calls[-1] == [3, 4, 7, 8], "once its call ends, bulk goes again with all it gathered"
    model.finish(2)
    model.finish(3)
    assert [await answer(task) for task in tasks] == [[1, 2], [3, 4], [5], [6], [7, 8]]


# --- the size of a bulk call, in time ------------------------------------------------------------------------------


@PURE
@given(
    st.one_of(st.none(), st.floats(1.0, 1e7)),
    st.floats(0.001, 1.0),
    st.floats(1.0, 20.0),
    st.integers(0, 4096),
    st.integers(0, 8192),
    st.booleans(),
)
def test_a_bulk_call_carries_what_drains_in_its_time_short_beside_interactive_work_long_alone(
    tokens_per_s: float | None, call_s: float, alone_factor: float, unmeasured: int, interactive: int, about: bool
) -> None:
    sizing = BulkSizing(call_s, call_s * alone_factor, unmeasured)
    tokens = sizing.tokens(tokens_per_s, interactive, about)
    if tokens_per_s is None:
        assert tokens == unmeasured == sizing.entry_tokens(None), "until measured, no more than interactive"
        return
    alone = sizing.tokens(tokens_per_s, interactive, interactive_about=False)
    assert alone <= tokens_per_s * call_s * alone_factor < alone + 1, "alone: what drains in its time"
    if about:
        assert tokens == max(int(tokens_per_s * call_s), interactive // 2), "its time, or half an interactive call"
        assert sizing.entry_tokens(tokens_per_s) <= tokens, "queued in shares no bigger than any call"
    assert sizing.tokens(tokens_per_s * 2, interactive, about) >= tokens, "a faster model: no fewer tokens"


@PURE
@given(
    st.sampled_from(["interactive", "bulk"]),
    st.sampled_from([8, 16, 64, 256, 512]),
    st.integers(1, 256),
    st.integers(0, 10_000),
)
def test_call_rows_caps_bulk_calls_at_their_tokens_and_leaves_interactive_ones_to_the_batch_size(
    lane: str, bucket: int, max_rows: int, cap: int
) -> None:
    rows = call_rows(lane, bucket, max_rows, cap)
    assert 1 <= rows <= max_rows
    if lane == "interactive":
        assert rows == max_rows
    else:
        assert rows == 1 or rows * bucket <= cap, "a bulk call stays within the cap unless one row is over it"
        assert rows == max_rows or (rows + 1) * bucket > cap, "and takes as many rows as fit"


async def test_a_bulk_request_goes_in_calls_sized_by_the_measured_rate_and_comes_back_whole_and_in_order() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(  # 1,600 tokens/s: 16 tokens in 10 ms
        model, max_rows=8, calls_in_flight=2, interactive_max_tokens=8, bulk_call_s=0.01, tokens_per_s=1600
    )
    coalescer.interactive_seen = asyncio.get_running_loop().time()  # an interactive request has just been
    bulk = bulk_request(coalescer, 1, 2, 3, 4, 5)
    await settle()
    assert model.calls == [[1, 2]], "16 tokens: two rows of 8 a call, and bulk holds one of the two slots"
    small = request(coalescer, 9)
    await settle()
    assert model.calls == [[1, 2], [9]], "a small request goes beside the capped bulk call"
    for call in range(2):
        model.finish(call)
        await settle()
    assert model.calls[2:] == [[3, 4]]
    model.finish(2)
    await settle()
    assert model.calls[3:] == [[5]]
    model.finish(3)
    assert await answer(bulk) == [1, 2, 3, 4, 5], "the pieces are joined back into the request's batch"
    assert await answer(small) == [9]
    assert all(budget.held == 0 for budget in coalescer.budgets.values())


async def test_bulk_calls_grow_once_interactive_requests_are_gone_and_shrink_when_one_comes() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(  # 1,600 tokens/s: 16 tokens in 10 ms beside interactive work, 160 alone
        model, max_rows=64, calls_in_flight=2, interactive_max_tokens=8, bulk_call_s=0.01, tokens_per_s=1600
    )
    first = bulk_request(coalescer, *range(1, 21))
    await settle()
    assert len(model.calls[0]) == 20, "no interactive request yet: one call of up to 160 tokens"
    model.finish(0)
    assert len(await answer(first)) == 20
    small = request(coalescer, 99)
    second = bulk_request(coalescer, *range(1, 21))
    await settle()
    assert model.calls[1:] == [[99], [1, 2]], "a small request came: bulk goes in 16-token calls again"
    model.finish(1)
    model.finish(2)
    assert await answer(small) == [99]
    await settle()
    assert len(model.calls[3]) == 2
    coalescer.interactive_seen -= INTERACTIVE_GONE_S  # ten seconds on, without another
    model.finish(3)
    await settle()
    assert len(model.calls[4]) == 16, "gone again: the rest in one long call"
    model.finish(4)
    assert await answer(second) == list(range(1, 21))


async def test_until_a_call_is_measured_a_bulk_call_carries_no_more_than_an_interactive_request() -> None:
    model = ScriptedModel()
    coalescer = coalescer_over(model, max_rows=8, calls_in_flight=2, interactive_max_tokens=16, tokens_per_s=None)
    bulk = bulk_request(coalescer, 1, 2, 3, 4, 5)
    for call, rows in enumerate([[1, 2], [3, 4], [5]]):
        await settle()
        assert model.calls[call] == rows, "16 tokens, the interactive limit: two rows of 8 a call"
        model.finish(call)  # a scripted call takes no time: still less than MIN_BUSY_S measured
    assert await answer(bulk) == [1, 2, 3, 4, 5]


@PURE
@given(st.integers(1, 40), st.integers(1, 16))
def test_a_batch_cut_into_chunks_keeps_its_rows_in_order_and_each_chunk_within_the_limit(
    rows: int, max_rows: int
) -> None:
    batch = rows_batch(*range(rows))
    chunks = batch.chunks(max_rows)
    assert all(1 <= len(chunk.owners) <= max_rows for chunk in chunks)
    assert len(chunks) == -(-rows // max_rows), "as few chunks as the limit allows"
    assert [owner for chunk in chunks for owner in chunk.owners] == batch.owners
    assert np.array_equal(np.concatenate([chunk.input_ids for chunk in chunks]), batch.input_ids)
    assert np.array_equal(np.concatenate([chunk.attention_mask for chunk in chunks]), batch.attention_mask)


async def test_bulk_work_held_never_refuses_a_single_text_each_lane_is_admitted_against_its_own_budget() -> None:
    model = ScriptedModel()
    budgets: dict[Lane, TokenBudget] = {lane: TokenBudget(64, 5.0, lane) for lane in LANES}
    for budget in budgets.values():
        budget.rate.observe(tokens=1000, busy_s=1.0)  # measured: 1,000 tokens/s
    coalescer = Coalescer(8, 2, model, budgets, 8, BulkSizing(1.0, 1.0, 8))
    held = bulk_request(coalescer, *range(1, 7))  # 48 tokens in the bulk lane
    await settle()
    with pytest.raises(Overloaded, match="bulk calls hold 48 padded tokens"):
        await bulk_request(coalescer, 7, 8, 9)  # 24 more: over the bulk lane's 64
    small = request(coalescer, 9)  # 8 tokens: the interactive lane holds nothing
    await settle()
    assert model.calls == [[1, 2, 3, 4, 5, 6], [9]]
    model.finish(1)
    assert await answer(small) == [9]
    model.finish(0)
    assert await answer(held) == [1, 2, 3, 4, 5, 6]
    assert [budget.held for budget in budgets.values()] == [0, 0]
