"""A waiter in its own OS process: wait() with a RedisNotifier, woken by a callback that a
receiver in another process published."""

from __future__ import annotations

import json
import time

import redis
from kie_instrumental import KieClient
from kie_instrumental.redis_backend import RedisNotifier


def wait_in_process(url: str, prefix: str, base_url: str, api_key: str, task_id: str) -> None:
    notifier = RedisNotifier(url, prefix=prefix)
    with KieClient(api_key, base_url=base_url, notifier=notifier) as kie:
        started = time.monotonic()
        details = kie.wait(task_id, timeout=30)
        elapsed = time.monotonic() - started
    redis.Redis.from_url(url).rpush(f"{prefix}:waited", json.dumps([str(details.status), elapsed]))
