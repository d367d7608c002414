"""A worker killed with SIGKILL at each point of the create flow, then `resume`: every job ends
done exactly once, FakeKie received one create per job that reached it, nothing is lost or paid
twice, and the one crash whose outcome is unknowable leaves its job `unknown`, not resubmitted.

`make test` runs every point on SQLite with a sync resume; `make test-crash` runs the full
matrix (points x SQLite/Redis x sync/async resume)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _journal_workers import FAST_POLLS, POINTS, open_journal, run_and_die
from _redis_server import RedisServer
from kie_instrumental import AsyncKieClient, KieClient, receivers
from kie_instrumental.journal import Job, job_key_from, record_callback
from kie_instrumental.receivers import CALLBACK_PATH
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread

FULL = os.environ.get("KIE_CRASH_MATRIX") == "full"
SPAWN = multiprocessing.get_context("spawn")
CASES = [
    (point, backend, flavour)
    for point in POINTS
    for backend in ("sqlite", "redis")
    for flavour in ("sync", "async")
    if FULL or (backend, flavour) == ("sqlite", "sync")
]


def receiver(spec: tuple[str, ...], secret: str) -> Any:
    """The library's own receiver; its handler gives each verified event (with the job key of
    its URL's query) to the journal."""
    return receivers.starlette_app(secret, lambda event: record_callback(open_journal(spec), event))


@pytest.fixture
def fake() -> Iterator[tuple[FakeKie, str]]:
    fake = FakeKie(rate_limit=None, stage_seconds=0.3, callbacks="loopback")
    with serve_in_thread(fake.app) as base_url:
        yield fake, base_url


@pytest.mark.parametrize(("point", "backend", "flavour"), CASES)
def test_killed_at_each_point_then_resumed(
    point: str,
    backend: str,
    flavour: str,
    fake: tuple[FakeKie, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    kie, base_url = fake
    if backend == "sqlite":
        spec: tuple[str, ...] = ("sqlite", str(tmp_path / "jobs.sqlite3"))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        spec = ("redis", server.url, request.getfixturevalue("redis_prefix"))
    journal = open_journal(spec)
    out = tmp_path / "out"
    with serve_in_thread(receiver(spec, kie.webhook_secret)) as receiver_url:
        worker = SPAWN.Process(
            target=run_and_die,
            args=(spec, point, base_url, kie.api_key, f"{receiver_url}{CALLBACK_PATH}", str(out)),
            kwargs={"job_key": "job-1"},
        )
        worker.start()
        worker.join(60)
        if worker.is_alive():
            worker.kill()
            worker.join(10)
        assert worker.exitcode == -signal.SIGKILL
        if point == "after_post":
            _until(lambda: _job(journal).task_id is not None)  # the callback brings the id
        jobs = _resume(flavour, spec, base_url, kie.api_key, out)

    created = len(kie.tasks)
    job = _job(journal)
    assert [j.key for j in jobs] == ["job-1"] and jobs[0] == job
    if point == "sending":  # the create may or may not have left: never sent again
        assert (job.state, job.task_id, created) == ("unknown", None, 0)
        return
    assert created == 1  # paid once, never twice
    assert (job.state, job.task_id) == ("done", next(iter(kie.tasks)))
    assert len(job.files) == 2 and all(Path(f).is_file() for f in job.files)
    assert job_key_from(kie.tasks[job.task_id].request["callBackUrl"]) == "job-1"


def _job(journal: object) -> Job:
    job = journal.get("job-1")  # type: ignore[attr-defined]
    assert job is not None
    return job


def _until(condition: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _resume(flavour: str, spec: tuple[str, ...], base_url: str, key: str, out: Path) -> list[Job]:
    journal = open_journal(spec)
    if flavour == "sync":
        with KieClient(
            key, base_url=base_url, poll_schedule=FAST_POLLS, allow_private_downloads=True
        ) as client:
            return client.resume(journal, download_to=out, timeout=30)

    async def run() -> list[Job]:
        async with AsyncKieClient(
            key, base_url=base_url, poll_schedule=FAST_POLLS, allow_private_downloads=True
        ) as client:
            return await client.resume(journal, download_to=out, timeout=30)

    return asyncio.run(run())
