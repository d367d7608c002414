"""Tasks and their lifecycle: PENDING -> TEXT_SUCCESS -> FIRST_SUCCESS -> SUCCESS, one stage
every `stage_seconds` of the clock, or a failure status from FIRST_SUCCESS on. Shared by every
route that creates tasks."""

from __future__ import annotations

import collections
import secrets
import threading
from typing import Any

import attrs

from .._clock import Clock

STAGES = ("PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS")
FAILURE_CODES = {
    "GENERATE_AUDIO_FAILED": 501,
    "SENSITIVE_WORD_ERROR": 400,
    "CREATE_TASK_FAILED": 500,
}
FAILS_AT = STAGES.index("FIRST_SUCCESS")  # a failing task fails here


@attrs.define
class FakeTask:
    task_id: str
    request: dict[str, Any]
    created: float  # the clock's monotonic time
    created_ms: int  # the clock's wall time, epoch milliseconds as KIE reports it
    fail_with: str | None = None
    status_override: str | None = None
    route: str = "legacy"  # the route that created it, and the only one that knows it
    callbacks: list[tuple[str, str]] = attrs.Factory(list)  # (stage, outcome)


class Lifecycle:
    """Creates tasks (charging credits) and tells each task's status from the clock."""

    def __init__(
        self, *, stage_seconds: float, credits: float | None, task_cost: float, clock: Clock
    ) -> None:
        self.stage_seconds = stage_seconds
        self.credits = credits
        self.task_cost = task_cost
        self.clock = clock
        self.tasks: dict[str, FakeTask] = {}
        self.next_failures: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()

    def create(self, request: dict[str, Any]) -> FakeTask | None:
        """A new task, or None when the credits do not cover it."""
        with self._lock:
            if self.credits is not None:
                if self.credits < self.task_cost:
                    return None
                self.credits -= self.task_cost
            task = FakeTask(
                task_id=secrets.token_hex(16),
                request=request,
                created=self.clock.monotonic(),
                created_ms=int(self.clock.time() * 1000),
                fail_with=self.next_failures.popleft() if self.next_failures else None,
            )
            self.tasks[task.task_id] = task
        return task

    def status_of(self, task: FakeTask) -> str:
        if task.status_override is not None:
            return task.status_override
        stage = self.stage_index(task)
        if task.fail_with is not None and stage >= FAILS_AT:
            return task.fail_with
        return STAGES[stage]

    def stage_index(self, task: FakeTask) -> int:
        if self.stage_seconds <= 0:
            return len(STAGES) - 1
        elapsed = self.clock.monotonic() - task.created
        return min(len(STAGES) - 1, int(elapsed // self.stage_seconds))

    async def sleep_until_stage(self, task: FakeTask, index: int) -> None:
        """Sleep on the clock until `task` reaches STAGES[index]."""
        await self.clock.asleep(task.created + index * self.stage_seconds - self.clock.monotonic())
