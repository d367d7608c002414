"""A client-side rate limiter: a burst waits its turn instead of collecting 429s.

Reservations over a sliding window: each request takes the earliest slot at which fewer than
`limit` slots fall in the last `period` seconds, and is told how long to wait for it. Reserving
only computes under a lock and never blocks inside it, so one limiter serves threads (which
then sleep) and asyncio tasks (which then await) alike.
"""

from __future__ import annotations

import collections
import threading

from ._clock import Clock


class RateLimiter:
    def __init__(self, limit: int, period: float, clock: Clock) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("rate_limit must be (requests >= 1, seconds > 0)")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._slots: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next free slot; return the seconds to wait before sending (0 if none)."""
        with self._lock:
            now = self._clock.monotonic()
            while self._slots and self._slots[0] <= now - self.period:
                self._slots.popleft()
            slot = now
            if len(self._slots) >= self.limit:
                slot = max(now, self._slots[-self.limit] + self.period)
            self._slots.append(slot)
            return slot - now

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self.limit}, period={self.period})"
