"""A fake clock: sleeping advances time instantly, so retry and polling tests never wait."""

from __future__ import annotations

import asyncio
import threading


class FakeClock:
    """Implements the clients' Clock. `sleep(s)` moves time to (time at the call) + s, or
    leaves it where it is if another sleeper already moved it further, so concurrent sleepers
    in threads or tasks see a consistent timeline. `sleeps` records every sleep asked for."""

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
            self._now = max(self._now, self._now + max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now})"
