"""Waiting that listens: `wait()` returns on the first of a verified callback or a poll.

Give a client a notifier (`KieClient(notifier=...)`) and have your receiver publish each
verified event to the same notifier (`notifier.publish(event.task_id, event.stage)`). Then
`wait()` polls once at once, sleeps until the task's final callback (complete or error)
arrives, and confirms it with one more poll; polling drops to a safety net of one poll per
`safety_poll` seconds (60) per task. The callback only wakes the waiter: the result always comes
from KIE's record-info, never from the callback's body (which KIE does not sign).

- `LocalNotifier`: receiver and waiters in one process (threads or asyncio tasks).
- `kie_instrumental.redis_backend.RedisNotifier`: receivers and waiters in any processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["DEFAULT_SAFETY_POLL", "LocalNotifier", "Notifier", "wakes"]

DEFAULT_SAFETY_POLL = 60.0
_PROGRESS_STAGES = frozenset({"text", "first"})


def wakes(stage: str) -> bool:
    """Whether a callback of `stage` should wake a waiter: the final ones (complete, error) and
    any stage this version does not know (one extra poll at worst)."""
    return stage not in _PROGRESS_STAGES


class Notifier(Protocol):
    safety_poll: float

    def publish(self, task_id: str, stage: str) -> None:
        """A verified callback for `task_id` arrived."""
        ...

    def wait_any(self, task_ids: Sequence[str], timeout: float) -> str | None:
        """Block up to `timeout` seconds; return the first of `task_ids` whose waking callback
        arrived (also one that arrived before this call and was not consumed yet), else None.
        `wait()` waits for one task, `wait_all()` / `as_completed()` for any of theirs."""
        ...

    async def await_any(self, task_ids: Sequence[str], timeout: float) -> str | None:
        """wait_any() for asyncio: never blocks the event loop."""
        ...


class LocalNotifier:
    """In-process notifications: remembers up to `remember` unconsumed task ids, so a callback
    arriving between two waits is not missed."""

    def __init__(self, *, safety_poll: float = DEFAULT_SAFETY_POLL, remember: int = 10_000) -> None:
        if safety_poll <= 0:
            raise ValueError("safety_poll must be > 0 seconds")
        self.safety_poll = safety_poll
        self._remember = remember
        self._arrived: OrderedDict[str, None] = OrderedDict()
        self._waiters: dict[str, list[Callable[[str], None]]] = {}
        self._lock = threading.Lock()

    def publish(self, task_id: str, stage: str) -> None:
        if not wakes(stage):
            return
        with self._lock:
            self._arrived[task_id] = None
            self._arrived.move_to_end(task_id)
            while len(self._arrived) > self._remember:
                self._arrived.popitem(last=False)
            waiters = self._waiters.pop(task_id, [])
        for wake in waiters:
            wake(task_id)

    async def publish_async(self, task_id: str, stage: str) -> None:
        """publish() for an async receiver's handler (RedisNotifier awaits Redis there)."""
        self.publish(task_id, stage)

    def _listen(self, task_ids: Sequence[str], wake: Callable[[str], None]) -> str | None:
        """Register `wake` for each task; a task whose notification was already there instead
        (consumed now)."""
        with self._lock:
            for task_id in task_ids:
                if task_id in self._arrived:
                    del self._arrived[task_id]
                    return task_id
            for task_id in task_ids:
                self._waiters.setdefault(task_id, []).append(wake)
            return None

    def _forget(
        self, task_ids: Sequence[str], wake: Callable[[str], None], woken: str | None
    ) -> None:
        with self._lock:
            for task_id in task_ids:
                waiters = self._waiters.get(task_id, [])
                if wake in waiters:
                    waiters.remove(wake)
                    if not waiters:
                        del self._waiters[task_id]
            if woken is not None:
                self._arrived.pop(woken, None)

    def wait_any(self, task_ids: Sequence[str], timeout: float) -> str | None:
        event = threading.Event()
        woken: list[str] = []

        def wake(task_id: str) -> None:
            woken.append(task_id)
            event.set()

        early = self._listen(task_ids, wake)
        if early is not None:
            return early
        event.wait(max(0.0, timeout))
        first = woken[0] if woken else None
        self._forget(task_ids, wake, first)
        return first

    def wait(self, task_id: str, timeout: float) -> bool:
        """wait_any() for one task: True if its callback arrived."""
        return self.wait_any((task_id,), timeout) is not None

    async def await_any(self, task_ids: Sequence[str], timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        woke = asyncio.Event()
        woken: list[str] = []

        def wake(task_id: str) -> None:  # may run on a receiver's thread
            woken.append(task_id)
            loop.call_soon_threadsafe(woke.set)

        early = self._listen(task_ids, wake)
        if early is not None:
            return early
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woke.wait(), max(0.0, timeout))
        finally:
            first = woken[0] if woken else None
            self._forget(task_ids, wake, first)
        return first

    async def await_(self, task_id: str, timeout: float) -> bool:
        return await self.await_any((task_id,), timeout) is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(safety_poll={self.safety_poll:g})"
