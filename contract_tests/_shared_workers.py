"""Worker bodies for the shared-state tests: each runs in its own OS process (spawned), and
reports through Redis, which every process can reach."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis
from _callbacks import SECRET, callback, signed
from kie_instrumental import KieClient, webhooks
from kie_instrumental._ratelimit import Slot
from kie_instrumental.redis_backend import RedisDedupStore, RedisRateLimit


def server_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1_000_000


def start_together(client: redis.Redis, prefix: str, processes: int) -> None:
    """A barrier: return once `processes` workers have arrived (bounded in time)."""
    client.incr(f"{prefix}:arrived")
    deadline = time.monotonic() + 30
    while int(client.get(f"{prefix}:arrived") or 0) < processes:
        if time.monotonic() > deadline:
            raise TimeoutError("the other workers did not start")
        time.sleep(0.01)


def reserve_and_send(url: str, prefix: str, processes: int, count: int, budget: Any) -> None:
    """Take `count` create permits (waiting as told), log the server time of each "send",
    then report its "answer"."""
    client = redis.Redis.from_url(url)
    limit = RedisRateLimit(url, creates=tuple(budget), prefix=prefix)
    start_together(client, prefix, processes)
    for _ in range(count):
        slot = limit.acquire("create")
        while not isinstance(slot, Slot):
            time.sleep(slot)
            slot = limit.acquire("create")
        client.rpush(f"{prefix}:sent", json.dumps([server_now(client), os.getpid()]))
        limit.finished(slot)


def back_off_then_report(url: str, prefix: str, seconds: float) -> None:
    RedisRateLimit(url, prefix=prefix).back_off(seconds)


def create_many(
    url: str, prefix: str, processes: int, base_url: str, api_key: str, n: int, creates: Any
) -> None:
    """`n` creates through a KieClient sharing the Redis limit; with max_retries=0 a 429 fails
    the process."""
    client = redis.Redis.from_url(url)
    limit = RedisRateLimit(url, prefix=prefix, creates=tuple(creates))
    start_together(client, prefix, processes)
    with KieClient(api_key, base_url=base_url, rate_limit=limit, max_retries=0) as kie:
        for i in range(n):
            kie.add_instrumental(
                upload_url="https://example.com/v.mp3",
                title=f"t{i}",
                tags="piano",
                negative_tags="drums",
                callback_url="https://example.com/cb",
            )
            client.incr(f"{prefix}:created")


def receive_all(url: str, prefix: str, processes: int, events: int, stamp: float) -> None:
    """Receive the same `events` signed callbacks (signed at `stamp`) the other receivers get,
    through one shared Redis dedupe store; the handler logs each run to a Redis list. A 503
    (another receiver is running that handler now) is delivered again, as KIE would."""
    client = redis.Redis.from_url(url)
    dedup = webhooks.Deduplicator(RedisDedupStore(url, prefix=prefix))

    def handler(event: webhooks.CallbackEvent) -> None:
        client.rpush(f"{prefix}:ran", f"{event.task_id}:{os.getpid()}")

    start_together(client, prefix, processes)
    for i in range(events):
        body, headers = signed(callback("complete", task_id=f"task-{i}"), at=stamp)
        for _ in range(200):
            receipt = webhooks.receive(body, headers, SECRET, handler, dedup=dedup)
            if receipt.status != 503:
                break
            time.sleep(0.01)
        assert receipt.status == 200, receipt
