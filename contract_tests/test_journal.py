"""The task journal (SQLite and Redis): what is recorded before and after the paid create,
states moving only by compare-and-set, the job key in the callback URL, ambiguous creates left
`unknown`, and `resume` sending a pending job exactly once even with several processes."""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _journal_workers import FAST_POLLS, open_journal, resume_in_process
from _records import record, suno_track
from _redis_server import RedisServer
from _support import BASE_URL, CREATE_PATH, RECORD_PATH
from kie_instrumental import (
    AsyncKieClient,
    InvalidRequestError,
    KieClient,
    ServerError,
    WaitTimeoutError,
)
from kie_instrumental._cli import main
from kie_instrumental.journal import (
    FINISHED,
    JOB_KEY_PARAM,
    Job,
    Journal,
    SQLiteJournal,
    job_key_from,
    record_callback,
    with_job_key,
)
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread
from kie_instrumental.webhooks import CallbackEvent

SPAWN = multiprocessing.get_context("spawn")
FIELDS: dict[str, Any] = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "Night Drive",
    "tags": "piano",
    "negative_tags": "drums",
    "callback_url": "https://example.com/kie/callback?team=a",
}


@pytest.fixture(params=["sqlite", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ...]:
    if request.param == "sqlite":
        return ("sqlite", str(tmp_path / "jobs.sqlite3"))
    server: RedisServer = request.getfixturevalue("redis_server")
    return ("redis", server.url, request.getfixturevalue("redis_prefix"))


@pytest.fixture
def journal(spec: tuple[str, ...]) -> Journal:
    return open_journal(spec)


@pytest.fixture
def fake_url() -> Iterator[tuple[FakeKie, str]]:
    fake = FakeKie(rate_limit=None, stage_seconds=0.05, callbacks="off")
    with serve_in_thread(fake.app) as base_url:
        yield fake, base_url


def creates(fake: FakeKie) -> int:
    creating = ("/generate/add-instrumental", "/jobs/createTask")  # both routes
    return sum(method == "POST" and path.endswith(creating) for method, path in fake.requests)


def test_states_move_only_from_the_expected_ones(journal: Journal) -> None:
    job = journal.begin("job-1", {"title": "a"})
    assert (job.state, job.request, job.task_id) == ("pending", {"title": "a"}, None)
    assert journal.begin("job-1", {"title": "other"}).request == {"title": "a"}  # kept as is
    assert journal.transition("job-1", ("pending",), "submitting")
    assert not journal.transition("job-1", ("pending",), "submitting")  # a second resumer
    assert journal.transition("job-1", ("submitting", "unknown"), "created", task_id="t1")
    journal.update("job-1", task_status="FIRST_SUCCESS", files=["a.mp3", "b.mp3"])
    job = journal.get("job-1")
    assert job is not None
    assert (job.state, job.task_id, job.task_status, job.files) == (
        "created",
        "t1",
        "FIRST_SUCCESS",
        ("a.mp3", "b.mp3"),
    )
    assert [j.key for j in journal.unfinished()] == ["job-1"]
    assert journal.transition("job-1", ("created",), "done")
    assert journal.unfinished() == [] and journal.get("missing") is None


def test_the_job_key_rides_in_the_callback_query() -> None:
    url = with_job_key("https://me.example/kie?team=a&kie_job=old", "job 1/x")
    assert url.startswith("https://me.example/kie?team=a&kie_job=")
    assert job_key_from(url) == "job 1/x"
    assert job_key_from("team=a") is None


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_run_job_journals_every_step(
    flavour: str, journal: Journal, fake_url: tuple[FakeKie, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    seen: list[tuple[str, str | None]] = []
    original = journal.transition

    def spy(key: str, expected: Any, state: str, **fields: Any) -> bool:
        seen.append((state, creates(fake) and fields.get("task_id")))
        return original(key, expected, state, **fields)

    journal.transition = spy  # type: ignore[method-assign]
    original_async = getattr(journal, "transition_async", None)
    if original_async is not None:  # what the async client awaits (redis.asyncio)

        async def aspy(key: str, expected: Any, state: str, **fields: Any) -> bool:
            seen.append((state, creates(fake) and fields.get("task_id")))
            return bool(await original_async(key, expected, state, **fields))

        journal.transition_async = aspy  # type: ignore[attr-defined]
    kwargs = {"job_key": "job-1", "download_to": tmp_path, "timeout": 30, **FIELDS}
    if flavour == "sync":
        with KieClient(
            fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS, allow_private_downloads=True
        ) as kie:
            job = kie.run_job(journal, **kwargs)
    else:

        async def run() -> Any:
            async with AsyncKieClient(
                fake.api_key,
                base_url=base_url,
                poll_schedule=FAST_POLLS,
                allow_private_downloads=True,
            ) as kie:
                return await kie.run_job(journal, **kwargs)

        job = asyncio.run(run())
    task = fake.tasks[job.task_id]
    # submitting was journaled before the POST, the task id right after it.
    assert seen[:2] == [("submitting", 0), ("created", job.task_id)]
    assert (job.state, job.task_status) == ("done", "SUCCESS")
    assert len(job.files) == 2 and all(Path(f).is_file() for f in job.files)
    assert all(Path(f).parent == tmp_path / "job-1" for f in job.files)
    assert job_key_from(task.request["callBackUrl"]) == "job-1"
    assert job.request["callback_url"] == task.request["callBackUrl"]
    # The same key again never pays twice: the finished job is returned as it is, unread.
    sent = len(fake.requests)
    with KieClient(fake.api_key, base_url=base_url) as kie:
        assert kie.run_job(journal, **kwargs) == journal.get("job-1")
    assert creates(fake) == 1 and len(fake.requests) == sent


def test_an_ambiguous_create_is_unknown_and_never_sent_again(
    journal: Journal, fake_url: tuple[FakeKie, str]
) -> None:
    fake, base_url = fake_url
    fake.fail_next(code=500)
    with KieClient(fake.api_key, base_url=base_url, max_retries=0) as kie:
        with pytest.raises(ServerError):
            kie.run_job(journal, job_key="job-1", **FIELDS)
        job = journal.get("job-1")
        assert job is not None and job.state == "unknown" and "500" in (job.error or "")
        [resumed] = kie.resume(journal)
    assert resumed.state == "unknown" and resumed.key == "job-1"
    assert creates(fake) == 1  # the failed one only


def test_a_refused_create_is_rejected(journal: Journal, fake_url: tuple[FakeKie, str]) -> None:
    fake, base_url = fake_url
    with KieClient(fake.api_key, base_url=base_url) as kie, pytest.raises(InvalidRequestError):
        kie.run_job(journal, job_key="job-1", **{**FIELDS, "title": "x" * 1000})
    job = journal.get("job-1")
    assert job is not None and job.state == "rejected" and journal.unfinished() == []


def test_a_callback_resolves_an_unknown_job_which_resume_finishes(
    journal: Journal, fake_url: tuple[FakeKie, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    with KieClient(
        fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS, allow_private_downloads=True
    ) as kie:
        task = kie.add_instrumental(**FIELDS)  # stands for a create whose answer was lost
        journal.begin("job-1", FIELDS)
        journal.transition("job-1", ("pending",), "unknown")
        event = CallbackEvent(task_id=task.task_id, stage="text", code=200, msg="ok")
        assert not record_callback(journal, event, None)
        assert record_callback(journal, event, "job-1")
        assert not record_callback(journal, event, "job-1")  # never re-pointed
        [job] = kie.resume(journal, download_to=tmp_path, timeout=30)
    assert (job.state, job.task_id, len(job.files)) == ("done", task.task_id, 2)
    assert creates(fake) == 1


def test_processes_resuming_together_send_each_pending_job_once(
    spec: tuple[str, ...], journal: Journal, fake_url: tuple[FakeKie, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    jobs = 6
    for n in range(jobs):
        journal.begin(f"job-{n}", FIELDS)
    run_processes(
        resume_in_process, [(spec, base_url, fake.api_key, str(tmp_path))] * 3, timeout=90
    )
    assert creates(fake) == jobs
    finished = [journal.get(f"job-{n}") for n in range(jobs)]
    assert all(job is not None and job.state == "done" for job in finished)


def run_processes(
    target: Callable[..., None], args: list[tuple[Any, ...]], timeout: float = 60
) -> list[int | None]:
    processes = [SPAWN.Process(target=target, args=a) for a in args]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    try:
        for process in processes:
            process.join(max(0.1, deadline - time.monotonic()))
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(10)
    codes = [p.exitcode for p in processes]
    assert codes == [0] * len(processes)
    return codes


def test_a_job_another_process_just_took_is_not_sent_twice(
    journal: Journal, fake_url: tuple[FakeKie, str]
) -> None:
    """The race the multi-process test can only hope to hit: this process read `pending`,
    another resumer took the job in between; only the state change decides who sends."""
    fake, base_url = fake_url
    stale = journal.begin("job-1", FIELDS)
    assert journal.transition("job-1", ("pending",), "submitting")  # the other process
    reads = iter([stale, stale])  # begin() reads it back, then the flow
    original_get = journal.get
    journal.get = lambda key: next(reads, None) or original_get(key)  # type: ignore[method-assign]
    with KieClient(fake.api_key, base_url=base_url) as kie:
        kie.run_job(journal, job_key="job-1", **FIELDS)
    assert creates(fake) == 0


def test_the_resume_command_finishes_jobs_and_names_the_unknown_ones(
    spec: tuple[str, ...],
    journal: Journal,
    fake_url: tuple[FakeKie, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, base_url = fake_url
    monkeypatch.setenv("KIE_API_KEY", fake.api_key)
    journal.begin("job-pending", FIELDS)
    journal.begin("job-unknown", FIELDS)
    journal.transition("job-unknown", ("pending",), "unknown")
    location = spec[1]
    prefix = ["--prefix", spec[2]] if spec[0] == "redis" else []
    code = main(["--base-url", base_url, "resume", "--journal", location, *prefix])
    lines = sorted(capsys.readouterr().out.splitlines())
    assert code == 12  # a job is left unknown: not resubmitted, named with its key
    assert lines[0].startswith("job-pending  done  ") and lines[1] == "job-unknown  unknown  -"
    assert creates(fake) == 1


def _fail_after_the_create(journal: Journal) -> None:
    """The journal becomes unreachable right after KIE created the task."""
    original = journal.transition

    def down_after_the_create(key: str, expected: Any, state: str, **fields: Any) -> bool:
        if state == "created":
            raise ConnectionError("journal unreachable")
        return original(key, expected, state, **fields)

    journal.transition = down_after_the_create  # type: ignore[method-assign]


def test_a_journal_failing_after_the_create_never_loses_the_task_id(
    journal: Journal, fake_url: tuple[FakeKie, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, base_url = fake_url
    _fail_after_the_create(journal)
    with KieClient(fake.api_key, base_url=base_url) as kie, pytest.raises(ConnectionError) as err:
        kie.run_job(journal, job_key="job-1", **FIELDS)
    [task_id] = fake.tasks
    assert any(task_id in note for note in err.value.__notes__)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"job job-1: task {task_id} created, the journal did not record it"]


def test_redis_down_the_journaled_create_is_never_sent(fake_url: tuple[FakeKie, str]) -> None:
    """No intent recorded, no paid create: the job fails before anything is spent."""
    from _redis_server import free_port
    from kie_instrumental.redis_backend import RedisJournal
    from redis import RedisError

    fake, base_url = fake_url
    journal = RedisJournal(f"redis://127.0.0.1:{free_port()}/0", redis_timeout=0.5)
    started = time.monotonic()
    with KieClient(fake.api_key, base_url=base_url) as kie, pytest.raises(RedisError):
        kie.run_job(journal, job_key="job-1", **FIELDS)
    assert creates(fake) == 0 and time.monotonic() - started < 5


def test_a_second_paid_task_racing_a_callback_keeps_its_id(
    journal: Journal,
    fake_url: tuple[FakeKie, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job sent again while an earlier create of it was still unresolved (the batch opt-in):
    that earlier create's callback arrives during the new create. The job goes on with the
    task the callback named; the second paid task's id is kept in the job and the log."""
    fake, base_url = fake_url
    journal.begin("job-1", FIELDS)

    class CallbackDuringCreate(KieClient):
        def add_instrumental(self, **fields: Any) -> Any:
            task = super().add_instrumental(**fields)
            event = CallbackEvent(task_id=first.task_id, stage="complete", code=200, msg="ok")
            assert record_callback(journal, event, "job-1")
            return task

    with CallbackDuringCreate(
        fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS, allow_private_downloads=True
    ) as kie:
        first = KieClient.add_instrumental(kie, **FIELDS)  # the earlier, unresolved create
        [job] = kie.resume(journal, download_to=tmp_path, timeout=30)
    [second] = [task_id for task_id in fake.tasks if task_id != first.task_id]
    assert (job.state, job.task_id) == ("done", first.task_id)
    note = f"a second task {second} was created and paid for; the job uses {first.task_id}"
    assert job.error == note
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"job job-1: {note}"]


def test_resume_records_one_jobs_error_and_finishes_the_others(
    fake_url: tuple[FakeKie, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, base_url = fake_url
    fake.stage_seconds = 0  # a task is done when first polled
    journal = SQLiteJournal(tmp_path / "jobs.sqlite3")
    with KieClient(fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS, max_retries=0) as kie:
        task = kie.add_instrumental(**FIELDS)
        journal.begin("job-1", FIELDS)
        assert journal.transition("job-1", ("pending",), "created", task_id=task.task_id)
        journal.begin("job-2", FIELDS)
        fake.fail_next(code=401)  # job-1's first poll is refused
        first, second = kie.resume(journal, timeout=30)
    assert (first.key, first.state, second.key, second.state) == (
        "job-1",
        "created",
        "job-2",
        "done",
    )
    assert first.error is not None and "401" in first.error  # kept for the next resume
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"job job-1: {first.error}"]


def test_the_async_client_awaits_a_journals_async_twins(
    fake_url: tuple[FakeKie, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    fake.stage_seconds = 0  # a task is done when first polled
    awaited: list[str] = []

    class AsyncJournal(SQLiteJournal):
        async def begin_async(self, key: str, request: Any) -> Any:
            awaited.append("begin")
            return self.begin(key, request)

        async def transition_async(self, *args: Any, **fields: Any) -> bool:
            awaited.append("transition")
            return self.transition(*args, **fields)

        async def update_async(self, key: str, **fields: Any) -> None:
            awaited.append("update")
            self.update(key, **fields)

        async def get_async(self, key: str) -> Any:
            awaited.append("get")
            return self.get(key)

    journal = AsyncJournal(tmp_path / "jobs.sqlite3")

    async def run() -> Any:
        async with AsyncKieClient(
            fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS, allow_private_downloads=True
        ) as kie:
            return await kie.run_job(
                journal, job_key="job-1", download_to=tmp_path, timeout=30, **FIELDS
            )

    job = asyncio.run(run())
    assert job.state == "done"
    assert set(awaited) == {"begin", "transition", "update", "get"}


def test_resume_leaves_an_unresolved_create_unknown_and_says_so(
    fake_url: tuple[FakeKie, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`submitting` (the process died around the POST) and `unknown` jobs: never sent again."""
    fake, base_url = fake_url
    journal = SQLiteJournal(tmp_path / "jobs.sqlite3")
    for key, state in (("job-s", "submitting"), ("job-u", "unknown")):
        journal.begin(key, FIELDS)
        assert journal.transition(key, ("pending",), state)
    with KieClient(fake.api_key, base_url=base_url) as kie:
        jobs = kie.resume(journal)
    assert [(job.key, job.state) for job in jobs] == [("job-s", "unknown"), ("job-u", "unknown")]
    assert fake.requests == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"job {key}: the create's outcome is unknown; not sent again" for key in ("job-s", "job-u")
    ]


def test_a_job_whose_wait_ran_out_keeps_the_last_status_seen(
    fake_url: tuple[FakeKie, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    fake.stage_seconds = 60  # the task stays at its first status
    journal = SQLiteJournal(tmp_path / "jobs.sqlite3")
    kie = KieClient(fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS)
    with kie, pytest.raises(WaitTimeoutError):
        kie.run_job(journal, job_key="job-1", timeout=0.6, **FIELDS)
    job = journal.get("job-1")
    assert job is not None and job.task_id is not None
    assert (job.state, job.task_status) == ("created", fake.status_of(fake.tasks[job.task_id]))


def test_a_resumed_job_is_read_on_the_route_that_created_it(
    fake_url: tuple[FakeKie, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    fake.stage_seconds = 0
    journal = SQLiteJournal(tmp_path / "jobs.sqlite3")
    with KieClient(fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS) as kie:
        task = kie.add_instrumental(**FIELDS, route="market")  # this client's route: legacy
        journal.begin("job-1", {"route": "market", **FIELDS})
        assert journal.transition("job-1", ("pending",), "created", task_id=task.task_id)
        [job] = kie.resume(journal, timeout=5)
    assert (job.state, job.task_status, job.error) == ("done", "SUCCESS", None)
    assert all("/jobs/" in path for method, path in fake.requests if method == "GET")


def test_a_failed_task_ends_its_job_failed_with_kies_status(
    fake_url: tuple[FakeKie, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    fake.stage_seconds = 0
    fake.fail_next_task("GENERATE_AUDIO_FAILED")
    journal = SQLiteJournal(tmp_path / "jobs.sqlite3")
    with KieClient(fake.api_key, base_url=base_url, poll_schedule=FAST_POLLS) as kie:
        job = kie.run_job(journal, job_key="job-1", download_to=tmp_path, **FIELDS)
    assert (job.state, job.task_status, job.files) == ("failed", "GENERATE_AUDIO_FAILED", ())
    assert job.error is not None and "GENERATE_AUDIO_FAILED" in job.error
    assert journal.unfinished() == []  # KIE's verdict: resume never waits for it again


# -- the SQLite journal itself (no server) -------------------------------------------------------


def test_the_sqlite_journal_keeps_every_field_and_lists_jobs_oldest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "jobs.sqlite3"
    journal = SQLiteJournal(str(path))
    assert journal.path == path and repr(journal) == f"SQLiteJournal({str(path)!r})"
    clock = iter([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    monkeypatch.setattr(time, "time", lambda: next(clock))
    first = journal.begin("job-b", {"title": "b", "tags": ["x"]})
    assert (first.state, first.updated_at, first.finished) == ("pending", 100.0, False)
    journal.begin("job-a", {"title": "a"})
    assert journal.transition(
        "job-b", ("pending",), "failed", task_id="t1", task_status="X", files=["f"], error="e"
    )
    journal.update("job-a", files=("1.mp3",), error="slow", task_status="TEXT_SUCCESS")
    monkeypatch.undo()
    b, a = journal.get("job-b"), journal.get("job-a")
    assert b == Job("job-b", "failed", {"title": "b", "tags": ["x"]}, "t1", "X", ("f",), "e", 102.0)
    assert a == Job(
        "job-a", "pending", {"title": "a"}, None, "TEXT_SUCCESS", ("1.mp3",), "slow", 103.0
    )
    assert b.finished and {"done", "failed", "rejected"} == FINISHED
    assert [job.key for job in journal.all()] == ["job-b", "job-a"]  # by creation, finished too
    assert [job.key for job in journal.unfinished()] == ["job-a"]
    # A transition from a state the job is not in writes nothing.
    assert not journal.transition("job-a", ("created", "unknown"), "done", error="x")
    assert journal.get("job-a") == a
    # Another instance (another process) reads the same file, in WAL mode.
    assert SQLiteJournal(path).get("job-b") == b
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


@pytest.mark.parametrize("state", ["pending", "created", "done", "failed", "rejected"])
def test_a_callback_never_repoints_a_job_that_is_not_unresolved(tmp_path: Path, state: str) -> None:
    journal = SQLiteJournal(tmp_path / "jobs.sqlite3")
    journal.begin("job-1", FIELDS)
    journal.transition("job-1", ("pending",), state, task_id="mine" if state != "pending" else None)
    event = CallbackEvent(task_id="theirs", stage="complete", code=200, msg="ok")
    assert not record_callback(journal, event, "job-1")
    job = journal.get("job-1")
    assert job is not None and job.task_id == ("mine" if state != "pending" else None)


@pytest.mark.parametrize("state", ["submitting", "unknown"])
def test_a_callback_resolves_an_unresolved_job_from_its_own_query(
    tmp_path: Path, state: str
) -> None:
    journal = SQLiteJournal(tmp_path / "jobs.sqlite3")
    journal.begin("job-1", FIELDS)
    journal.transition("job-1", ("pending",), state, error="HTTP 500")
    query = "team=a&" + JOB_KEY_PARAM + "=job-1"
    event = CallbackEvent(task_id="t9", stage="complete", code=200, msg="ok", query=query)
    assert record_callback(journal, event)
    job = journal.get("job-1")
    assert job is not None and (job.state, job.task_id, job.error) == ("created", "t9", None)
    other = CallbackEvent(task_id="t9", stage="complete", code=200, msg="ok", query="team=a")
    assert not record_callback(journal, other)


def test_the_job_key_in_a_url_or_a_query() -> None:
    assert JOB_KEY_PARAM == "kie_job"
    url = with_job_key("https://me.example/kie?b=&kie_job=old&a=1#frag", "new")
    assert url == "https://me.example/kie?b=&a=1&kie_job=new#frag"  # blank values kept
    assert with_job_key("https://me.example/kie", "k 1") == "https://me.example/kie?kie_job=k+1"
    assert job_key_from(url) == "new"
    assert job_key_from("kie_job=a&kie_job=b") == "b"  # the last one, as a query string
    assert job_key_from("https://me.example/kie?team=a") is None
    assert job_key_from("kie_job=&x=1") is None  # a blank key is no key


def test_a_journal_waits_for_a_locked_file_only_its_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    journal = SQLiteJournal(path, busy_timeout=0.1)
    assert inspect.signature(SQLiteJournal).parameters["busy_timeout"].default == 10.0
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process writing
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            journal.begin("job-1", FIELDS)
        assert time.monotonic() - started < 3  # sqlite's own default would wait 5 s
    finally:
        writer.close()


def test_a_job_waits_ten_minutes_by_default_journaling_each_status(
    make_client: Any, mock_api: Any, clock: Any, tmp_path: Path
) -> None:
    """run_job and resume share wait()'s default of 600 s; each status seen while waiting is
    journaled, and the error that ended a resumed wait is kept in the job."""
    answer = {"code": 200, "msg": "success", "data": {"taskId": "task-1"}}
    mock_api.post(CREATE_PATH).mock(return_value=httpx.Response(200, json=answer))
    mock_api.get(RECORD_PATH).mock(return_value=record("TEXT_SUCCESS"))
    journal = SQLiteJournal(str(tmp_path / "jobs.sqlite3"))
    client = make_client()
    started = clock.monotonic()
    with pytest.raises(WaitTimeoutError) as err:
        client.run_job(journal, job_key="job-1", **FIELDS)
    assert err.value.task_id == "task-1"
    assert clock.monotonic() - started == pytest.approx(600)
    job = journal.get("job-1")
    assert job is not None
    assert (job.state, job.task_id, job.task_status) == ("created", "task-1", "TEXT_SUCCESS")
    started = clock.monotonic()
    [job] = client.resume(journal)
    assert clock.monotonic() - started == pytest.approx(600)
    assert (job.state, job.task_status) == ("created", "TEXT_SUCCESS")
    assert job.error == str(err.value)


def test_a_journal_failing_after_the_create_keeps_the_task_id_in_both_clients(
    make_client: Any, mock_api: Any, tmp_path: Path
) -> None:
    answer = {"code": 200, "msg": "success", "data": {"taskId": "task-1"}}
    creating = mock_api.post(CREATE_PATH).mock(return_value=httpx.Response(200, json=answer))
    journal = SQLiteJournal(str(tmp_path / "jobs.sqlite3"))
    _fail_after_the_create(journal)
    with pytest.raises(ConnectionError) as err:
        make_client().run_job(journal, job_key="job-1", **FIELDS)
    assert creating.call_count == 1
    assert any("task-1" in note for note in err.value.__notes__)


def test_resume_saves_a_finished_jobs_files_where_it_is_told_in_both_clients(
    make_client: Any, tmp_path: Path
) -> None:
    answer = {"code": 200, "msg": "success", "data": {"taskId": "task-1"}}
    audio = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256))
    journal = SQLiteJournal(str(tmp_path / "jobs.sqlite3"))
    journal.begin("job-1", FIELDS)
    out = tmp_path / "out"
    client = make_client(allow_private_downloads=True)
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as router:
        router.post(CREATE_PATH).respond(200, json=answer)
        router.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track(0)]))
        cdn = router.get("https://cdn.example/0.mp3").respond(200, content=audio)
        [job] = client.resume(journal, download_to=out)
    assert (job.state, job.task_id, cdn.call_count) == ("done", "task-1", 1)
    assert [Path(path).parent for path in job.files] == [out / "job-1"]  # one folder per job
    assert [Path(path).read_bytes() for path in job.files] == [audio]
