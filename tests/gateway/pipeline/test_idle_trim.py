"""The idle trim (gateway/pipeline/memory.py): once, off the loop, only after work and a quiet ``idle_s``."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.pipeline.memory import IdleTrim, libc_malloc_trim

pytestmark = pytest.mark.fast

IDLE_S = 0.2  # against requests 0.02 s apart: far from flaky on a busy machine


class CountingTrim:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


async def test_trims_once_after_a_quiet_spell_and_never_while_work_goes_on() -> None:
    trim = CountingTrim()
    with ThreadPoolExecutor(max_workers=1) as executor:
        idle = IdleTrim(IDLE_S, trim, executor)
        await asyncio.sleep(IDLE_S * 3)
        assert trim.calls == 0, "a worker that did nothing has nothing to give back"
        for _ in range(10):  # requests ending a tenth of the idle spell apart: never quiet long enough
            with idle.working():
                await asyncio.sleep(IDLE_S / 10)
        assert trim.calls == 0
        with idle.working():
            await asyncio.sleep(IDLE_S * 2)
            assert trim.calls == 0, "never while a request works"
        await asyncio.sleep(IDLE_S * 3)
        assert trim.calls == 1
        await asyncio.sleep(IDLE_S * 3)
        assert trim.calls == 1, "once per quiet spell"
        with idle.working():
            pass
        await asyncio.sleep(IDLE_S * 3)
        assert trim.calls == 2


async def test_off_when_there_is_no_trim_and_cancel_drops_the_pending_check() -> None:
    with ThreadPoolExecutor(max_workers=1) as executor:
        off = IdleTrim(IDLE_S, None, executor)
        with off.working():
            pass
        assert off.timer is None
        trim = CountingTrim()
        idle = IdleTrim(IDLE_S, trim, executor)
        with idle.working():
            pass
        idle.cancel()
        await asyncio.sleep(IDLE_S * 3)
        assert trim.calls == 0


def test_glibc_trim_is_found_and_runs() -> None:
    trim = libc_malloc_trim()
    assert trim is not None, "this project's images and machines use glibc"
    trim()
