"""7. Several processes on one key, through Redis: P processes x N creates each against FakeKie
on a real loopback port with its own 20 per 10 s limit on, every process with a
`RedisRateLimit` of the same budget. Counts the HTTP 429s FakeKie sent (goal 0) and compares
the elapsed time with the ideal (the last of the creates cannot start before
(P*N/limit - 1) * period seconds; goal: within 10 %).

8. Waiting that listens: T tasks waited for concurrently (AsyncKieClient, a wait() each, and
one as_completed() for all) against FakeKie on a
real port sending signed callbacks to a receiver on another port. Detection lag = when wait()
returned minus when the receiver got the task's `complete` callback; record-info calls per
task. With a LocalNotifier (callbacks wake the waiters, safety-net poll every 60 s) against
today's polling-only wait(). Goal: median lag under 1 s, at most one poll per minute per task.

    .venv/bin/python -m bench.shared [--processes 4] [--creates 50] [--limit 20 --period 10]
                                     [--tasks 20 --stage 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import redis
from kie_instrumental import AsyncKieClient, KieClient, receivers
from kie_instrumental.notify import LocalNotifier
from kie_instrumental.redis_backend import RedisRateLimit
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "contract_tests"))
from _redis_server import RedisServer  # the suite's launcher of a real Redis

RESULTS = Path(__file__).resolve().parent / "results-shared.json"
FIELDS = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "t",
    "tags": "a",
    "negative_tags": "b",
    "callback_url": "https://example.com/cb",
}


def _worker(url: str, base_url: str, api_key: str, n: int, budget: tuple[int, float]) -> None:
    r = redis.Redis.from_url(url)
    limit = RedisRateLimit(url, prefix="bench", creates=budget, polls=budget)
    r.incr("bench:ready")
    while r.get("bench:go") is None:
        time.sleep(0.005)
    with KieClient(api_key, base_url=base_url, rate_limit=limit, max_retries=5) as kie:
        for _ in range(n):
            kie.add_instrumental(**FIELDS)
    seconds, micros = r.time()  # type: ignore[misc]
    r.rpush("bench:ended", seconds + micros / 1e6)


def creates(processes: int, each: int, limit: int, period: float) -> dict[str, Any]:
    server = RedisServer().start()
    fake = FakeKie(rate_limit=(limit, period), callbacks="off", credits=None)
    ctx = multiprocessing.get_context("spawn")
    try:
        r = redis.Redis.from_url(server.url)
        with serve_in_thread(fake.app) as base_url:
            args = (server.url, base_url, fake.api_key, each, (limit, period))
            workers = [ctx.Process(target=_worker, args=args) for _ in range(processes)]
            for w in workers:
                w.start()
            deadline = time.monotonic() + 60
            while int(r.get("bench:ready") or 0) < processes and time.monotonic() < deadline:
                time.sleep(0.01)
            seconds, micros = r.time()  # type: ignore[misc]
            started = seconds + micros / 1e6
            r.set("bench:go", 1)
            for w in workers:
                w.join(processes * each * period / limit + 120)
            ended = max(float(x) for x in r.lrange("bench:ended", 0, -1))
        posts = sum(m == "POST" for m, _ in fake.requests)
        total = processes * each
        ideal = (total / limit - 1) * period
        elapsed = ended - started
        return {
            "processes": processes,
            "creates_each": each,
            "budget": f"{limit} per {period:g} s",
            "tasks_created": len(fake.tasks),
            "http_429": posts - len(fake.tasks),
            "elapsed_s": round(elapsed, 2),
            "ideal_s": ideal,
            "ratio": round(elapsed / ideal, 3),
            "exit_codes": [w.exitcode for w in workers],
        }
    finally:
        server.close()


def lag(listening: bool, tasks: int, stage: float, many: bool = False) -> dict[str, Any]:
    fake = FakeKie(rate_limit=None, stage_seconds=stage, callbacks="loopback", credits=None)
    notifier = LocalNotifier()
    arrived: dict[str, float] = {}

    def handler(event: Any) -> None:
        if event.stage == "complete":
            arrived.setdefault(event.task_id, time.monotonic())
        notifier.publish(event.task_id, event.stage)

    app = receivers.starlette_app(fake.webhook_secret, handler)
    with serve_in_thread(fake.app) as base_url, serve_in_thread(app) as receiver:
        callback = f"{receiver}{receivers.CALLBACK_PATH}"

        async def one(client: AsyncKieClient, n: int) -> tuple[str, float]:
            # Spread the creates over one stage, so the polls meet the tasks at every phase.
            await asyncio.sleep((n * 0.618 % 1) * stage)
            task = await client.add_instrumental(**{**FIELDS, "callback_url": callback})
            await client.wait(task.task_id, timeout=stage * 3 + 120)
            return task.task_id, time.monotonic()

        async def created(client: AsyncKieClient, n: int) -> str:
            await asyncio.sleep((n * 0.618 % 1) * stage)
            return (await client.add_instrumental(**{**FIELDS, "callback_url": callback})).task_id

        async def run() -> list[tuple[str, float]]:
            async with AsyncKieClient(
                fake.api_key,
                base_url=base_url,
                rate_limit=None,
                notifier=notifier if listening else None,
            ) as client:
                if not many:
                    return await asyncio.gather(*(one(client, n) for n in range(tasks)))
                # One as_completed() flow for every task (wait_all's engine).
                ids = await asyncio.gather(*(created(client, n) for n in range(tasks)))
                found = client.as_completed(ids, timeout=stage * 3 + 120)
                return [(str(getattr(d, "task_id", "")), time.monotonic()) async for d in found]

        done = asyncio.run(run())
        time.sleep(1.0)  # a poll can beat the callback: let the late ones arrive
    lags = sorted(returned - arrived[task_id] for task_id, returned in done)
    polls = sum(path.endswith(("record-info", "recordInfo")) for _, path in fake.requests)
    return {
        "tasks": tasks,
        "task_seconds": stage * 3,
        "lag_median_s": round(statistics.median(lags), 3),
        "lag_p95_s": round(lags[max(0, int(len(lags) * 0.95) - 1)], 3),
        "polls_per_task": round(polls / tasks, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--stage", type=float, default=5.0)
    args = parser.parse_args()
    result = {
        "wait_listening": lag(True, args.tasks, args.stage),
        "wait_polling_only": lag(False, args.tasks, args.stage),
        "as_completed_listening": lag(True, args.tasks, args.stage, many=True),
        "creates": creates(args.processes, args.creates, args.limit, args.period),
    }
    for name in ("wait_listening", "wait_polling_only", "as_completed_listening"):
        w = result[name]
        print(
            f"8. {name}: {w['tasks']} tasks of {w['task_seconds']:g} s, lag after the callback "
            f"median {w['lag_median_s']} s, p95 {w['lag_p95_s']} s, "
            f"{w['polls_per_task']} polls per task"
        )
    c = result["creates"]
    print(
        f"7. {c['processes']} processes x {c['creates_each']} creates, one Redis budget of "
        f"{c['budget']}: {c['http_429']} HTTP 429, {c['tasks_created']} tasks, "
        f"{c['elapsed_s']} s vs ideal {c['ideal_s']:g} s = {c['ratio']}x"
    )
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return (
        0 if c["http_429"] == 0 and c["tasks_created"] == c["processes"] * c["creates_each"] else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
