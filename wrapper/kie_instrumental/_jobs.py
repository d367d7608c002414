"""Journaled jobs: the create, wait and download flow with each step recorded, written once as
a generator of client calls that the sync and async clients drive (`Call` -> the client's own
method, its result or KieError sent back)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Generator, Mapping
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


JobFlow = Generator[Call, Any, Job]
_UNRESOLVED = ("submitting", "unknown")


def new_job_key() -> str:
    return uuid.uuid4().hex


def _current(journal: Journal, key: str) -> Job:
    job = journal.get(key)
    assert job is not None, key
    return job


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
    journal.begin(key, request)
    return (yield from finish(journal, key, download_to, timeout))


def finish(
    journal: Journal, key: str, download_to: str | os.PathLike[str] | None, timeout: float
) -> JobFlow:
    """Take the job from wherever its journal says it stopped to done, failed or rejected.
    A `pending` job is sent (it never was); an unresolved one (`submitting`, `unknown`) is
    left as it is; a created one is waited for and downloaded."""
    job = _current(journal, key)
    if job.state == "pending" and journal.transition(key, ("pending",), "submitting"):
        try:
            task = yield Call("add_instrumental", kwargs=job.request)
        except KieError as exc:
            state = "unknown" if may_have_created_task(exc) else "rejected"
            journal.transition(key, _UNRESOLVED, state, error=str(exc))
            raise
        try:
            # "unknown" too: a resume elsewhere may have judged this live create unresolved.
            journal.transition(key, _UNRESOLVED, "created", task_id=task.task_id)
        except Exception as exc:  # the journal is down: the paid task's id must not be lost
            log.error("job %s: task %s created, the journal did not record it", key, task.task_id)
            exc.add_note(f"task {task.task_id} was created for job {key}; keep its id")
            raise
    job = _current(journal, key)
    if job.state in ("submitting", "unknown"):
        journal.transition(key, ("submitting",), "unknown")
        log.warning("job %s: the create's outcome is unknown; not sent again", key)
        return _current(journal, key)
    if job.state != "created" or job.task_id is None:
        return job

    def progress(details: TaskDetails) -> None:
        journal.update(key, task_status=str(details.status))

    try:
        # The task is read on the route that created it (journaled with the request).
        options = {"timeout": timeout, "on_progress": progress, "route": job.request.get("route")}
        details = yield Call("wait", (job.task_id,), options)
    except TaskFailedError as exc:
        journal.transition(key, ("created",), "failed", task_status=str(exc.status), error=str(exc))
        return _current(journal, key)
    files: list[str] = []
    if download_to is not None:
        paths = yield Call("download", (details, Path(download_to) / key))
        files = [str(p) for p in paths]
        journal.update(key, files=files)
    journal.transition(key, ("created",), "done", task_status=str(details.status))
    return _current(journal, key)


def resume(
    journal: Journal, download_to: str | os.PathLike[str] | None, timeout: float
) -> Generator[Call, Any, list[Job]]:
    """Finish every unfinished job; one job's error is recorded and the others go on."""
    keys = [job.key for job in journal.unfinished()]
    for key in keys:
        try:
            yield from finish(journal, key, download_to, timeout)
        except KieError as exc:
            log.warning("job %s: %s", key, exc)
            journal.update(key, error=str(exc))
    return [_current(journal, key) for key in keys]
