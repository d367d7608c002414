"""Virtual time for concurrency tests: time advances only when every participant sleeps.

A plain fake clock that jumps forward on each sleep is wrong for concurrent sleepers: one
task's sleep would move time for the others while they are still working. These clocks advance
to the earliest wake-up only when nobody can run, like a simulation.
"""

from __future__ import annotations

import asyncio
import heapq
import threading


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer whenever nothing is ready to run.
    (It reads the loop's `_ready` and `_scheduled` queues, stable since Python 3.4.)"""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 1000.0

    def time(self) -> float:
        return self._virtual_now

    def _run_once(self) -> None:
        ready = self._ready  # type: ignore[attr-defined]
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if not ready and scheduled:
            self._virtual_now = max(self._virtual_now, scheduled[0].when())
        super()._run_once()  # type: ignore[misc]


class LoopClock:
    """A client Clock reading the running loop's (virtual) time."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def time(self) -> float:
        return 1_700_000_000.0 + self.monotonic()

    def sleep(self, seconds: float) -> None:
        raise AssertionError("LoopClock is for async clients")

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ThreadVirtualClock:
    """A client Clock for `participants` threads: time advances to the earliest wake-up only
    when all of them are asleep or done. Each thread calls `done()` when it finishes."""

    def __init__(self, participants: int) -> None:
        self._now = 1000.0
        self._active = participants
        self._wakes: list[float] = []
        self._cond = threading.Condition()

    def monotonic(self) -> float:
        with self._cond:
            return self._now

    def time(self) -> float:
        return 1_700_000_000.0 + self.monotonic()

    def sleep(self, seconds: float) -> None:
        with self._cond:
            target = self._now + max(0.0, seconds)
            heapq.heappush(self._wakes, target)
            self._active -= 1
            self._advance_if_idle()
            while self._now < target:
                self._cond.wait()

    async def asleep(self, seconds: float) -> None:
        raise AssertionError("ThreadVirtualClock is for sync clients")

    def done(self) -> None:
        with self._cond:
            self._active -= 1
            self._advance_if_idle()

    def _advance_if_idle(self) -> None:
        # Sleepers due are counted active at once, before they wake: otherwise time could
        # advance again between this notify and their getting the lock.
        if self._active == 0 and self._wakes:
            self._now = max(self._now, self._wakes[0])
            while self._wakes and self._wakes[0] <= self._now:
                heapq.heappop(self._wakes)
                self._active += 1
            self._cond.notify_all()


class ScriptedNotifier:
    """A notifier on a FakeClock: the callback of each task in `arrivals` arrives that many
    seconds after it was made. `wait_any` moves the clock to the first arrival among the
    tasks asked for, or by its whole timeout when none comes (as a real one blocks);
    `asked` records each (task ids, timeout)."""

    def __init__(self, clock, arrivals: dict[str, float], safety_poll: float = 60.0) -> None:
        self.clock, self.safety_poll = clock, safety_poll
        self.due = {task: clock.monotonic() + at for task, at in arrivals.items()}
        self.asked: list[tuple[tuple[str, ...], float]] = []

    def publish(self, task_id: str, stage: str) -> None:
        self.due[task_id] = self.clock.monotonic()

    def wait_any(self, task_ids, timeout: float) -> str | None:
        self.asked.append((tuple(task_ids), timeout))
        now = self.clock.monotonic()
        arrived = sorted((self.due[t], t) for t in task_ids if t in self.due)
        if not arrived or arrived[0][0] > now + timeout:
            self.clock.advance(timeout)
            return None
        at, task_id = arrived[0]
        del self.due[task_id]
        self.clock.advance(max(0.0, at - now))
        return task_id

    async def await_any(self, task_ids, timeout: float) -> str | None:
        return self.wait_any(task_ids, timeout)
