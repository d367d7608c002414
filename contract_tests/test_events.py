"""Events (kie_instrumental.events): each fires with its documented fields in the flows that
produce it, sync and async, both receivers for callbacks; a raising hook never changes a
result; nothing is built when nobody listens; the operator's log lines (INFO) and the
per-attempt ones (DEBUG) carry the event's fields as `extra`."""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
import pytest
import respx
from _callbacks import SECRET, callback, signed
from _records import record, suno_track
from _support import API_KEY, CREATE_PATH, CREDIT_PATH, RECORD_PATH, VALID_FIELDS
from kie_instrumental import (
    APIConnectionError,
    ConfigurationError,
    KieClient,
    ServerError,
    TaskFailedError,
    WaitTimeoutError,
)
from kie_instrumental import events as ev
from kie_instrumental.receivers import starlette_app, wsgi_app
from kie_instrumental.testing import FakeClock
from test_receivers import Poster

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
CREATED = {"code": 200, "msg": "success", "data": {"taskId": "task-1"}}
SERVER_ERROR = httpx.Response(200, json={"code": 500, "msg": "busy"})


class InChunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives `size` bytes at a time, for both clients."""

    def __init__(self, body: bytes, size: int) -> None:
        self.chunks = [body[i : i + size] for i in range(0, len(body), size)]

    def __iter__(self) -> Any:
        yield from self.chunks

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


def test_a_whole_task_fires_every_client_event_with_its_fields(make_client, mock_api, tmp_path):
    recorder = Recorder()
    client = make_client(hooks=[recorder], allow_private_downloads=True)
    mock_api.post(CREATE_PATH).respond(200, json=CREATED)
    mock_api.get(RECORD_PATH).mock(
        side_effect=[
            SERVER_ERROR,
            record("PENDING"),
            record("PENDING"),
            record("TEXT_SUCCESS"),
            record("SUCCESS", [suno_track(0), suno_track(1)]),
        ]
    )
    mock_api.get(CREDIT_PATH).respond(200, json={"code": 200, "msg": "success", "data": 88.0})

    task = client.add_instrumental(**VALID_FIELDS)
    details = client.wait(task.task_id)
    with respx.mock() as cdn:
        # In several network chunks: `bytes` counts them all.
        audio = lambda request: httpx.Response(  # noqa: E731
            200, headers={"Content-Length": str(len(MP3))}, stream=InChunks(MP3, 300)
        )
        cdn.get(url__startswith="https://cdn.example/").mock(side_effect=audio)
        client.download(details, tmp_path)
    assert client.get_credits() == 88.0

    started = recorder.of(ev.CallStarted)
    assert [(e.operation, e.route) for e in started] == [
        ("add_instrumental", "legacy"),
        ("wait", "legacy"),
        ("download", None),
        ("download", None),
        ("get_credits", None),
    ]
    wait_id = next(e.call_id for e in started if e.operation == "wait")
    polls = [e for e in recorder.of(ev.RequestAnswered) if e.call_id == wait_id]
    assert len(polls) == 5 and {(e.attempt, e.attempts, e.task_id) for e in polls} == {
        (1, 1, "task-1")
    }

    sent = recorder.of(ev.RequestSent)
    answered = recorder.of(ev.RequestAnswered)
    assert len(sent) == len(answered) == 1 + 5 + 2 + 1
    create = answered[0]
    assert (create.operation, create.method, create.attempt, create.attempts) == (
        "add_instrumental",
        "POST",
        1,
        3,
    )
    assert (create.url, create.status, create.code, create.error) == (
        "https://api.kie.ai/api/v1/generate/add-instrumental",
        200,
        200,
        None,
    )
    # Each attempt's own duration: the fake clock stands still while an answer is read.
    assert [a.elapsed for a in answered] == [0.0] * len(answered)
    failed_poll = answered[1]
    assert (failed_poll.operation, failed_poll.attempt, failed_poll.status, failed_poll.code) == (
        "wait",
        1,
        200,
        500,
    )
    assert failed_poll.error == "ServerError" and failed_poll.task_id == "task-1"
    assert failed_poll.url == "https://api.kie.ai/api/v1/generate/record-info"  # no query
    assert answered[2].call_id == wait_id and answered[2].error is None

    (retry,) = recorder.of(ev.RetryScheduled)
    assert (retry.operation, retry.attempt, retry.reason, retry.code, retry.task_id) == (
        "wait",
        1,
        "ServerError",
        500,
        "task-1",
    )
    assert retry.delay > 0 and retry.call_id == failed_poll.call_id

    changes = [(e.previous, e.status) for e in recorder.of(ev.TaskStatusChanged)]
    assert changes == [(None, "PENDING"), ("PENDING", "TEXT_SUCCESS"), ("TEXT_SUCCESS", "SUCCESS")]
    assert {(e.task_id, e.call_id, e.route) for e in recorder.of(ev.TaskStatusChanged)} == {
        ("task-1", wait_id, "legacy")
    }

    (finished,) = recorder.of(ev.TaskFinished)
    assert (finished.task_id, finished.status, finished.outcome, finished.tracks) == (
        "task-1",
        "SUCCESS",
        "succeeded",
        2,
    )
    assert finished.duration > 0 and finished.call_id == wait_id

    downloads = recorder.of(ev.DownloadFinished)
    assert [(d.bytes, d.task_id) for d in downloads] == [(len(MP3), "task-1")] * 2
    assert all(d.seconds >= 0 for d in downloads)
    download_answers = [a for a in answered if a.operation == "download"]
    assert {(a.url, a.code, a.method) for a in download_answers} == {
        ("https://cdn.example/0.mp3", None, "GET"),
        ("https://cdn.example/1.mp3", None, "GET"),
    }

    ends = recorder.of(ev.CallFinished)
    assert len(ends) == len(started)
    assert {e.call_id for e in ends} == {e.call_id for e in started}
    credits = next(e for e in ends if e.operation == "get_credits")
    assert credits.credits == 88.0 and credits.error is None
    assert all(e.error is None for e in ends)


def test_a_call_that_fails_ends_with_its_error_and_task_id(make_client, mock_api):
    recorder = Recorder()
    mock_api.get(RECORD_PATH).mock(return_value=SERVER_ERROR)
    with pytest.raises(ServerError):
        make_client(hooks=[recorder], max_retries=1).get_task("task-9")
    (end,) = recorder.of(ev.CallFinished)
    assert (end.operation, end.error, end.error_code, end.task_id) == (
        "get_task",
        "ServerError",
        500,
        "task-9",
    )
    assert [a.attempt for a in recorder.of(ev.RequestAnswered)] == [1, 2]
    assert len(recorder.of(ev.RetryScheduled)) == 1


@pytest.mark.parametrize(
    ("statuses", "error", "outcome"),
    [
        (["PENDING", "GENERATE_AUDIO_FAILED"], TaskFailedError, "failed"),
        (["PENDING"], WaitTimeoutError, "timed_out"),
    ],
)
def test_a_task_that_fails_or_times_out_finishes_with_that_outcome(
    make_client, mock_api, statuses, error, outcome
):
    recorder = Recorder()
    answers = iter(statuses)
    mock_api.get(RECORD_PATH).mock(
        side_effect=lambda request: record(next(answers, statuses[-1]), error_code=501)
    )
    with pytest.raises(error):
        make_client(hooks=[recorder]).wait("task-1", timeout=20)
    (finished,) = recorder.of(ev.TaskFinished)
    assert (finished.outcome, finished.status, finished.task_id) == (
        outcome,
        statuses[-1],
        "task-1",
    )
    assert finished.error_code == 501 and finished.tracks == 0
    wait_end = next(e for e in recorder.of(ev.CallFinished) if e.operation == "wait")
    assert wait_end.error == error.__name__ and wait_end.task_id == "task-1"


def test_the_rate_limiter_reports_its_waits(make_client, mock_api):
    recorder = Recorder()
    mock_api.get(CREDIT_PATH).respond(200, json={"code": 200, "msg": "success", "data": 1.0})
    client = make_client(hooks=[recorder], rate_limit=(1, 10.0))
    client.get_credits()
    client.get_credits()
    (waited,) = recorder.of(ev.RateLimitWait)
    assert (waited.operation, waited.kind, waited.budget) == ("get_credits", "poll", (1, 10.0))
    assert waited.delay == pytest.approx(10.0, abs=0.5)


def test_a_create_held_back_by_the_rate_limiter_waits_on_the_create_budget(make_client, mock_api):
    recorder = Recorder()
    mock_api.post(CREATE_PATH).respond(200, json=CREATED)
    client = make_client(hooks=[recorder], rate_limit=(1, 10.0))
    client.add_instrumental(**VALID_FIELDS)
    client.add_instrumental(**VALID_FIELDS)
    (waited,) = recorder.of(ev.RateLimitWait)
    assert (waited.operation, waited.kind, waited.budget) == (
        "add_instrumental",
        "create",
        (1, 10.0),
    )


def test_an_attempt_that_fails_in_transport_reports_its_own_duration(make_client, clock):
    recorder = Recorder()

    def refused(request: httpx.Request) -> httpx.Response:
        clock.advance(1.5)  # the time the connection took to fail
        raise httpx.ConnectError("refused")

    client = make_client(
        hooks=[recorder], max_retries=0, rate_limit=None, transport=httpx.MockTransport(refused)
    )
    with pytest.raises(APIConnectionError):
        client.get_credits()
    (answered,) = recorder.of(ev.RequestAnswered)
    assert (answered.status, answered.error) == (None, "APIConnectionError")
    assert answered.elapsed == pytest.approx(1.5)


def test_a_raising_hook_does_not_change_results_and_is_logged_once(make_client, mock_api, caplog):
    def broken(event: Any) -> None:
        raise RuntimeError("hook bug")

    recorder = Recorder()
    mock_api.get(CREDIT_PATH).respond(200, json={"code": 200, "msg": "success", "data": 5.0})
    mock_api.get(RECORD_PATH).mock(return_value=SERVER_ERROR)
    client = make_client(hooks=[broken, recorder], max_retries=1)
    with caplog.at_level(logging.WARNING, logger="kie_instrumental"):
        assert client.get_credits() == 5.0
        assert client.get_credits() == 5.0
        with pytest.raises(ServerError):  # the call's own error, not the hook's
            client.get_task("task-1")
    failures = [r for r in caplog.records if "hook" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.WARNING
    assert failures[0].getMessage() == (
        f"event hook {broken!r} raised; the call goes on, and later failures of this hook are "
        "not logged"
    )
    assert failures[0].exc_info is not None and "hook bug" in str(failures[0].exc_info[1])
    assert failures[0].kie_event == "hook_failed"  # type: ignore[attr-defined]
    assert recorder.of(ev.CallFinished)  # the next hook still saw every event
    assert len(recorder.of(ev.CallFinished)) == 3


def test_without_hooks_no_event_is_built(make_client, mock_api, monkeypatch, caplog):
    import kie_instrumental._core as core

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an event was built with nobody listening")

    monkeypatch.setattr(core, "CallTrace", forbidden)
    mock_api.get(RECORD_PATH).mock(
        side_effect=[SERVER_ERROR, record("PENDING"), *[record("SUCCESS", [suno_track()])] * 2]
    )
    mock_api.post(CREATE_PATH).respond(200, json=CREATED)
    mock_api.get(CREDIT_PATH).respond(200, json={"code": 200, "msg": "success", "data": 1.0})
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="kie_instrumental"):
        assert client.add_instrumental(**VALID_FIELDS).task_id == "task-1"
        assert client.get_credits() == 1.0
        assert client.wait("task-1").status == "SUCCESS"
        assert client.get_task("task-1").status == "SUCCESS"


@pytest.mark.parametrize("hooks", [print, [42], "not hooks"])
def test_hooks_must_be_callables(hooks):
    with pytest.raises(ConfigurationError, match="hooks"):
        KieClient(API_KEY, hooks=hooks)


def test_operators_see_retries_and_failed_tasks_at_info_with_fields(make_client, mock_api, caplog):
    mock_api.get(RECORD_PATH).mock(
        side_effect=[SERVER_ERROR, record("PENDING"), record("GENERATE_AUDIO_FAILED")]
    )
    with caplog.at_level(logging.INFO, logger="kie_instrumental"), pytest.raises(TaskFailedError):
        make_client().wait("task-1")
    info = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.kie_event for r in info] == ["retry_scheduled", "task_finished"]  # type: ignore[attr-defined]
    retry, failed = info
    assert retry.kie_operation == "wait" and retry.kie_reason == "ServerError"  # type: ignore[attr-defined]
    assert retry.kie_delay > 0 and retry.kie_task_id == "task-1"  # type: ignore[attr-defined]
    assert "retrying in" in retry.getMessage()
    assert failed.kie_outcome == "failed"  # type: ignore[attr-defined]
    assert failed.kie_status == "GENERATE_AUDIO_FAILED"  # type: ignore[attr-defined]
    assert "task task-1 failed" in failed.getMessage()


def test_debug_has_one_record_per_attempt_with_fields(make_client, mock_api, caplog):
    mock_api.get(CREDIT_PATH).mock(
        side_effect=[
            SERVER_ERROR,
            httpx.Response(200, json={"code": 200, "msg": "ok", "data": 3.0}),
        ]
    )
    with caplog.at_level(logging.DEBUG, logger="kie_instrumental"):
        make_client().get_credits()
    attempts = [r for r in caplog.records if getattr(r, "kie_event", "") == "request_answered"]
    assert [(r.kie_attempt, r.kie_status, r.kie_code) for r in attempts] == [  # type: ignore[attr-defined]
        (1, 200, 500),
        (2, 200, 200),
    ]
    assert all(r.levelno == logging.DEBUG for r in attempts)
    assert "GET /api/v1/chat/credit -> HTTP 200 code 500" in attempts[0].getMessage()


# -- callbacks: both receivers ------------------------------------------------------------------


@pytest.fixture(params=["starlette", "wsgi"])
def receiver_kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_receivers_report_each_callback_received_verified_or_refused(receiver_kind, caplog):
    recorder = Recorder()

    def broken(event: Any) -> None:
        raise RuntimeError("hook bug")

    handled: list[Any] = []
    make = starlette_app if receiver_kind == "starlette" else wsgi_app
    poster = Poster(receiver_kind, make(SECRET, handled.append, hooks=[broken, recorder]))
    genuine, headers = signed(callback("complete", task_id="task-7"))
    _, wrong = signed(callback("complete", task_id="task-7"), secret="not-the-secret")
    unknown, unknown_headers = signed(callback("remix", task_id="task-7"))
    with caplog.at_level(logging.INFO, logger="kie_instrumental"):
        assert poster.post(genuine, headers).status_code == 200  # the raising hook changes nothing
        assert poster.post(genuine, wrong).status_code == 401
        assert poster.post(unknown, unknown_headers).status_code == 200
        assert poster.post(b"not json", headers).status_code == 401
    assert len(handled) == 1

    received = [(e.task_id, e.stage) for e in recorder.of(ev.CallbackReceived)]
    assert received == [
        ("task-7", "complete"),
        ("task-7", "complete"),
        ("task-7", "remix"),
        (None, None),
    ]
    assert [(e.task_id, e.stage) for e in recorder.of(ev.CallbackVerified)] == [
        ("task-7", "complete")
    ]
    refused = [(e.task_id, e.stage, e.reason) for e in recorder.of(ev.CallbackRefused)]
    assert refused == [
        ("task-7", "complete", "signature does not match"),
        ("task-7", "remix", "unknown stage"),
        (None, None, "malformed JSON body"),
    ]
    info = [r for r in caplog.records if getattr(r, "kie_event", "") == "callback_refused"]
    assert [r.kie_reason for r in info] == [reason for _, _, reason in refused]  # type: ignore[attr-defined]
    assert all(r.levelno == logging.INFO for r in info)
    texts = [repr(e) for e in recorder.events] + [repr(vars(r)) for r in caplog.records]
    assert [text for text in texts if SECRET in text] == []


# -- each event's log line, level and fields: what a service's logs show -----------------------

_URL = "https://api.kie.ai/api/v1/generate/record-info?taskId=t-1"


def _lines() -> list[tuple[Any, str]]:
    from kie_instrumental import events as ev

    answered = dict(call_id=1, operation="get_task", route="legacy", attempt=2, attempts=3)
    answered |= dict(method="GET", url=_URL, task_id="t-1", elapsed=0.25)
    return [
        (
            ev.RequestAnswered(**answered, status=200, code=429, error=None),
            "GET /api/v1/generate/record-info -> HTTP 200 code 429 in 0.250s (attempt 2/3)"
            " task_id=t-1",
        ),
        (
            ev.RequestAnswered(**answered | {"task_id": None}, status=None, code=None, error=None),
            "GET /api/v1/generate/record-info -> no answer in 0.250s (attempt 2/3)",
        ),
        (
            ev.RequestAnswered(
                **answered | {"url": "https://api.kie.ai"}, status=None, code=None, error="E"
            ),
            "GET / -> E in 0.250s (attempt 2/3) task_id=t-1",
        ),
        (
            ev.RetryScheduled(
                call_id=1,
                operation="create",
                route="market",
                attempt=1,
                reason="ServerError",
                code=500,
                delay=1.25,
                task_id=None,
            ),
            "create: attempt 1 failed with ServerError (code 500); retrying in 1.2s",
        ),
        (
            ev.RetryScheduled(
                call_id=1,
                operation="get_task",
                route=None,
                attempt=3,
                reason="APITimeoutError",
                code=None,
                delay=2.0,
                task_id="t-9",
            ),
            "get_task: attempt 3 failed with APITimeoutError; retrying in 2.0s task_id=t-9",
        ),
        (
            ev.RateLimitWait(
                call_id=1,
                operation="create",
                route=None,
                kind="create",
                budget=(20, 10.0),
                delay=0.5,
            ),
            "create: waiting 0.5s for the rate limit (20 creates per 10s)",
        ),
        (
            ev.RateLimitWait(
                call_id=1, operation="get_task", route=None, kind="poll", budget=None, delay=3
            ),
            "get_task: waiting 3.0s for the rate limit",
        ),
        (
            ev.TaskStatusChanged(call_id=1, task_id="t-1", route=None, previous=None, status="A"),
            "task t-1: submitted -> A",
        ),
        (
            ev.TaskStatusChanged(call_id=1, task_id="t-1", route=None, previous="A", status="B"),
            "task t-1: A -> B",
        ),
        (
            ev.TaskFinished(
                call_id=1,
                task_id="t-1",
                route=None,
                status="SUCCESS",
                outcome="succeeded",
                duration=12.34,
                tracks=2,
            ),
            "task t-1 succeeded with status SUCCESS after 12.3s (2 tracks)",
        ),
        (
            ev.TaskFinished(
                call_id=1,
                task_id="t-2",
                route=None,
                status="PENDING",
                outcome="timed_out",
                duration=600.0,
                tracks=0,
            ),
            "task t-2 timed out with status PENDING after 600.0s (0 tracks)",
        ),
        (
            ev.CallbackRefused(task_id="t-3", stage="complete", reason="bad signature"),
            "callback refused (bad signature) task_id=t-3",
        ),
        (
            ev.CallFinished(
                call_id=1, operation="create", route=None, task_id="t-4", elapsed=0.5, error=None
            ),
            "create done in 0.500s task_id=t-4",
        ),
        (
            ev.CallFinished(
                call_id=1, operation="wait", route=None, task_id=None, elapsed=1, error="E"
            ),
            "wait failed with E in 1.000s",
        ),
        (
            ev.DownloadFinished(call_id=1, task_id="t-5", bytes=1024, seconds=0.125),
            "downloaded 1024 bytes in 0.125s task_id=t-5",
        ),
    ]


def test_every_event_logs_its_own_line_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    from kie_instrumental._emitter import Emitter

    emitter = Emitter()
    with caplog.at_level(logging.DEBUG, logger="kie_instrumental"):
        for event, _ in _lines():
            emitter.emit(event)
    assert [r.getMessage() for r in caplog.records] == [line for _, line in _lines()]
    first, retry = caplog.records[0], caplog.records[3]
    assert first.kie_event == "request_answered"  # type: ignore[attr-defined]
    assert (first.kie_status, first.kie_code) == (200, 429)  # type: ignore[attr-defined]
    assert retry.kie_event == "retry_scheduled" and retry.kie_delay == 1.25  # type: ignore[attr-defined]


def test_retries_waits_refusals_and_unfinished_tasks_log_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kie_instrumental._emitter import Emitter

    with caplog.at_level(logging.INFO, logger="kie_instrumental"):
        for event, _ in _lines():
            Emitter().emit(event)
    assert [r.getMessage() for r in caplog.records] == [
        line
        for _, line in _lines()
        if line.startswith(("create: ", "get_task: ", "callback refused", "task t-2 timed out"))
    ]
    assert {r.levelno for r in caplog.records} == {logging.INFO}


def test_events_without_a_line_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    from kie_instrumental import events as ev
    from kie_instrumental._emitter import Emitter

    with caplog.at_level(logging.DEBUG, logger="kie_instrumental"):
        Emitter().emit(ev.CallStarted(call_id=1, operation="create", route=None, task_id=None))
        Emitter().emit(ev.CallbackVerified(task_id="t-1", stage="complete"))
    assert caplog.records == []


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://user:pw@cdn.example:8443/a/b.mp3?sig=x#f", "https://cdn.example:8443/a/b.mp3"),
        ("https://cdn.example/a.mp3?sig=x", "https://cdn.example/a.mp3"),
        ("/relative/x.mp3?sig=1", "/relative/x.mp3"),
    ],
)
def test_urls_in_events_lose_credentials_query_and_fragment(url: str, shown: str) -> None:
    from kie_instrumental._emitter import safe_url

    assert safe_url(url) == shown


@pytest.mark.parametrize("hooks", ["print", b"x", 3])
def test_hooks_that_are_not_a_list_are_refused_naming_the_type(hooks: Any) -> None:
    from kie_instrumental._emitter import Emitter

    with pytest.raises(ConfigurationError) as refused:
        Emitter(hooks)
    assert str(refused.value) == (
        f"hooks must be a list of callables taking one event, got {type(hooks).__name__}"
    )


def test_a_hook_that_is_not_callable_is_refused_naming_its_type() -> None:
    from kie_instrumental._emitter import Emitter

    with pytest.raises(ConfigurationError) as refused:
        Emitter([print, 5])
    assert str(refused.value) == "hooks must be callables taking one event, got int"


# -- the events of one call, as hooks receive them ----------------------------------------------


def _trace(
    task_id: str | None = "t-1", stream_to: object = None
) -> tuple[Any, list[Any], FakeClock]:
    from types import SimpleNamespace

    from kie_instrumental._emitter import CallTrace, Emitter

    events: list[Any] = []
    op = SimpleNamespace(
        operation="get_task",
        route="legacy",
        task_id=task_id,
        method="GET",
        url=_URL,
        stream_to=stream_to,
    )
    clock = FakeClock()
    return CallTrace(Emitter([events.append]), cast(Any, op), clock), events, clock


def test_a_calls_events_carry_its_route_task_and_times() -> None:
    trace, events, clock = _trace()
    clock.advance(2.5)
    trace.retrying(1, ServerError("x", code=500), 1.0)
    trace.task_finished(WaitTimeoutError("late", task_id="t-1", last_status="PENDING"))
    trace.finished(GeneratorExit(), None)
    started, retry, finished, ended = events
    assert (started.task_id, started.route) == ("t-1", "legacy")
    assert (retry.route, retry.code, retry.task_id) == ("legacy", 500, "t-1")
    assert (finished.route, finished.duration, finished.tracks) == ("legacy", 2.5, 0)
    assert (ended.route, ended.elapsed, ended.error) == ("legacy", 2.5, "Cancelled")


def test_a_task_finished_without_a_task_id_is_reported_with_an_empty_one() -> None:
    trace, events, _ = _trace(task_id=None)
    trace.task_finished(WaitTimeoutError("late", task_id=None, last_status="PENDING"))
    assert events[-1].task_id == ""


@pytest.mark.parametrize("status, downloaded", [(200, True), (299, True), (300, False)])
def test_a_download_is_reported_for_2xx_answers_only(status: int, downloaded: bool) -> None:
    from types import SimpleNamespace

    trace, events, _ = _trace(stream_to=object())
    answer = SimpleNamespace(status=status, elapsed=0.5, received=1234)
    trace.answered(1, 1, cast(Any, answer), None)
    finished = [e for e in events if isinstance(e, ev.DownloadFinished)]
    assert [(e.bytes, e.seconds) for e in finished] == ([(1234, 0.5)] if downloaded else [])


def test_a_rate_limit_wait_names_the_budget_of_its_kind() -> None:
    from types import SimpleNamespace

    trace, events, _ = _trace()
    shared = SimpleNamespace(budgets={"create": (20, 10.0), "poll": (100, 10.0)})
    trace.rate_limited(cast(Any, shared), "create", 1.5)
    trace.rate_limited(cast(Any, SimpleNamespace(limit=5, period=60.0)), "poll", 2.0)
    trace.rate_limited(cast(Any, SimpleNamespace(limit=5)), "poll", 2.0)
    trace.rate_limited(cast(Any, SimpleNamespace(period=60.0)), "poll", 2.0)
    waits = [e for e in events if isinstance(e, ev.RateLimitWait)]
    assert [w.budget for w in waits] == [(20, 10.0), (5, 60.0), None, None]
    assert {w.route for w in waits} == {"legacy"}


def test_log_records_keep_field_values_as_they_are_and_percent_signs_literal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kie_instrumental._emitter import Emitter

    wait = ev.RateLimitWait(
        call_id=1, operation="create", route=None, kind="create", budget=(20, 10.0), delay=0.5
    )
    refused = ev.CallbackRefused(task_id="t-%s", stage=None, reason="100% bad %d")
    with caplog.at_level(logging.DEBUG, logger="kie_instrumental"):
        Emitter().emit(wait)
        Emitter().emit(refused)
    assert caplog.records[0].kie_budget == (20, 10.0)  # type: ignore[attr-defined]
    assert caplog.records[1].getMessage() == "callback refused (100% bad %d) task_id=t-%s"


def test_a_url_without_a_host_stays_without_one() -> None:
    from kie_instrumental._emitter import safe_url

    assert safe_url("https:///a.mp3?sig=1") == "https:///a.mp3"
