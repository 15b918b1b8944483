"""A closed-loop load generator: N clients, each sending its next request as soon as the last one answered.

Closed loop, because that is how a fixed pool of callers (workers, batch jobs, the gateway's own
clients) behaves, and because at a fixed concurrency the server's saturated throughput shows
directly. One asyncio loop in one process drives every client: on a 2-core machine shared by
server and client, a heavier generator (threads, many processes, locust's gevent workers) would take
cores from the server it measures. Its own CPU time is measured and reported with each cell.

Only answers that arrive inside the measurement window count; requests still in flight when it
closes are awaited (so they do not spill into the next cell) but not counted.
"""

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loadtest.bench.stats import WindowSample
from loadtest.bench.triton_metrics import InferenceCounts

# Sends the request for corpus item ``index`` and returns how many texts it classified; raises on any failure.
SendFunction = Callable[[int], Awaitable[int]]
# Cumulative CPU seconds of something (this process, a server's process tree).
CpuClock = Callable[[], float]
# Triton's cumulative rows and executions of the model under test.
TritonCounter = Callable[[], InferenceCounts]


def machine_busy_cpu() -> float:
    """CPU seconds the whole machine spent busy (all processes, all cores), from /proc/stat; 0 where absent.

    Subtracting the load generator's and the servers' own time leaves what other work took from the
    cores during a cell: on a shared machine, the one number that says whether a cell can be trusted.
    """
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


# After a failed request a client pauses this long: an unreachable server refuses in microseconds, and a
# client spinning on refusals would burn the core the server needs and fill the table with noise.
ERROR_BACKOFF_S = 0.01
MAX_ERROR_EXAMPLES = 5


@dataclass(frozen=True)
class LoadSettings:
    """How long each cell runs; warm-up fills the server's queues and caches before anything is counted."""

    concurrency: int
    warmup_s: float = 2.0
    duration_s: float = 10.0
    drain_timeout_s: float = 30.0


class _Window:
    """Counters for the measurement window, filled by every client coroutine (one thread, no locks)."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.latencies_s: list[float] = []
        self.texts = 0
        self.errors = 0
        self.error_examples: list[str] = []

    def record(self, started: float, finished: float, texts: int | None, error: BaseException | None) -> None:
        if not self.start <= finished < self.end:
            return
        if error is None and texts is not None:
            self.latencies_s.append(finished - started)
            self.texts += texts
            return
        self.errors += 1
        if len(self.error_examples) < MAX_ERROR_EXAMPLES:
            self.error_examples.append(f"{type(error).__name__}: {error}"[:300])


async def _client(send: SendFunction, indices: itertools.count, item_count: int, window: _Window) -> None:
    while time.perf_counter() < window.end:
        index = next(indices) % item_count
        started = time.perf_counter()
        try:
            texts = await send(index)
        except Exception as error:  # any failure is a counted error, never the end of the run
            window.record(started, time.perf_counter(), None, error)
            await asyncio.sleep(ERROR_BACKOFF_S)
            continue
        window.record(started, time.perf_counter(), texts, None)


async def _sample_at_window_edges(window: _Window, clocks: list[CpuClock | TritonCounter]) -> list:
    """What each clock counted between the window's start and end (CPU seconds, or Triton's counts)."""
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    at_start = [clock() for clock in clocks]
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    return [clock() - begin for clock, begin in zip(clocks, at_start, strict=True)]


async def run_closed_loop(
    send: SendFunction,
    item_count: int,
    settings: LoadSettings,
    server_cpu: CpuClock | None = None,
    gateway_cpu: CpuClock | None = None,
    triton_counts: TritonCounter | None = None,
) -> WindowSample:
    """Run ``settings.concurrency`` clients over items ``0..item_count-1`` (round robin, shared order).

    ``server_cpu`` covers every server process; ``gateway_cpu`` the gateway's alone, for its cost per request;
    ``triton_counts`` reads Triton's counters, for how full its batches were.
    """
    if settings.concurrency < 1 or item_count < 1:
        raise ValueError("concurrency and item_count must be at least 1")
    now = time.perf_counter()
    window = _Window(start=now + settings.warmup_s, end=now + settings.warmup_s + settings.duration_s)
    indices = itertools.count()
    optional = {"server": server_cpu, "gateway": gateway_cpu, "triton": triton_counts}
    measured = [name for name, clock in optional.items() if clock is not None]
    clocks = [time.process_time, machine_busy_cpu] + [optional[name] for name in measured]
    edges = asyncio.create_task(_sample_at_window_edges(window, clocks))
    clients = [asyncio.create_task(_client(send, indices, item_count, window)) for _ in range(settings.concurrency)]
    client_cpu_s, machine_cpu_s, *spent = await edges
    by_name = dict(zip(measured, spent, strict=True))
    triton = by_name.get("triton")
    _, stragglers = await asyncio.wait(
        clients, timeout=max(0.0, window.end - time.perf_counter()) + settings.drain_timeout_s
    )
    for task in stragglers:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    return WindowSample(
        latencies_s=window.latencies_s,
        texts=window.texts,
        errors=window.errors,
        window_s=settings.duration_s,
        client_cpu_s=client_cpu_s,
        machine_cpu_s=machine_cpu_s,
        server_cpu_s=by_name.get("server"),
        gateway_cpu_s=by_name.get("gateway"),
        triton_rows=triton.rows if triton else None,
        triton_executions=triton.executions if triton else None,
        error_examples=window.error_examples,
    )
