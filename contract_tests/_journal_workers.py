"""Journal workers for crash tests: each runs in its own OS process (spawned) and, at one point
of the create flow, kills itself with SIGKILL: no cleanup, no finally, like a crashed host."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

from kie_instrumental import KieClient, PollSchedule
from kie_instrumental.journal import Job, Journal, SQLiteJournal
from kie_instrumental.redis_backend import RedisJournal

# Where a worker dies; each is checked just before (or after) the journal write it names.
POINTS = (
    "before_post",  # journaled, create not sent: resume sends it
    "sending",  # marked submitting, create not sent: unknowable, stays unknown
    "after_post",  # created at KIE, task id not stored: its callback resolves it
    "waiting",  # task id stored, waiting for the result
    "downloading",  # files downloaded, not yet recorded
)

FAST_POLLS = PollSchedule(first=0.2, factor=1.0, cap=0.2)


def open_journal(spec: Sequence[str]) -> Journal:
    if spec[0] == "sqlite":
        return SQLiteJournal(spec[1])
    return RedisJournal(spec[1], prefix=spec[2])


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAt:
    """A journal that SIGKILLs its process at `point`."""

    def __init__(self, inner: Journal, point: str) -> None:
        self.inner = inner
        self.point = point

    def begin(self, key: str, request: Any) -> Job:
        return self.inner.begin(key, request)

    def transition(self, key: str, expected: Sequence[str], state: str, **fields: Any) -> bool:
        if self.point == "before_post" and state == "submitting":
            _die()
        if self.point == "after_post" and state == "created":
            _die()
        moved = self.inner.transition(key, expected, state, **fields)
        if self.point == "sending" and state == "submitting":
            _die()
        return moved

    def update(self, key: str, **fields: Any) -> None:
        if self.point == "waiting" and "task_status" in fields:
            _die()
        if self.point == "downloading" and "files" in fields:
            _die()
        self.inner.update(key, **fields)

    def get(self, key: str) -> Job | None:
        return self.inner.get(key)

    def unfinished(self) -> list[Job]:
        return self.inner.unfinished()


def run_and_die(
    spec: Sequence[str],
    point: str,
    base_url: str,
    api_key: str,
    callback_url: str,
    download_to: str,
    job_key: str,
) -> None:
    journal = KillAt(open_journal(spec), point)
    with KieClient(
        api_key,
        base_url=base_url,
        poll_schedule=FAST_POLLS,
        allow_private_downloads=True,
        rate_limit=None,
    ) as kie:
        kie.run_job(
            journal,
            job_key=job_key,
            download_to=download_to,
            timeout=30,
            upload_url="https://example.com/vocals.mp3",
            title="Night Drive",
            tags="piano",
            negative_tags="drums",
            callback_url=callback_url,
        )


def resume_in_process(spec: Sequence[str], base_url: str, api_key: str, download_to: str) -> None:
    with KieClient(
        api_key,
        base_url=base_url,
        poll_schedule=FAST_POLLS,
        allow_private_downloads=True,
        rate_limit=None,
    ) as kie:
        kie.resume(open_journal(spec), download_to=download_to, timeout=30)
