"""A client-side rate limiter: a burst waits its turn instead of collecting 429s.

Reservations over a sliding window: each request takes the earliest slot at which fewer than
`limit` slots fall in the last `period` seconds, and is told how long to wait for it. Reserving
only computes under a lock and never blocks inside it, so one limiter serves threads (which
then sleep) and asyncio tasks (which then await) alike.
"""

from __future__ import annotations

import collections
import threading
from typing import Literal, Protocol

from ._clock import Clock

Kind = Literal["create", "poll"]  # "poll": every request to api.kie.ai that creates nothing


class Limiter(Protocol):
    """What the core asks of a rate limiter (this local one, or a shared one such as
    `kie_instrumental.redis_backend.RedisRateLimit`)."""

    def reserve(self, kind: Kind = "poll") -> float:
        """Take a permit for one request of `kind`; return the seconds to wait before sending."""
        ...

    def back_off(self, seconds: float) -> None:
        """KIE answered 429: send nothing for `seconds`."""
        ...


class RateLimiter:
    def __init__(self, limit: int, period: float, clock: Clock) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("rate_limit must be (requests >= 1, seconds > 0)")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._slots: collections.deque[float] = collections.deque()
        self._not_before = float("-inf")
        self._lock = threading.Lock()

    def reserve(self, kind: Kind = "poll") -> float:
        """Take the next free slot; return the seconds to wait before sending (0 if none).
        One budget for every kind of request."""
        with self._lock:
            now = self._clock.monotonic()
            while self._slots and self._slots[0] <= now - self.period:
                self._slots.popleft()
            slot = max(now, self._not_before)
            if len(self._slots) >= self.limit:
                slot = max(slot, self._slots[-self.limit] + self.period)
            self._slots.append(slot)
            return slot - now

    def back_off(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, self._clock.monotonic() + seconds)

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self.limit}, period={self.period})"
