"""Admission by cost: the padded tokens a worker holds, bounded by a budget and by what it can finish in time.

A request's cost is known once it is tokenized: its rows times their bucket length, windows included. It
varies by four orders of magnitude (one short text against a thousand windows of 512 tokens), so counting
requests says nothing about the work a worker has taken on. Like Hugging Face TEI's ``max_batch_tokens``,
each worker holds at most ``max_tokens`` tokens, queued or at Triton; and a request that could not be
finished before its deadline at the rate the worker's Triton calls have been draining tokens is refused
at once, with the time after which it would fit as its ``Retry-After``, instead of being queued to time out.

Plain arithmetic over numbers the coalescer reports (no event loop, no clock of its own), so it can be
tested alone.
"""

import math
from dataclasses import dataclass

# Until its first call is measured, a worker takes this fraction of its budget: enough for ordinary traffic
# to flow from the first request, too little for a burst on a fresh worker to fill it with work it may be
# too slow to finish.
UNMEASURED_SHARE = 8
# Busy time a rate needs before admission trusts it: one slow first call (a fresh worker beside a busy Triton)
# must not read as the worker's rate and refuse everything for its half-life.
MIN_BUSY_S = 0.5


@dataclass
class DrainRate:
    """Tokens per second of busy time, over the recent past: older observations fade with ``half_life_s``.

    Busy time (at least one call open) rather than wall time, so an idle spell does not read as a slow
    Triton; and a sum over all open calls, so several calls in flight count as the throughput they give.
    """

    half_life_s: float
    tokens: float = 0.0
    seconds: float = 0.0

    def observe(self, tokens: float, busy_s: float) -> None:
        fade = 0.5 ** (busy_s / self.half_life_s)
        self.tokens = self.tokens * fade + tokens
        self.seconds = self.seconds * fade + busy_s

    @property
    def tokens_per_s(self) -> float | None:
        """None until calls have been measured for ``MIN_BUSY_S``: no rate is better than a guessed one."""
        return self.tokens / self.seconds if self.seconds >= MIN_BUSY_S else None


@dataclass(frozen=True)
class Refusal:
    """Why a request was not admitted, and after how many seconds it would be, if nothing else arrived."""

    reason: str  # "tokens_held" or "deadline": the metric's label
    message: str
    retry_after_s: int


class TokenBudget:
    """The tokens one lane of a worker holds (queued + at Triton), the rate its calls drain them, and the
    admission rule; a worker has one per lane (``batching``), so bulk work held never refuses a single text."""

    def __init__(self, max_tokens: int, half_life_s: float, lane: str) -> None:
        self.max_tokens = max_tokens
        self.lane = lane  # named in its refusals
        self.held = 0
        self.rate = DrainRate(half_life_s)
        self.open_calls = 0
        self.busy_mark = 0.0  # start of the busy time not yet attributed to a finished call

    def refusal(self, cost: int, time_left_s: float) -> Refusal | None:
        """None when a request of ``cost`` tokens may go in now; else why not and when to retry.

        A worker holding nothing admits anything the per-request limits let through: alone, it waits
        for nobody, and it is the only way to measure a rate in the first place.
        """
        if self.held == 0:
            return None
        rate = self.rate.tokens_per_s
        if rate is None:
            if self.held + cost <= self.max_tokens // UNMEASURED_SHARE:
                return None
            return Refusal(
                "tokens_held",
                f"the worker is still measuring its Triton's rate and holds {self.held} padded tokens; until then "
                f"it takes {self.max_tokens // UNMEASURED_SHARE} (GATEWAY_MAX_TOKENS_HELD / {UNMEASURED_SHARE}); "
                "retry after 1 s",
                1,
            )
        over = self.held + cost - self.max_tokens
        finish_s = (self.held + cost) / rate
        # Whichever wait is longer: once the held work has drained that long, the request fits both ways.
        wait_s = max(over / rate, finish_s - time_left_s)
        if wait_s <= 0:
            return None
        if over > 0:
            return Refusal(
                "tokens_held",
                f"the worker's {self.lane} calls hold {self.held} padded tokens and this request needs {cost}; the "
                f"budget is {self.max_tokens} (GATEWAY_MAX_TOKENS_HELD); retry after {_seconds(wait_s)} s",
                _seconds(wait_s),
            )
        return Refusal(
            "deadline",
            f"at the {rate:.0f} padded tokens/s measured on this worker's {self.lane} calls, it would finish this "
            f"request in {finish_s:.1f} s, after its {time_left_s:.1f} s deadline; retry after {_seconds(wait_s)} s",
            _seconds(wait_s),
        )

    def hold(self, tokens: int) -> None:
        self.held += tokens

    def release(self, tokens: int) -> None:
        self.held -= tokens

    def call_started(self, now: float) -> None:
        if self.open_calls == 0:
            self.busy_mark = now
        self.open_calls += 1

    def call_finished(self, tokens: int | None, now: float) -> None:
        """A call ended at ``now``; ``tokens`` is what it computed, None when it failed (nothing was drained,
        and a Triton that fails fast must not read as a slow one)."""
        if tokens is not None:
            self.rate.observe(tokens, now - self.busy_mark)
        self.busy_mark = now
        self.open_calls -= 1


def _seconds(wait_s: float) -> int:
    """Whole seconds for ``Retry-After``, never 0: a client told 0 retries at once."""
    return max(1, math.ceil(wait_s))
