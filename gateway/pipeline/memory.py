"""Freed memory goes back to the system once a worker has been idle a moment: glibc's ``malloc_trim``.

glibc keeps what a request freed in its arenas (the tokenizer's Rust threads each get one), so without a trim a
worker that once tokenized a 2 MB body stays at its peak. ``malloc_trim(0)`` hands back every arena's free
pages; it walks the heap, so it runs off the event loop, once, after the worker has had nothing to do for
``idle_s`` (docs/reliability.md has the figures). Where libc has no ``malloc_trim`` (musl), nothing is done.
"""

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager


def libc_malloc_trim() -> Callable[[], None] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class IdleTrim:
    """Counts the work in progress; when none has run for ``idle_s`` after some did, trims once, in ``executor``.

    One timer at most: a request that ends while the timer is pending only moves the time it will check.
    """

    def __init__(self, idle_s: float, trim: Callable[[], None] | None, executor: Executor) -> None:
        self.idle_s = idle_s
        self.trim = trim
        self.executor = executor
        self.working_now = 0
        self.worked = False  # since the last trim: an idle worker that did nothing has nothing to give back
        self.last_end = 0.0
        self.timer: asyncio.TimerHandle | None = None

    @contextmanager
    def working(self) -> Iterator[None]:
        self.working_now += 1
        self.worked = True
        try:
            yield
        finally:
            self.working_now -= 1
            loop = asyncio.get_running_loop()
            self.last_end = loop.time()
            if self.working_now == 0 and self.timer is None and self.trim is not None:
                self.timer = loop.call_at(self.last_end + self.idle_s, self._check)

    def _check(self) -> None:
        self.timer = None
        if self.working_now or not self.worked:
            return  # the next request to end starts the timer again
        loop = asyncio.get_running_loop()
        if loop.time() < self.last_end + self.idle_s:
            self.timer = loop.call_at(self.last_end + self.idle_s, self._check)
            return
        self.worked = False
        loop.run_in_executor(self.executor, self.trim)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
