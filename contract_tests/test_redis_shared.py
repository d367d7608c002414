"""Shared state on a real Redis server (started by the suite): one rate budget and one webhook
dedupe for several real OS processes, the shared 429 back-off, and the fallback when Redis is
unreachable or stops in the middle of a run."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from _callbacks import SECRET, callback, signed
from _redis_server import RedisServer, free_port
from _shared_workers import back_off_then_report, create_many, receive_all, reserve_and_send
from kie_instrumental import AsyncKieClient, KieClient, RateLimitError, webhooks
from kie_instrumental._ratelimit import RateLimiter, Slot
from kie_instrumental.redis_backend import RedisDedupStore, RedisRateLimit
from kie_instrumental.testing import FakeClock, FakeKie
from kie_instrumental.testing._server import serve_in_thread

SPAWN = multiprocessing.get_context("spawn")


def run_processes(target: Callable[..., None], args: list[tuple[Any, ...]]) -> None:
    """Run one spawned process per argument tuple; each must exit 0 within a minute."""
    processes = [SPAWN.Process(target=target, args=a) for a in args]
    for process in processes:
        process.start()
    deadline = time.monotonic() + 60
    try:
        for process in processes:
            process.join(max(0.1, deadline - time.monotonic()))
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(10)
    assert [p.exitcode for p in processes] == [0] * len(processes)


@pytest.fixture
def r(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


# -- the shared rate limit ------------------------------------------------------------------


def test_processes_share_one_budget_with_no_window_over_the_limit(
    redis_server: RedisServer, r: redis.Redis, redis_prefix: str
) -> None:
    limit, period, processes, each = 3, 0.5, 3, 5
    run_processes(
        reserve_and_send,
        [(redis_server.url, redis_prefix, processes, each, (limit, period))] * processes,
    )
    sent = [json.loads(x) for x in r.lrange(f"{redis_prefix}:sent", 0, -1)]
    times = sorted(t for t, _ in sent)
    assert len(times) == processes * each
    # Every process got all its permits (no starvation), and no window of `period` seconds
    # (on the server's clock) holds more than `limit` sends; 0.1 s absorbs the scheduling
    # delay between a permit and the moment a loaded worker logs its send.
    assert sorted(Counter(pid for _, pid in sent).values()) == [each] * processes
    gaps = [later - first for first, later in zip(times, times[limit:], strict=False)]
    assert min(gaps) >= period - 0.1, gaps
    ideal = (len(times) // limit - 1) * period
    assert ideal - 0.1 <= times[-1] - times[0] <= ideal + 5.0


def test_a_429_back_off_is_honoured_by_every_process(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    run_processes(back_off_then_report, [(redis_server.url, redis_prefix, 2.0)])
    wait = RedisRateLimit(redis_server.url, prefix=redis_prefix).acquire("poll")
    assert isinstance(wait, float) and 1.0 <= wait <= 2.0


def test_no_permit_within_max_wait_is_refused_and_reserves_nothing(
    redis_server: RedisServer, r: redis.Redis, redis_prefix: str
) -> None:
    limit = RedisRateLimit(redis_server.url, creates=(1, 60.0), prefix=redis_prefix, max_wait=1)
    assert isinstance(limit.acquire("create"), Slot)
    with pytest.raises(RateLimitError, match=r"no create permit within max_wait=1 s") as caught:
        limit.acquire("create")
    assert caught.value.retry_after is not None and caught.value.retry_after > 50
    assert r.zcard(f"{redis_prefix}:ratelimit:create") == 1
    assert isinstance(limit.acquire("poll"), Slot)  # the other budget is untouched


def test_creates_and_polls_draw_from_their_own_budgets_and_a_429_is_shared(
    redis_server: RedisServer, r: redis.Redis, redis_prefix: str
) -> None:
    fake = FakeKie(rate_limit=None)
    limit = RedisRateLimit(redis_server.url, prefix=redis_prefix)
    with (
        serve_in_thread(fake.app) as base_url,
        KieClient(fake.api_key, base_url=base_url, rate_limit=limit) as kie,
    ):
        task = kie.add_instrumental(
            upload_url="https://example.com/v.mp3",
            title="t",
            tags="piano",
            negative_tags="drums",
            callback_url="https://example.com/cb",
        )
        kie.get_task(task.task_id)
        kie.get_credits()
        assert r.zcard(f"{redis_prefix}:ratelimit:create") == 1
        assert r.zcard(f"{redis_prefix}:ratelimit:poll") == 2
        fake.fail_next(code=429, http_status=429)
        kie.get_credits()  # retried after the 429
    assert r.pttl(f"{redis_prefix}:ratelimit:backoff") > 0


def test_processes_creating_through_one_budget_get_no_429(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    """The representative slice of `make bench`'s 4 x 50: FakeKie enforces 5 per second, four
    processes share that budget through Redis, and not one request is refused (max_retries=0:
    a 429 would fail its process)."""
    fake = FakeKie(rate_limit=(5, 1.0))
    processes, each = 4, 4
    with serve_in_thread(fake.app) as base_url:
        run_processes(
            create_many,
            [(redis_server.url, redis_prefix, processes, base_url, fake.api_key, each, (5, 1.0))]
            * processes,
        )
    assert len(fake.tasks) == processes * each


# -- Redis unreachable or stopped: the documented fallback ----------------------------------


def test_unreachable_redis_falls_back_to_a_local_share_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    limit = RedisRateLimit(url, creates=(8, 10.0), fallback_share=4, redis_timeout=0.5)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="kie_instrumental"):
        waits = [limit.acquire("create") for _ in range(3)]
        limit.back_off(1.0)
    assert time.monotonic() - started < 5
    # 8 / 4 = 2 per 10 s in this process; both in flight: the third waits a whole period.
    assert all(isinstance(w, Slot) for w in waits[:2])
    assert isinstance(waits[2], float) and waits[2] > 9
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1/4 of each rate budget" in warnings[0].getMessage()


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_redis_stopped_mid_run_then_back(
    flavour: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer().start()
    fake = FakeKie(rate_limit=None)
    limit = RedisRateLimit(server.url, prefix=redis_prefix, polls=(100, 1.0), retry_redis_after=0.2)
    budget = f"{redis_prefix}:ratelimit:poll"

    def credits_three_times() -> list[float]:
        if flavour == "sync":
            with KieClient(fake.api_key, base_url=base_url, rate_limit=limit) as kie:
                return [kie.get_credits() for _ in range(3)]

        async def run() -> list[float]:
            async with AsyncKieClient(fake.api_key, base_url=base_url, rate_limit=limit) as kie:
                return [await kie.get_credits() for _ in range(3)]

        return asyncio.run(run())

    with serve_in_thread(fake.app) as base_url:
        _stop_and_restart(server, budget, credits_three_times, caplog)


def _stop_and_restart(
    server: RedisServer,
    budget: str,
    credits_three_times: Callable[[], list[float]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        assert len(credits_three_times()) == 3
        assert redis.Redis(port=server.port).zcard(budget) == 3
        port = server.port
        server.stop()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="kie_instrumental"):
            assert len(credits_three_times()) == 3  # the run completes on the fallback
            assert len(credits_three_times()) == 3
        assert time.monotonic() - started < 10  # no hang
        assert sum(rec.levelno == logging.WARNING for rec in caplog.records) == 1
        server.start(port)
        time.sleep(0.3)  # past retry_redis_after: Redis is tried again
        assert len(credits_three_times()) == 3
        assert redis.Redis(port=port).zcard(budget) == 3  # the new server's budget
    finally:
        server.close()


# -- shared webhook de-duplication ------------------------------------------------------------


def test_one_callback_to_two_receiver_processes_runs_its_handler_once(
    redis_server: RedisServer, r: redis.Redis, redis_prefix: str
) -> None:
    events = 100
    stamp = time.time()  # one delivery each, as KIE signed it: the same headers everywhere
    run_processes(receive_all, [(redis_server.url, redis_prefix, 2, events, stamp)] * 2)
    ran = [x.decode().rsplit(":", 1)[0] for x in r.lrange(f"{redis_prefix}:ran", 0, -1)]
    assert len(ran) == events and len(set(ran)) == events


def test_a_failed_handler_runs_again_on_redelivery_and_a_done_one_never(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    dedup = webhooks.Deduplicator(RedisDedupStore(redis_server.url, prefix=redis_prefix))
    other_replica = webhooks.Deduplicator(RedisDedupStore(redis_server.url, prefix=redis_prefix))
    body, headers = signed(callback("complete", task_id="task-x"))
    runs: list[str] = []

    def failing(event: webhooks.CallbackEvent) -> None:
        raise RuntimeError("handler down")

    assert webhooks.receive(body, headers, SECRET, failing, dedup=dedup).status != 200
    assert webhooks.receive(body, headers, SECRET, runs.append, dedup=other_replica).processed
    assert not webhooks.receive(body, headers, SECRET, runs.append, dedup=dedup).processed
    assert len(runs) == 1


def test_release_after_an_expired_claim_leaves_the_new_claim_alone(
    redis_server: RedisServer, r: redis.Redis, redis_prefix: str
) -> None:
    slow = RedisDedupStore(redis_server.url, prefix=redis_prefix, claim_ttl=0.2)
    fast = RedisDedupStore(redis_server.url, prefix=redis_prefix)
    assert slow.claim("task-1:complete") == "claimed"
    assert fast.claim("task-1:complete") == "running"
    time.sleep(0.4)  # the slow replica's claim expired (say it died mid-handler)
    assert fast.claim("task-1:complete") == "claimed"
    slow.release("task-1:complete")
    third = RedisDedupStore(redis_server.url, prefix=redis_prefix)
    assert third.claim("task-1:complete") == "running"
    fast.complete("task-1:complete")
    assert third.claim("task-1:complete") == "done"
    assert fast.is_done("task-1:complete")
    assert r.ttl(f"{redis_prefix}:dedup:task-1:complete") > 3600


def test_the_local_limiter_backs_off_after_a_429_too() -> None:
    limiter = RateLimiter(20, 10.0, FakeClock())
    assert limiter.reserve("create") == 0.0
    limiter.back_off(5.0)
    limiter.back_off(2.0)  # never moves the back-off earlier
    assert limiter.reserve("poll") == 5.0


def test_redis_down_a_receiver_answers_500_and_runs_nothing() -> None:
    """KIE delivers again later; no handler runs without the shared claim."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    dedup = webhooks.Deduplicator(RedisDedupStore(dead, redis_timeout=0.5))
    body, headers = signed(callback("complete", task_id="task-x"))
    runs: list[webhooks.CallbackEvent] = []
    started = time.monotonic()
    receipt = webhooks.receive(body, headers, SECRET, runs.append, dedup=dedup)
    assert receipt.status >= 500 and not receipt.processed and runs == []
    assert time.monotonic() - started < 5
