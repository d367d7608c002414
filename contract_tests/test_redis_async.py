"""The async client on Redis: it awaits Redis (redis.asyncio), never blocking its event loop,
whether Redis answers, never answers or stops mid-run; a cancelled caller gives its permit
back; the shared limiter counts a request's window from its answer, as the local one does."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import pytest
import redis
from _callbacks import SECRET, callback, signed
from _loop_probe import with_heartbeat
from _redis_server import RedisServer
from kie_instrumental import AsyncKieClient, PollSchedule, receivers, webhooks
from kie_instrumental._ratelimit import Slot
from kie_instrumental.redis_backend import (
    RedisDedupStore,
    RedisJournal,
    RedisNotifier,
    RedisRateLimit,
)
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread

T = TypeVar("T")
FIELDS: dict[str, Any] = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "Night Drive",
    "tags": "piano",
    "negative_tags": "drums",
}
FAST = PollSchedule(first=0.3, factor=1.0, cap=0.3)
# Redis calls here time out after 0.5 s (a few tries: several seconds); the loop must never
# stall for even a fraction of that.
LONGEST_GAP = 0.3
DOWN = (redis.RedisError, OSError, TimeoutError)


@contextlib.contextmanager
def silent_redis() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


@pytest.fixture
def fake() -> Iterator[tuple[FakeKie, str]]:
    fake = FakeKie(rate_limit=None, stage_seconds=0.3, callbacks="loopback")
    with serve_in_thread(fake.app) as base_url:
        yield fake, base_url


def shared(url: str, prefix: str) -> tuple[RedisRateLimit, RedisNotifier, RedisJournal]:
    return (
        RedisRateLimit(url, prefix=prefix, redis_timeout=0.5, retry_redis_after=60),
        RedisNotifier(url, prefix=prefix, safety_poll=0.5, redis_timeout=0.5),
        RedisJournal(url, prefix=prefix, redis_timeout=0.5),
    )


async def credits_and_a_wait(
    fake: FakeKie, base_url: str, limit: RedisRateLimit, notifier: RedisNotifier
) -> str:
    async with AsyncKieClient(
        fake.api_key, base_url=base_url, rate_limit=limit, notifier=notifier, poll_schedule=FAST
    ) as kie:
        for _ in range(3):
            await kie.get_credits()
        task = await kie.add_instrumental(**FIELDS, callback_url="https://example.com/cb")
        return str((await kie.wait(task.task_id, timeout=30)).status)


def test_a_live_redis_is_awaited_and_the_whole_job_runs(
    redis_server: RedisServer, redis_prefix: str, fake: tuple[FakeKie, str]
) -> None:
    kie, base_url = fake
    limit, notifier, journal = shared(redis_server.url, redis_prefix)
    publisher = RedisNotifier(redis_server.url, prefix=redis_prefix)

    async def publish(event: Any) -> None:  # an async receiver awaits Redis too
        await publisher.publish_async(event.task_id, event.stage)

    app = receivers.starlette_app(kie.webhook_secret, publish)

    async def run(receiver: str) -> Any:
        async with AsyncKieClient(
            kie.api_key, base_url=base_url, rate_limit=limit, notifier=notifier
        ) as client:
            callback = f"{receiver}{receivers.CALLBACK_PATH}"
            job = await client.run_job(journal, job_key="job-1", callback_url=callback, **FIELDS)
            return job, await client.get_credits()

    with serve_in_thread(app) as receiver:
        (job, _), gap = asyncio.run(with_heartbeat(lambda: run(receiver)))
    assert job.state == "done" and job.task_id in kie.tasks
    assert journal.get("job-1") == job  # what the async path wrote, read by the sync one
    assert r_key_exists(redis_server.url, f"{redis_prefix}:callback:{job.task_id}")
    r = redis.Redis.from_url(redis_server.url)
    assert r.zcard(f"{redis_prefix}:ratelimit:create") == 1
    assert r.zcard(f"{redis_prefix}:ratelimit:poll") >= 2
    assert gap < LONGEST_GAP, gap


def r_key_exists(url: str, key: str) -> bool:
    return bool(redis.Redis.from_url(url).exists(key))


def test_a_redis_that_never_answers_never_blocks_the_loop(
    fake: tuple[FakeKie, str], caplog: pytest.LogCaptureFixture
) -> None:
    kie, base_url = fake
    with silent_redis() as url:
        limit, notifier, journal = shared(url, "silent")

        async def run() -> str:
            async with AsyncKieClient(kie.api_key, base_url=base_url, rate_limit=None) as client:
                with pytest.raises(DOWN):  # no journal, no job: refused before any create
                    await client.run_job(journal, callback_url="https://example.com/cb", **FIELDS)
            assert not kie.tasks
            return await credits_and_a_wait(kie, base_url, limit, notifier)

        started = time.monotonic()
        status, gap = asyncio.run(with_heartbeat(run))
    assert status == "SUCCESS"  # the fallback limit and the safety-net polls finished it
    assert time.monotonic() - started < 60
    assert gap < LONGEST_GAP, gap
    assert any("Redis unreachable" in r.getMessage() for r in caplog.records)


def test_redis_stopped_mid_run_the_async_path_completes(
    redis_prefix: str, fake: tuple[FakeKie, str], caplog: pytest.LogCaptureFixture
) -> None:
    kie, base_url = fake
    server = RedisServer().start()
    try:
        limit, notifier, _ = shared(server.url, redis_prefix)

        async def run() -> list[str]:
            first = await credits_and_a_wait(kie, base_url, limit, notifier)
            server.stop()
            return [first, await credits_and_a_wait(kie, base_url, limit, notifier)]

        started = time.monotonic()
        statuses, gap = asyncio.run(with_heartbeat(run))
    finally:
        server.close()
    assert statuses == ["SUCCESS", "SUCCESS"]
    assert time.monotonic() - started < 60
    assert gap < LONGEST_GAP, gap
    warnings = [r for r in caplog.records if "each process now allows" in r.getMessage()]
    assert len(warnings) == 1


# -- permits: given back on cancellation, counted from the answer ---------------------------


def slow_credits(arrived: list[float], answered: list[float], seconds: float) -> httpx.AsyncClient:
    """An HTTP client whose server takes `seconds` to answer a credits request; it logs when
    each request arrived (when a server counts it) and when its answer left."""

    async def handler(request: httpx.Request) -> httpx.Response:
        arrived.append(time.monotonic())
        await asyncio.sleep(seconds)
        answered.append(time.monotonic())
        return httpx.Response(200, json={"code": 200, "msg": "success", "data": 100})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_a_caller_cancelled_in_flight_gives_its_permit_back(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    limit = RedisRateLimit(redis_server.url, prefix=redis_prefix, polls=(1, 0.5), flight_cap=60)

    async def run() -> Slot | float:
        async with AsyncKieClient(
            "key",
            base_url="http://kie.test",
            rate_limit=limit,
            http_client=slow_credits([], [], 30),
        ) as kie:
            call = asyncio.create_task(kie.get_credits())
            await asyncio.sleep(0.3)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
        await asyncio.sleep(0.8)  # one period after the cancellation, not flight_cap
        return await limit.acquire_async("poll")

    assert isinstance(asyncio.run(run()), Slot)


def test_a_caller_cancelled_while_waiting_holds_no_permit(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    limit = RedisRateLimit(redis_server.url, prefix=redis_prefix, polls=(1, 5.0))
    r = redis.Redis.from_url(redis_server.url)

    async def run() -> None:
        async with AsyncKieClient(
            "key", base_url="http://kie.test", rate_limit=limit, http_client=slow_credits([], [], 0)
        ) as kie:
            await kie.get_credits()  # the one permit of the next 5 s
            waiting = asyncio.create_task(kie.get_credits())
            await asyncio.sleep(0.3)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting

    asyncio.run(run())
    assert r.zcard(f"{redis_prefix}:ratelimit:poll") == 1  # the waiter took nothing


def test_a_window_starts_when_the_answer_arrives(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    """Answers take 0.6 s: a budget of 2 per second counted from the send would let a third
    request reach the server 1 s after the first arrived; counted from the answer (as the
    server cannot count later than it answers), not before the first answer + 1 s."""
    limit, period = 2, 1.0
    budget = RedisRateLimit(redis_server.url, prefix=redis_prefix, polls=(limit, period))
    arrived: list[float] = []
    answered: list[float] = []

    async def run() -> None:
        http = slow_credits(arrived, answered, 0.6)
        async with AsyncKieClient(
            "key", base_url="http://kie.test", rate_limit=budget, http_client=http
        ) as kie:
            await asyncio.gather(*(kie.get_credits() for _ in range(6)))
        await http.aclose()

    asyncio.run(run())
    arrived.sort()
    answered.sort()
    assert len(arrived) == 6
    for first_answer, later_arrival in zip(answered, arrived[limit:], strict=False):
        assert later_arrival - first_answer >= period - 0.05, (arrived, answered)


def test_a_permit_of_a_process_that_died_in_flight_expires(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    died = RedisRateLimit(redis_server.url, prefix=redis_prefix, polls=(1, 0.3), flight_cap=0.5)
    assert isinstance(died.acquire("poll"), Slot)  # never finished: its process died
    other = RedisRateLimit(redis_server.url, prefix=redis_prefix, polls=(1, 0.3))
    wait = other.acquire("poll")
    assert isinstance(wait, float) and wait >= 0.3
    time.sleep(0.9)  # flight_cap + period
    assert isinstance(other.acquire("poll"), Slot)


# -- async receivers on a shared de-duplication store -----------------------------------------


def test_an_async_receiver_on_a_hung_redis_never_blocks_its_loop_and_runs_nothing() -> None:
    runs: list[webhooks.CallbackEvent] = []
    body, headers = signed(callback("complete", task_id="task-hung"))

    async def deliver() -> webhooks.Receipt:
        with silent_redis() as url:
            dedup = webhooks.Deduplicator(RedisDedupStore(url, redis_timeout=0.5))
            return await webhooks.areceive(body, headers, SECRET, runs.append, dedup=dedup)

    receipt, gap = asyncio.run(with_heartbeat(deliver))
    assert receipt.status >= 500 and not receipt.processed and runs == []
    assert gap < LONGEST_GAP, f"the loop stalled {gap:.2f} s on a hung Redis"


def test_async_and_sync_replicas_share_one_claim_per_callback(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    """Twenty concurrent deliveries of one callback to two async replicas and a sync one: the
    handler runs once; a failed run is released for KIE's redelivery."""
    body, headers = signed(callback("complete", task_id="task-shared"))
    runs: list[str] = []

    async def slow_handler(event: webhooks.CallbackEvent) -> None:
        await asyncio.sleep(0.05)  # still running while the others arrive
        runs.append(event.task_id)

    async def failing(event: webhooks.CallbackEvent) -> None:
        raise RuntimeError("handler down")

    def store() -> RedisDedupStore:
        return RedisDedupStore(redis_server.url, prefix=redis_prefix)

    async def deliver_all() -> list[webhooks.Receipt]:
        replicas = [webhooks.Deduplicator(store()) for _ in range(2)]
        failed = await webhooks.areceive(body, headers, SECRET, failing, dedup=replicas[0])
        assert failed.status >= 500 and not failed.processed
        return list(
            await asyncio.gather(
                *(
                    webhooks.areceive(body, headers, SECRET, slow_handler, dedup=replicas[i % 2])
                    for i in range(20)
                )
            )
        )

    receipts = asyncio.run(deliver_all())
    assert runs == ["task-shared"]
    assert sum(r.processed for r in receipts) == 1
    sync_replica = webhooks.Deduplicator(store())
    later = webhooks.receive(body, headers, SECRET, runs.append, dedup=sync_replica)
    assert later.status == 200 and not later.processed and len(runs) == 1


class SlowSyncStore:
    """A user's store with blocking I/O and no async twins."""

    def __init__(self) -> None:
        self.inner = webhooks.InMemoryDedupStore()

    def claim(self, key: str) -> webhooks.Claim:
        time.sleep(0.4)
        return self.inner.claim(key)

    def complete(self, key: str) -> None:
        time.sleep(0.4)
        self.inner.complete(key)

    def release(self, key: str) -> None:
        self.inner.release(key)


def test_an_async_receiver_runs_a_blocking_store_off_its_loop() -> None:
    body, headers = signed(callback("complete", task_id="task-slow-store"))
    runs: list[webhooks.CallbackEvent] = []
    dedup = webhooks.Deduplicator(SlowSyncStore())

    async def deliver() -> webhooks.Receipt:
        return await webhooks.areceive(body, headers, SECRET, runs.append, dedup=dedup)

    receipt, gap = asyncio.run(with_heartbeat(deliver))
    assert receipt.processed and len(runs) == 1
    assert gap < LONGEST_GAP, f"the loop stalled {gap:.2f} s on the store"
