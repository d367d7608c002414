"""6. The client's limiter against a server with the same limit: N concurrent creates through
one AsyncKieClient (and one KieClient shared by N threads) against FakeKie served on a real
loopback port, both at 20 requests per 10 s. Counts the HTTP 429s the server sent.

Two ways of counting a slot are compared: from the moment the request is sent (the limiter
before this measurement) and from the moment its answer arrived (the limiter now). The server
counts a request when it arrives, somewhere between the two, so only the second can never let
a slot expire on the client before it expires on the server.

    .venv/bin/python -m bench.ratelimit [--runs N] [--creates N] [--limit 20 --period 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from typing import Any

import httpx
from kie_instrumental import AsyncKieClient, KieClient
from kie_instrumental._clock import SYSTEM_CLOCK
from kie_instrumental._ratelimit import RateLimiter, Slot
from kie_instrumental.testing import FakeKie

FIELDS = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "t",
    "tags": "a",
    "negative_tags": "b",
    "callback_url": "https://example.com/cb",
}


class CountFromSend(RateLimiter):
    """The earlier limiter: a slot's period starts when the request is sent."""

    def finished(self, slot: Slot) -> None:
        pass

    def acquire(self) -> Slot | float:
        got = super().acquire()
        if isinstance(got, Slot):
            with self._lock:
                got.at = self._clock.monotonic()
        return got


def _counting_hooks(statuses: list[int]) -> dict[str, Any]:
    def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    async def arecord(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    return {"sync": [record], "async": [arecord]}


def one_run(mode: str, limiter: str, creates: int, limit: int, period: float) -> dict[str, Any]:
    fake = FakeKie(rate_limit=(limit, period), callbacks="off", credits=None)
    statuses: list[int] = []
    hooks = _counting_hooks(statuses)
    options: dict[str, Any] = {
        "api_key": fake.api_key,
        "rate_limit": (limit, period),
        "max_retries": 0,
    }
    started = time.monotonic()
    errors = 0
    with fake.serve() as url:
        options["base_url"] = url
        if mode == "async":

            async def main() -> int:
                http = httpx.AsyncClient(event_hooks={"response": hooks["async"]})
                client = AsyncKieClient(http_client=http, **options)
                if limiter == "send":
                    client._core.limiter = CountFromSend(limit, period, SYSTEM_CLOCK)
                results = await asyncio.gather(
                    *(client.add_instrumental(**FIELDS) for _ in range(creates)),
                    return_exceptions=True,
                )
                await http.aclose()
                return sum(isinstance(r, Exception) for r in results)

            errors = asyncio.run(main())
        else:
            http = httpx.Client(event_hooks={"response": hooks["sync"]})
            client = KieClient(http_client=http, **options)
            if limiter == "send":
                client._core.limiter = CountFromSend(limit, period, SYSTEM_CLOCK)
            failed: list[Exception] = []

            def worker() -> None:
                try:
                    client.add_instrumental(**FIELDS)
                except Exception as exc:
                    failed.append(exc)

            threads = [threading.Thread(target=worker) for _ in range(creates)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=600)
            http.close()
            errors = len(failed)
    return {
        "mode": mode,
        "limiter": limiter,
        "creates": creates,
        "http_429": statuses.count(429),
        "errors": errors,
        "seconds": round(time.monotonic() - started, 1),
    }


def run(runs: int = 3, creates: int = 50, limit: int = 20, period: float = 10.0) -> dict[str, Any]:
    rows = [
        one_run(mode, limiter, creates, limit, period)
        for limiter in ("send", "answer")
        for mode in ("async", "sync")
        for _ in range(runs)
    ]
    return {"limit": limit, "period": period, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--period", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(run(args.runs, args.creates, args.limit, args.period), indent=1))


if __name__ == "__main__":
    main()
