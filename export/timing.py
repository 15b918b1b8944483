"""Announce each export step and how long it took, so a minutes-long export shows where it is."""

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

logger = logging.getLogger("export")


@contextmanager
def step(name: str) -> Iterator[None]:
    """Log ``name`` when it starts and its duration when it ends (or fails)."""
    logger.info("%s ...", name)
    started = time.perf_counter()
    try:
        yield
    except Exception:
        logger.info("%s failed after %.1f s", name, time.perf_counter() - started)
        raise
    logger.info("%s done in %.1f s", name, time.perf_counter() - started)


class Steps:
    """Numbers the steps of one run plainly, ``[1/5]`` to ``[5/5]``, however many the options add."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = 0

    def __call__(self, name: str) -> AbstractContextManager[None]:
        self.started += 1
        return step(f"[{self.started}/{self.total}] {name}")
