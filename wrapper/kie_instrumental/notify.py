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
from collections.abc import Callable
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

    def wait(self, task_id: str, timeout: float) -> bool:
        """Block up to `timeout` seconds; True as soon as a waking callback for `task_id`
        arrived (also one that arrived before this call and was not consumed yet)."""
        ...

    async def await_(self, task_id: str, timeout: float) -> bool:
        """wait() for asyncio."""
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
        self._waiters: dict[str, list[Callable[[], None]]] = {}
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
            wake()

    def _listen(self, task_id: str, wake: Callable[[], None]) -> bool:
        """Register `wake`; False if a notification was already there (consumed now)."""
        with self._lock:
            if self._arrived.pop(task_id, 0) is None:
                return False
            self._waiters.setdefault(task_id, []).append(wake)
            return True

    def _forget(self, task_id: str, wake: Callable[[], None], woken: bool) -> None:
        with self._lock:
            waiters = self._waiters.get(task_id, [])
            if wake in waiters:
                waiters.remove(wake)
                if not waiters:
                    del self._waiters[task_id]
            if woken:
                self._arrived.pop(task_id, None)

    def wait(self, task_id: str, timeout: float) -> bool:
        event = threading.Event()
        if not self._listen(task_id, event.set):
            return True
        woken = event.wait(max(0.0, timeout))
        self._forget(task_id, event.set, woken)
        return woken

    async def await_(self, task_id: str, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        woke = asyncio.Event()

        def wake() -> None:  # may run on a receiver's thread
            loop.call_soon_threadsafe(woke.set)

        if not self._listen(task_id, wake):
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woke.wait(), max(0.0, timeout))
        self._forget(task_id, wake, woke.is_set())
        return woke.is_set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(safety_poll={self.safety_poll:g})"
