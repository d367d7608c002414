"""wait(): polls with backoff (never above 3 requests/s per task), reports each status change,
treats unknown statuses as running, returns on success, raises TaskFailedError or
WaitTimeoutError with the task id."""

from __future__ import annotations

import random

import httpx
import pytest
from _records import record, suno_track
from _support import RECORD_PATH
from _virtual_time import ScriptedNotifier
from kie_instrumental import (
    AuthenticationError,
    PollSchedule,
    TaskFailedError,
    TaskStatus,
    WaitTimeoutError,
)
from kie_instrumental.notify import LocalNotifier

EVERY_2_S = PollSchedule(first=2.0, factor=1.0, cap=2.0)


def polls(clock, statuses, tracks=None):
    stamps: list[float] = []
    answers = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(clock.monotonic())
        status = next(answers, statuses[-1])
        return record(status, tracks if status in ("SUCCESS", "CALLBACK_EXCEPTION") else None)

    return stamps, handler


def test_polls_back_off_and_never_exceed_3_per_second(make_client, mock_api, clock):
    stamps, handler = polls(clock, ["PENDING"] * 40 + ["SUCCESS"], [suno_track()])
    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    started = clock.monotonic()
    details = make_client().wait("task-1", timeout=3600)
    assert details.status == "SUCCESS"
    gaps = [b - a for a, b in zip([started, *stamps], stamps, strict=False)]
    assert gaps[0] == 0  # the first poll at once: a finished task answers at once
    assert 1.5 <= gaps[1] <= 3.0  # the next after about 2 s
    assert all(gap >= 1 / 3 for gap in gaps[1:])
    assert gaps == sorted(gaps)  # backing off...
    assert max(gaps) == pytest.approx(30.0)  # ...to the 30 s cap


def test_progress_is_reported_once_per_status_change(make_client, mock_api, clock):
    sequence = ["PENDING", "PENDING", "TEXT_SUCCESS", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"]
    _, handler = polls(clock, sequence, [suno_track(0), suno_track(1)])
    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    seen = []
    details = make_client().wait("task-1", on_progress=lambda d: seen.append(d.status))
    assert seen == ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"]
    assert [t.id for t in details.tracks] == ["track-0", "track-1"]


def test_unknown_statuses_mean_still_running(make_client, mock_api, clock):
    _, handler = polls(clock, ["PENDING", "QUEUED_ON_GPU", "MIXING", "SUCCESS"], [suno_track()])
    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    assert make_client().wait("task-1").status == "SUCCESS"


def test_callback_exception_with_tracks_is_success(make_client, mock_api, clock):
    _, handler = polls(clock, ["PENDING", "CALLBACK_EXCEPTION"], [suno_track()])
    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    details = make_client().wait("task-1")
    assert details.status == TaskStatus.CALLBACK_EXCEPTION and details.succeeded


def test_callback_exception_without_tracks_is_a_failure(make_client, mock_api, clock):
    mock_api.get(RECORD_PATH).mock(return_value=record("CALLBACK_EXCEPTION", []))
    with pytest.raises(TaskFailedError) as caught:
        make_client().wait("task-1")
    assert caught.value.status == "CALLBACK_EXCEPTION"


@pytest.mark.parametrize(
    "status",
    [
        "CREATE_TASK_FAILED",
        "GENERATE_AUDIO_FAILED",
        "SENSITIVE_WORD_ERROR",
        "SOMETHING_NEW_FAILED",
        "UPSTREAM_ERROR",
    ],
)
def test_failures_raise_with_task_id_status_code_and_message(make_client, mock_api, status):
    mock_api.get(RECORD_PATH).mock(
        side_effect=[record("PENDING"), record(status, error_code=501, error_message="no audio")]
    )
    with pytest.raises(TaskFailedError) as caught:
        make_client().wait("task-1")
    error = caught.value
    assert (error.task_id, error.status, error.error_code, error.error_message) == (
        "task-1",
        status,
        501,
        "no audio",
    )
    assert "task-1" in str(error) and status in str(error)


@pytest.mark.parametrize(
    ("code", "text", "said"),
    [(501, "no audio", ", code 501: no audio"), (None, None, "")],
    ids=["code and text", "neither"],
)
def test_a_failure_says_what_kie_said_of_it(make_client, mock_api, code, text, said):
    answer = record("GENERATE_AUDIO_FAILED", error_code=code, error_message=text)
    mock_api.get(RECORD_PATH).mock(return_value=answer)
    with pytest.raises(TaskFailedError) as caught:
        make_client().wait("task-1")
    assert str(caught.value) == f"task task-1 failed with status GENERATE_AUDIO_FAILED{said}"


def test_the_deadline_raises_with_the_last_status(make_client, mock_api, clock):
    mock_api.get(RECORD_PATH).mock(return_value=record("TEXT_SUCCESS"))
    started = clock.monotonic()
    with pytest.raises(WaitTimeoutError) as caught:
        make_client().wait("task-1", timeout=90)
    assert (caught.value.task_id, caught.value.last_status) == ("task-1", "TEXT_SUCCESS")
    assert clock.monotonic() - started == pytest.approx(90)


def test_the_last_poll_goes_out_at_the_deadline_with_a_second_to_answer(
    make_client, mock_api, clock
):
    seen: list[tuple[float, dict[str, float]]] = []
    started = clock.monotonic()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((clock.monotonic() - started, request.extensions["timeout"]))
        return record("PENDING")

    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    client = make_client(poll_schedule=PollSchedule(first=2.5, factor=1.0, cap=2.5))
    with pytest.raises(WaitTimeoutError) as caught:
        client.wait("task-1", timeout=3)

    def phases(seconds: float) -> dict[str, float]:
        return dict.fromkeys(("connect", "read", "write", "pool"), seconds)

    # Each poll's timeout is cut to the time left (the client's is 5 s connect, 60 s the
    # others), but never below 1 s.
    assert seen == [(0.0, phases(3.0)), (2.5, phases(1.0)), (3.0, phases(1.0))]
    assert str(caught.value) == "task task-1 still PENDING after 3 s"


def test_a_wait_that_never_got_an_answer_says_why(make_client, mock_api, clock):
    mock_api.get(RECORD_PATH).mock(
        return_value=httpx.Response(500, json={"code": 500, "msg": "m" * 300})
    )
    with pytest.raises(WaitTimeoutError) as caught:
        make_client().wait("task-1", timeout=3)
    last = f"get_task: KIE answered code 500: {'m' * 300} [HTTP 500] (task_id=task-1)"
    assert caught.value.last_status is None
    assert str(caught.value) == (
        f"task task-1 no answer after 3 s (last poll: {last[:200]}... "
        f"({len(last) - 200} more characters))"
    )


def test_a_refused_poll_waits_as_long_as_retry_after_says(make_client, mock_api, clock):
    slow_down = httpx.Response(
        429, json={"code": 429, "msg": "slow down"}, headers={"Retry-After": "7"}
    )
    mock_api.get(RECORD_PATH).mock(side_effect=[slow_down, record("SUCCESS", [suno_track()])])
    assert make_client(poll_schedule=EVERY_2_S).wait("task-1").succeeded
    assert clock.sleeps == [7.0]


def test_failed_polls_back_off_and_an_answer_starts_the_count_again(
    make_client, mock_api, clock, monkeypatch
):
    monkeypatch.setattr(random.Random, "random", lambda self: 0.5)  # no jitter: 0.5 s, doubling
    busy = httpx.Response(500, json={"code": 500, "msg": "busy"})
    answers = [busy, busy, record("PENDING"), busy, record("SUCCESS", [suno_track()])]
    mock_api.get(RECORD_PATH).mock(side_effect=answers)
    assert make_client(poll_schedule=EVERY_2_S).wait("task-1").succeeded
    assert clock.sleeps == [0.5, 1.0, 2.0, 0.5]


def test_a_callback_ends_the_wait_before_the_safety_poll(make_client, mock_api, clock):
    notifier = ScriptedNotifier(clock, {"task-1": 1.0})
    mock_api.get(RECORD_PATH).mock(
        side_effect=[record("PENDING"), record("SUCCESS", [suno_track()])]
    )
    started = clock.monotonic()
    assert make_client(notifier=notifier).wait("task-1").succeeded
    assert clock.monotonic() - started == 1.0  # woken by the callback, not the 60 s safety net
    assert notifier.asked == [(("task-1",), 60.0)]


def test_errors_while_polling_carry_the_task_id(make_client, mock_api):
    mock_api.get(RECORD_PATH).mock(
        return_value=httpx.Response(401, json={"code": 401, "msg": "bad key"})
    )
    with pytest.raises(AuthenticationError) as caught:
        make_client().wait("task-1")
    assert caught.value.task_id == "task-1"


def test_status_classification() -> None:
    assert not TaskStatus("QUEUED").is_terminal and not TaskStatus("QUEUED").is_known
    assert TaskStatus("NEW_THING_FAILED").is_failure
    assert TaskStatus.SUCCESS == "SUCCESS" and TaskStatus.SUCCESS.is_terminal
    assert repr(TaskStatus("X")) == "TaskStatus('X')"


def test_the_async_client_awaits_a_coroutine_progress_callback():
    import asyncio

    from _support import API_KEY
    from kie_instrumental import AsyncKieClient
    from kie_instrumental.testing import FakeClock

    answers = iter([record("PENDING"), record("SUCCESS", [suno_track()])])
    seen: list[str] = []

    async def on_progress(details) -> None:
        await asyncio.sleep(0)
        seen.append(details.status)

    async def run() -> None:
        transport = httpx.MockTransport(lambda request: next(answers))
        async with httpx.AsyncClient(transport=transport) as http:
            client = AsyncKieClient(API_KEY, http_client=http, clock=FakeClock(), route="legacy")
            await client.wait("task-1", on_progress=on_progress)

    asyncio.run(run())
    assert seen == ["PENDING", "SUCCESS"]


def test_waiting_gives_up_after_ten_minutes_by_default(make_client, mock_api, clock):
    # wait(), wait_all() and as_completed() share the documented default: 600 s.
    mock_api.get(RECORD_PATH).mock(return_value=record("PENDING"))
    client = make_client()
    started = clock.monotonic()
    with pytest.raises(WaitTimeoutError):
        client.wait("task-1")
    assert clock.monotonic() - started == pytest.approx(600)
    started = clock.monotonic()
    (outcome,) = client.wait_all(["task-1"]).values()
    assert isinstance(outcome, WaitTimeoutError)
    assert clock.monotonic() - started == pytest.approx(600)
    started = clock.monotonic()
    (outcome,) = list(client.as_completed(["task-1"]))
    assert isinstance(outcome, WaitTimeoutError)
    assert clock.monotonic() - started == pytest.approx(600)


@pytest.mark.parametrize("call", ["wait_all", "as_completed"])
def test_as_completed_and_wait_all_report_progress(make_client, mock_api, clock, call):
    sequence = ["PENDING", "TEXT_SUCCESS", "SUCCESS"]
    _, handler = polls(clock, sequence, [suno_track()])
    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    client, seen = make_client(), []

    def progress(details) -> None:
        seen.append(details.status)

    if call == "wait_all":
        client.wait_all(["task-1"], on_progress=progress)
    else:
        list(client.as_completed(["task-1"], on_progress=progress))
    assert seen == sequence


def test_wait_wakes_on_its_notifier_instead_of_sleeping(make_client, mock_api, clock):
    """A callback published to the client's notifier ends the wait's sleep at once: the
    confirming poll comes with no time passed, not after the schedule's 2 s."""
    notifier = LocalNotifier(safety_poll=60)
    notifier.publish("task-1", "complete")  # before the wait: kept for it
    mock_api.get(RECORD_PATH).mock(
        side_effect=[record("PENDING"), record("SUCCESS", [suno_track()])]
    )
    started = clock.monotonic()
    details = make_client(notifier=notifier).wait("task-1", timeout=600)
    assert details.status == "SUCCESS"
    assert clock.monotonic() - started == 0
