"""How long an event loop was blocked while some work ran (a task ticking beside it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def with_heartbeat(work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    """Run `work` beside a task that ticks every 10 ms; return its result and the longest
    gap between two ticks (how long the loop was blocked)."""
    longest = 0.0
    done = asyncio.Event()

    async def beat() -> None:
        nonlocal longest
        while not done.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            longest = max(longest, time.monotonic() - before)

    beating = asyncio.create_task(beat())
    await asyncio.sleep(0.05)  # ticking before the work starts
    try:
        result = await work()
    finally:
        done.set()
        await beating  # its last tick measures a stall at the very end of the work
    return result, longest
