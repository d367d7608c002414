"""Waiting that listens: wait() returns on the first of a verified callback (published by a
receiver, in this process or through Redis from another) or a poll; while callbacks are
expected, polling is a slow safety net. Sync and async, FakeKie and receivers on real ports."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from _notify_workers import wait_in_process
from _redis_server import RedisServer, free_port
from kie_instrumental import AsyncKieClient, KieClient, PollSchedule, receivers
from kie_instrumental.notify import LocalNotifier, Notifier
from kie_instrumental.redis_backend import RedisNotifier
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread

FIELDS: dict[str, Any] = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "Night Drive",
    "tags": "piano",
    "negative_tags": "drums",
}
SPAWN = multiprocessing.get_context("spawn")


def polls(fake: FakeKie) -> int:
    return sum(path.endswith(("record-info", "recordInfo")) for _, path in fake.requests)


@pytest.fixture
def fake() -> Iterator[tuple[FakeKie, str]]:
    fake = FakeKie(rate_limit=None, stage_seconds=0.7, callbacks="loopback")
    with serve_in_thread(fake.app) as base_url:
        yield fake, base_url


def receiver_url(fake: FakeKie, notifier: Notifier) -> Any:
    app = receivers.starlette_app(
        fake.webhook_secret, lambda event: notifier.publish(event.task_id, event.stage)
    )
    return serve_in_thread(app)


def test_the_local_notifier_wakes_on_final_stages_only() -> None:
    notifier = LocalNotifier(safety_poll=60)
    notifier.publish("t1", "complete")  # before anyone waits: kept
    assert notifier.wait("t1", 5)
    assert not notifier.wait("t1", 0.05)  # consumed
    notifier.publish("t2", "text")  # a progress stage wakes nobody
    assert not notifier.wait("t2", 0.05)
    threading.Timer(0.1, notifier.publish, ("t2", "error")).start()
    started = time.monotonic()
    assert notifier.wait("t2", 10) and time.monotonic() - started < 5

    async def woken_from_a_thread() -> bool:
        threading.Timer(0.1, notifier.publish, ("t3", "complete")).start()
        return await notifier.await_("t3", 10)

    assert asyncio.run(woken_from_a_thread())
    assert not asyncio.run(notifier.await_("t4", 0.05))


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_wait_returns_on_the_callback_with_two_polls(
    flavour: str, fake: tuple[FakeKie, str]
) -> None:
    """Safety net at 60 s and a task of about 2 s: only the callback can end the wait early,
    after one poll at once and one that confirms it."""
    kie, base_url = fake
    notifier = LocalNotifier()
    with receiver_url(kie, notifier) as receiver:
        callback = f"{receiver}{receivers.CALLBACK_PATH}"
        started = time.monotonic()
        if flavour == "sync":
            with KieClient(kie.api_key, base_url=base_url, notifier=notifier) as client:
                task = client.add_instrumental(**FIELDS, callback_url=callback)
                details = client.wait(task.task_id, timeout=30)
        else:

            async def run() -> Any:
                async with AsyncKieClient(
                    kie.api_key, base_url=base_url, notifier=notifier
                ) as client:
                    task = await client.add_instrumental(**FIELDS, callback_url=callback)
                    return await client.wait(task.task_id, timeout=30)

            details = asyncio.run(run())
    assert details.succeeded
    assert time.monotonic() - started < 15
    assert polls(kie) == 2


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_wait_all_and_as_completed_wake_on_any_tasks_callback(
    flavour: str, fake: tuple[FakeKie, str]
) -> None:
    """Three tasks of about 2 s, a poll schedule of 0.3 s that the safety net (60 s) overrides:
    each task is polled once at once and once when its callback arrives, and the wait ends
    within a second of the last callback."""
    kie, base_url = fake
    notifier = LocalNotifier()
    arrived: dict[str, float] = {}

    def handler(event: Any) -> None:
        if event.stage == "complete":
            arrived.setdefault(event.task_id, time.monotonic())
        notifier.publish(event.task_id, event.stage)

    app = receivers.starlette_app(kie.webhook_secret, handler)
    quick = PollSchedule(first=0.3, factor=1.0, cap=0.3)
    with serve_in_thread(app) as receiver:
        callback = f"{receiver}{receivers.CALLBACK_PATH}"
        if flavour == "sync":
            with KieClient(
                kie.api_key, base_url=base_url, notifier=notifier, poll_schedule=quick
            ) as client:
                ids = [client.add_instrumental(**FIELDS, callback_url=callback).task_id]
                ids += [client.add_instrumental(**FIELDS, callback_url=callback).task_id]
                first = next(iter(client.as_completed(ids, timeout=30)))
                ids.append(client.add_instrumental(**FIELDS, callback_url=callback).task_id)
                found = client.wait_all(ids, timeout=30)
        else:

            async def run() -> Any:
                async with AsyncKieClient(
                    kie.api_key, base_url=base_url, notifier=notifier, poll_schedule=quick
                ) as client:
                    ids = [(await client.add_instrumental(**FIELDS, callback_url=callback)).task_id]
                    ids += [
                        (await client.add_instrumental(**FIELDS, callback_url=callback)).task_id
                    ]
                    first = None
                    async for done in client.as_completed(ids, timeout=30):
                        first = done
                        break
                    ids.append(
                        (await client.add_instrumental(**FIELDS, callback_url=callback)).task_id
                    )
                    return first, await client.wait_all(ids, timeout=30)

            first, found = asyncio.run(run())
        ended = time.monotonic()
    assert not isinstance(first, Exception) and first is not None and first.task_id in found
    assert all(not isinstance(d, Exception) and d.succeeded for d in found.values())
    assert ended - max(arrived.values()) < 1.5
    # as_completed: 2 tasks x (at once + one woken); wait_all: 3 x (at once, and once more
    # for the task not yet seen done): no poll on the 0.3 s schedule.
    assert polls(kie) <= 2 * 2 + 3 + 2, polls(kie)


def test_a_waiter_in_another_process_wakes_through_redis(
    redis_server: RedisServer, redis_prefix: str, fake: tuple[FakeKie, str]
) -> None:
    kie, base_url = fake
    publisher = RedisNotifier(redis_server.url, prefix=redis_prefix)
    with receiver_url(kie, publisher) as receiver:
        with KieClient(kie.api_key, base_url=base_url) as client:
            callback = f"{receiver}{receivers.CALLBACK_PATH}"
            task = client.add_instrumental(**FIELDS, callback_url=callback)
        waiter = SPAWN.Process(
            target=wait_in_process,
            args=(redis_server.url, redis_prefix, base_url, kie.api_key, task.task_id),
        )
        waiter.start()
        waiter.join(60)
        if waiter.is_alive():
            waiter.kill()
            waiter.join(10)
    assert waiter.exitcode == 0
    [record] = redis.Redis.from_url(redis_server.url).lrange(f"{redis_prefix}:waited", 0, -1)
    status, elapsed = json.loads(record)
    assert status == "SUCCESS" and elapsed < 20
    assert polls(kie) <= 3  # at once, after the callback (and one if it came before listening)


def test_a_callback_published_before_the_wait_is_not_missed(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    RedisNotifier(redis_server.url, prefix=redis_prefix).publish("done-task", "complete")
    waiter = RedisNotifier(redis_server.url, prefix=redis_prefix)
    assert waiter.wait("done-task", 10)
    assert not waiter.wait("done-task", 0.1)  # once per task: no busy loop on a stale key


def test_redis_down_falls_back_to_the_safety_net_polls(
    fake: tuple[FakeKie, str], caplog: pytest.LogCaptureFixture
) -> None:
    kie, base_url = fake
    notifier = RedisNotifier(f"redis://127.0.0.1:{free_port()}/0", safety_poll=0.5)
    with KieClient(kie.api_key, base_url=base_url, notifier=notifier) as client:
        task = client.add_instrumental(**FIELDS, callback_url="https://example.com/cb")
        started = time.monotonic()
        assert client.wait(task.task_id, timeout=30).succeeded
    assert time.monotonic() - started < 20
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1
