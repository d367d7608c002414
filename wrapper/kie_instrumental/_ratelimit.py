"""A client-side rate limiter: a burst waits its turn instead of collecting 429s.

A sliding window of `limit` slots per `period` seconds. A slot is held from the moment a
request may be sent until its answer arrived, and only then starts its `period`: the server
counts a request when it arrives, which is somewhere in between, so a slot cannot expire on the
client before it expires on the server, however long a request takes or however the sends of a
burst reorder on the way. (Counting from the send instead let 50 concurrent creates against a
server with the same limit collect 4-22 HTTP 429s; see bench/ratelimit.py.)

`acquire()` either hands out a slot or says how long to wait before asking again; it never
blocks (threads then sleep, asyncio tasks await), and a caller that waits holds nothing, so a
caller cancelled while waiting costs no slot.

Two interfaces: `Limiter` (reserve a send time, back off on 429), for callers that cannot
report the answer, and `SlotLimiter` (acquire / finished / back_off), which the core prefers
and `redis_backend.RedisRateLimit` implements too. A limiter that does I/O may also offer
`AsyncSlotLimiter`'s awaitable twins, which the async client awaits instead. (The three
protocols live in `_limiters`.)

The core never calls a limiter: it yields the steps below (`Acquire`, `Reserve`, `BackOff`;
a `Send` carries its permit) and each client performs them, `perform` in a thread,
`aperform` on an event loop, so a shared limiter never blocks the loop.
"""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any

import attrs

from ._clock import Clock
from ._limiters import AsyncSlotLimiter as AsyncSlotLimiter
from ._limiters import Kind as Kind
from ._limiters import Limiter as Limiter
from ._limiters import SlotLimiter as SlotLimiter


class Slot:
    """One request's place in the window: `at` is when its period starts (inf in flight)."""

    __slots__ = ("at",)

    def __init__(self, at: float = math.inf) -> None:
        self.at = at


# -- the steps the core yields and the clients perform ------------------------------------------


@attrs.frozen
class Acquire:
    """Ask for a slot: the outcome is the `Slot`, or the seconds to wait before asking again."""

    limiter: SlotLimiter
    kind: Kind


@attrs.frozen
class Reserve:
    """A `Limiter` without slots: the outcome is the seconds to wait before sending."""

    limiter: Limiter
    kind: Kind


@attrs.frozen
class BackOff:
    limiter: Limiter | SlotLimiter
    seconds: float


@attrs.frozen
class Permit:
    """A slot held by a request in flight: the client gives it back when the answer arrived,
    or when the request was abandoned (cancelled, interrupted)."""

    limiter: SlotLimiter
    slot: Slot


LimitStep = Acquire | Reserve | BackOff
AnyLimiter = Limiter | SlotLimiter


def perform(step: LimitStep) -> Slot | float | None:
    if isinstance(step, Acquire):
        return step.limiter.acquire(step.kind)
    if isinstance(step, Reserve):
        return step.limiter.reserve(step.kind)
    step.limiter.back_off(step.seconds)
    return None


# Gives back, in the background, a slot whose acquire was cancelled mid-answer.
_background: set[asyncio.Task[Any]] = set()


async def aperform(step: LimitStep) -> Slot | float | None:
    limiter = step.limiter
    if not isinstance(limiter, AsyncSlotLimiter):
        return perform(step)  # in memory: no I/O to wait for
    if isinstance(step, BackOff):
        await limiter.back_off_async(step.seconds)
        return None
    assert isinstance(step, Acquire)
    asking = asyncio.ensure_future(limiter.acquire_async(step.kind))
    try:
        return await asyncio.shield(asking)
    except asyncio.CancelledError:
        # Cancelled while the answer was on its way: a slot it brings is given back.
        asking.add_done_callback(lambda done: _give_back_later(limiter, done))
        raise


def _give_back_later(limiter: AsyncSlotLimiter, done: asyncio.Future[Slot | float]) -> None:
    if done.cancelled() or done.exception() is not None or not isinstance(done.result(), Slot):
        return
    task = asyncio.ensure_future(limiter.finished_async(done.result()))  # type: ignore[arg-type]
    _background.add(task)
    task.add_done_callback(_background.discard)


def release(permit: Permit) -> None:
    permit.limiter.finished(permit.slot)


async def arelease(permit: Permit) -> None:
    limiter = permit.limiter
    if isinstance(limiter, AsyncSlotLimiter):
        # Shielded: a caller cancelled in flight still gives its slot back.
        await asyncio.shield(limiter.finished_async(permit.slot))
    else:
        limiter.finished(permit.slot)


class RateLimiter:
    def __init__(self, limit: int, period: float, clock: Clock) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("rate_limit must be (requests >= 1, seconds > 0)")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._slots: list[Slot] = []
        self._not_before = -math.inf
        self._lock = threading.Lock()

    def _live(self, now: float) -> list[Slot]:
        self._slots = [s for s in self._slots if s.at > now - self.period]
        return self._slots

    def acquire(self, kind: Kind = "poll") -> Slot | float:
        """One budget for every kind of request."""
        with self._lock:
            now = self._clock.monotonic()
            if now < self._not_before:
                return self._not_before - now
            live = self._live(now)
            if len(live) < self.limit:
                slot = Slot()
                live.append(slot)
                return slot
            oldest = min(s.at for s in live)
            # The earliest a slot can free up; every slot in flight: a whole period from now.
            wait = self.period if math.isinf(oldest) else oldest + self.period - now
            return max(wait, 1e-3)

    def finished(self, slot: Slot) -> None:
        with self._lock:
            slot.at = min(slot.at, self._clock.monotonic())

    def reserve(self, kind: Kind = "poll") -> float:
        """The `Limiter` way: take the earliest free send time, counted from the send (for
        callers that cannot report the answer, such as a fallback of a shared limiter)."""
        with self._lock:
            now = self._clock.monotonic()
            live = self._live(now)
            at = max(now, self._not_before)
            if len(live) >= self.limit:
                ordered = sorted(s.at for s in live)
                at = max(at, ordered[-self.limit] + self.period)
                if math.isinf(at):  # every slot in flight
                    at = now + self.period
            live.append(Slot(at))
            return at - now

    def back_off(self, seconds: float) -> None:
        with self._lock:
            self._not_before = max(self._not_before, self._clock.monotonic() + seconds)

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self.limit}, period={self.period})"
