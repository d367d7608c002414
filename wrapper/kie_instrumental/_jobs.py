"""Journaled jobs: the create, wait and download flow with each step recorded, written once as
a generator that the sync and async clients drive: `Call` -> the client's own method (its
result, or its KieError thrown back); `Record` -> the journal (its result, or its exception
thrown back). The sync client calls the journal; the async one awaits its `<method>_async`
twin when it has one (RedisJournal: redis.asyncio), else runs it in a worker thread
(SQLiteJournal), so a journal never blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Coroutine, Generator, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._errors import KieError, TaskFailedError
from ._models import TaskDetails
from ._retry import may_have_created_task
from .journal import Job, Journal, with_job_key

log = logging.getLogger("kie_instrumental")


@attrs.frozen
class Call:
    """Ask the driver to run `client.<method>(*args, **kwargs)` and send back its result."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Record:
    """Ask the driver to run `target.<method>(*args, **kwargs)` and send back its result;
    `target` is a journal, or anything else that may do I/O (a batch's claims)."""

    target: object
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


def record(target: object, method: str, *args: Any, **kwargs: Any) -> Record:
    """The step `target.<method>(*args, **kwargs)`."""
    return Record(target, method, args, kwargs)


def perform(step: Record) -> Any:
    return getattr(step.target, step.method)(*step.args, **step.kwargs)


async def aperform(step: Record) -> Any:
    twin = getattr(step.target, f"{step.method}_async", None)
    if twin is not None:
        return await twin(*step.args, **step.kwargs)
    return await asyncio.to_thread(perform, step)


@attrs.frozen
class Recording:
    """wait()'s on_progress: each status change is recorded. The driver turns it into a
    callback (`sync` / `async_`)."""

    journal: Journal
    key: str

    def step(self, details: TaskDetails) -> Record:
        return record(self.journal, "update", self.key, task_status=str(details.status))

    def sync(self) -> Callable[[TaskDetails], Any]:
        return lambda details: perform(self.step(details))

    def async_(self) -> Callable[[TaskDetails], Coroutine[Any, Any, Any]]:
        return lambda details: aperform(self.step(details))


Step = Call | Record
JobFlow = Generator[Step, Any, Job]
_UNRESOLVED = ("submitting", "unknown")


def new_job_key() -> str:
    return uuid.uuid4().hex


def _current(journal: Journal, key: str) -> Generator[Step, Any, Job]:
    job = yield record(journal, "get", key)
    assert job is not None, key
    return job  # type: ignore[no-any-return]


def run_job(
    journal: Journal,
    key: str,
    fields: Mapping[str, Any],
    download_to: str | os.PathLike[str] | None,
    timeout: float,
) -> JobFlow:
    """Journal the intent, then finish the job (see `finish`)."""
    request = dict(fields)
    if request.get("callback_url"):
        request["callback_url"] = with_job_key(str(request["callback_url"]), key)
    yield record(journal, "begin", key, request)
    return (yield from finish(journal, key, download_to, timeout))


def finish(
    journal: Journal, key: str, download_to: str | os.PathLike[str] | None, timeout: float
) -> JobFlow:
    """Take the job from wherever its journal says it stopped to done, failed or rejected.
    A `pending` job is sent (it never was); an unresolved one (`submitting`, `unknown`) is
    left as it is; a created one is waited for and downloaded."""

    def transition(expected: tuple[str, ...], state: str, **fields: Any) -> Record:
        return record(journal, "transition", key, expected, state, **fields)

    job = yield from _current(journal, key)
    if job.state == "pending" and (yield transition(("pending",), "submitting")):
        try:
            task = yield Call("add_instrumental", kwargs=job.request)
        except KieError as exc:
            state = "unknown" if may_have_created_task(exc) else "rejected"
            yield transition(_UNRESOLVED, state, error=str(exc))
            raise
        try:
            # "unknown" too: a resume elsewhere may have judged this live create unresolved.
            recorded = yield transition(_UNRESOLVED, "created", task_id=task.task_id)
        except Exception as exc:  # the journal is down: the paid task's id must not be lost
            log.error("job %s: task %s created, the journal did not record it", key, task.task_id)
            exc.add_note(f"task {task.task_id} was created for job {key}; keep its id")
            raise
        if not recorded:
            # Resolved meanwhile by an earlier create's callback (a resubmission raced it): the
            # job goes on with that task, and this paid one's id is kept in its record and log.
            yield from _second_task(journal, key, task.task_id)
    job = yield from _current(journal, key)
    if job.state in ("submitting", "unknown"):
        yield transition(("submitting",), "unknown")
        log.warning("job %s: the create's outcome is unknown; not sent again", key)
        return (yield from _current(journal, key))
    if job.state != "created" or job.task_id is None:
        return job
    try:
        # The task is read on the route that created it (journaled with the request).
        options = {
            "timeout": timeout,
            "on_progress": Recording(journal, key),
            "route": job.request.get("route"),
        }
        details = yield Call("wait", (job.task_id,), options)
    except TaskFailedError as exc:
        yield transition(("created",), "failed", task_status=str(exc.status), error=str(exc))
        return (yield from _current(journal, key))
    files: list[str] = []
    if download_to is not None:
        paths = yield Call("download", (details, Path(download_to) / key))
        files = [str(p) for p in paths]
        yield record(journal, "update", key, files=files)
    yield transition(("created",), "done", task_status=str(details.status))
    return (yield from _current(journal, key))


def _second_task(journal: Journal, key: str, task_id: str) -> Generator[Step, Any, None]:
    job = yield from _current(journal, key)
    if job.task_id == task_id:
        return
    note = f"a second task {task_id} was created and paid for; the job uses {job.task_id}"
    log.error("job %s: %s", key, note)
    yield record(journal, "update", key, error=note)


def resume(
    journal: Journal, download_to: str | os.PathLike[str] | None, timeout: float
) -> Generator[Step, Any, list[Job]]:
    """Finish every unfinished job; one job's error is recorded and the others go on."""
    jobs: list[Job] = yield record(journal, "unfinished")
    keys = [job.key for job in jobs]
    for key in keys:
        try:
            yield from finish(journal, key, download_to, timeout)
        except KieError as exc:
            log.warning("job %s: %s", key, exc)
            yield record(journal, "update", key, error=str(exc))
    ended: list[Job] = []
    for key in keys:
        ended.append((yield from _current(journal, key)))
    return ended
