"""Waiting for many tasks at once: one flow polls them one request at a time, each on its own
backoff, under the client's rate limit (no thread or coroutine per task); each task's result,
failure or timeout comes back once, as it ends; sync and async alike."""

from __future__ import annotations

import asyncio
import itertools
import threading
from urllib.parse import parse_qs

import httpx
import pytest
from _records import record, suno_track
from _support import API_KEY, RECORD_PATH
from _virtual_time import ScriptedNotifier
from kie_instrumental import (
    AsyncKieClient,
    ConfigurationError,
    InvalidRequestError,
    KieClient,
    NotFoundError,
    PollSchedule,
    TaskDetails,
    TaskFailedError,
    WaitTimeoutError,
)
from kie_instrumental.testing import FakeClock

KINDS = ["sync", "async"]


def scripted(clock: FakeClock, plan: dict[str, list[str]]):
    """record-info answers per task: each poll takes the next status; stamps of every request."""
    stamps: list[tuple[float, str]] = []
    lock = threading.Lock()
    counts: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        task_id = parse_qs(request.url.query.decode())["taskId"][0]
        with lock:
            stamps.append((clock.monotonic(), task_id))
            n = counts[task_id] = counts.get(task_id, 0) + 1
        if task_id not in plan:
            return httpx.Response(200, json={"code": 200, "msg": "success", "data": None})
        statuses = plan[task_id]
        status = statuses[min(n, len(statuses)) - 1]
        tracks = [suno_track()] if status == "SUCCESS" else None
        answer = record(
            status, tracks, task_id=task_id, error_code=500 if "FAIL" in status else None
        )
        return answer

    return stamps, handler


def collect(kind: str, clock: FakeClock, handler, ids, *, rate_limit=None, timeout=600.0):
    options = {"clock": clock, "rate_limit": rate_limit}
    seen: list[tuple[str, str]] = []
    if kind == "sync":
        client = KieClient(
            API_KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler)), **options
        )
        order = [r.task_id for r in client.as_completed(ids, timeout=timeout)]
        results = client.wait_all(
            ids, timeout=timeout, on_progress=lambda d: seen.append((d.task_id, str(d.status)))
        )
        return order, results, seen

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = AsyncKieClient(API_KEY, http_client=http, **options)
        order = [r.task_id async for r in client.as_completed(ids, timeout=timeout)]
        results = await client.wait_all(
            ids, timeout=timeout, on_progress=lambda d: seen.append((d.task_id, str(d.status)))
        )
        await http.aclose()
        return order, results, seen

    return asyncio.run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_each_task_ends_once_with_its_own_result(kind) -> None:
    clock = FakeClock()
    plan = {
        "fast": ["SUCCESS"],
        "slow": ["PENDING", "PENDING", "TEXT_SUCCESS", "SUCCESS"],
        "broken": ["PENDING", "GENERATE_AUDIO_FAILED"],
        "stuck": ["PENDING"],
    }
    _, handler = scripted(clock, plan)
    ids = ["stuck", "slow", "fast", "broken", "unknown-task", "fast"]
    order, results, seen = collect(kind, clock, handler, ids, timeout=120)
    assert order[0] == "fast" and order[-1] == "stuck"  # as they end; the deadline last
    assert sorted(order) == sorted(set(ids))  # each task once
    assert isinstance(results["fast"], TaskDetails) and results["slow"].status == "SUCCESS"
    assert isinstance(results["broken"], TaskFailedError)
    assert isinstance(results["unknown-task"], NotFoundError)
    assert isinstance(results["stuck"], WaitTimeoutError)
    assert results["stuck"].last_status == "PENDING"
    assert ("stuck", "PENDING") in seen and ("slow", "SUCCESS") in seen  # on_progress


@pytest.mark.parametrize("kind", KINDS)
def test_many_tasks_share_one_poll_budget(kind) -> None:
    clock = FakeClock()
    plan = {f"t{i}": ["PENDING"] * 3 + ["SUCCESS"] for i in range(30)}
    stamps, handler = scripted(clock, plan)
    _, results, _ = collect(kind, clock, handler, list(plan), rate_limit=(20, 10.0))
    assert all(isinstance(r, TaskDetails) for r in results.values())
    times = sorted(t for t, _ in stamps)
    assert max(sum(1 for u in times if t <= u < t + 10.0) for t in times) <= 20
    per_task: dict[str, list[float]] = {}
    for t, task_id in stamps:
        per_task.setdefault(task_id, []).append(t)
    # Never above 3 requests/s per task.
    assert all(b - a >= 1 / 3 for ts in per_task.values() for a, b in itertools.pairwise(ts))


def test_one_string_is_not_a_list_of_tasks(make_client, mock_api) -> None:
    route = mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track()]))
    with pytest.raises(InvalidRequestError) as caught:
        make_client().wait_all("task-1")
    error = caught.value
    assert (error.field, error.rule) == ("task_ids", "type")
    assert str(error) == "task_ids must be a collection of task ids, not one string"
    assert route.call_count == 0


@pytest.mark.parametrize("timeout", [0, -1, float("inf")])
def test_an_unbounded_timeout_is_refused_naming_it(make_client, mock_api, timeout) -> None:
    route = mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track()]))
    with pytest.raises(ConfigurationError, match=r"^timeout must be a bounded number of seconds"):
        make_client().wait_all(["task-1"], timeout=timeout)
    assert route.call_count == 0


def poll_times(clock: FakeClock, plan: dict[str, list[str]]):
    """record-info answers per task (each poll the next status) and when each task was polled,
    in seconds from now."""
    started, times = clock.monotonic(), {task_id: [] for task_id in plan}

    def handler(request: httpx.Request) -> httpx.Response:
        task_id = request.url.params["taskId"]
        times[task_id].append(clock.monotonic() - started)
        status = plan[task_id][min(len(times[task_id]), len(plan[task_id])) - 1]
        return record(status, [suno_track()] if status == "SUCCESS" else None, task_id=task_id)

    return times, handler


def test_each_task_is_polled_on_its_own_schedule(make_client, mock_api, clock) -> None:
    times, handler = poll_times(clock, {"a": ["PENDING", "PENDING", "SUCCESS"]})
    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    quick = PollSchedule(first=0.5, factor=1.0, cap=0.5)
    (details,) = make_client(poll_schedule=quick).wait_all(["a"]).values()
    assert isinstance(details, TaskDetails) and details.succeeded
    assert times == {"a": [0.0, 0.5, 1.0]}


def test_a_callback_wakes_its_task_and_the_others_keep_the_safety_poll(
    make_client, mock_api, clock
) -> None:
    # Callbacks expected: b's arrives after 1 s and b is polled at once; a's never comes, and
    # a is polled once per safety poll (60 s) until the deadline, not on the 2 s schedule.
    times, handler = poll_times(clock, {"a": ["PENDING"], "b": ["PENDING", "SUCCESS"]})
    mock_api.get(RECORD_PATH).mock(side_effect=handler)
    notifier = ScriptedNotifier(clock, {"b": 1.0})
    client = make_client(notifier=notifier, poll_schedule=PollSchedule(first=2.0, cap=2.0))
    results = client.wait_all(["a", "b"], timeout=100)
    assert results["b"].succeeded
    assert isinstance(results["a"], WaitTimeoutError) and results["a"].last_status == "PENDING"
    assert times == {"a": [0.0, 60.0], "b": [0.0, 1.0]}
    assert notifier.asked == [(("a", "b"), 60.0), (("a",), 59.0), (("a",), 40.0)]
