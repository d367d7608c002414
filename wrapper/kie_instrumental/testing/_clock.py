"""A fake clock: sleeping advances time instantly, so retry and polling tests never wait."""

from __future__ import annotations

import asyncio
import threading


class FakeClock:
    """Implements the clients' Clock for one thread or task at a time: `sleep(s)` moves time
    forward by s at once, and `sleeps` records every sleep asked for. (Concurrent sleepers
    need virtual time that advances only when all of them sleep; see contract_tests.)"""

    def __init__(self, start: float = 1_000.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        with self._lock:
            return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now})"
