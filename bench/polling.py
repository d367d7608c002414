"""4. Polling: wait() over task durations drawn log-uniformly from 5 s to 600 s (fixed seed,
fake clock), against fixed 10 s and 30 s polling run through the same client code."""

from __future__ import annotations

import json
import math
import random
import statistics
from typing import Any

import httpx
from kie_instrumental import KieClient, PollSchedule
from kie_instrumental.testing import FakeClock

SEED = 20261124


def durations(count: int) -> list[float]:
    rng = random.Random(SEED)
    return [math.exp(rng.uniform(math.log(5), math.log(600))) for _ in range(count)]


def simulate(schedule: PollSchedule, duration: float) -> tuple[int, float]:
    """(record-info calls, detection lag in seconds) for one task of `duration` seconds."""
    clock = FakeClock()
    done_at = clock.monotonic() + duration
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        status = "SUCCESS" if clock.monotonic() >= done_at else "PENDING"
        tracks = [{"id": "t"}] if status == "SUCCESS" else None
        return httpx.Response(
            200,
            content=json.dumps(
                {
                    "code": 200,
                    "msg": "ok",
                    "data": {
                        "taskId": "t",
                        "status": status,
                        "response": {"sunoData": tracks} if tracks else None,
                    },
                }
            ).encode(),
        )

    client = KieClient(
        "k",
        clock=clock,
        rate_limit=None,
        poll_schedule=schedule,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        route="legacy",  # the canned answers are record-info's
    )
    client.wait("t", timeout=3600)
    return calls, clock.monotonic() - done_at


def summarise(schedule: PollSchedule, tasks: list[float]) -> dict[str, Any]:
    results = [simulate(schedule, duration) for duration in tasks]
    lags = [lag for _, lag in results]
    fractions = sorted(lag / d for (_, lag), d in zip(results, tasks, strict=True))
    return {
        "total_calls": sum(calls for calls, _ in results),
        "median_lag_s": round(statistics.median(lags), 2),
        "p95_lag_s": round(sorted(lags)[int(0.95 * len(lags))], 2),
        "median_lag_fraction": round(statistics.median(fractions), 4),
        "p95_lag_fraction": round(fractions[int(0.95 * len(fractions))], 4),
    }


def run(count: int) -> dict[str, Any]:
    tasks = durations(count)
    return {
        "tasks": count,
        "seed": SEED,
        "wait() backoff": summarise(PollSchedule(), tasks),
        "fixed 10 s": summarise(PollSchedule(first=10, factor=1, cap=10), tasks),
        "fixed 30 s": summarise(PollSchedule(first=30, factor=1, cap=30), tasks),
    }
