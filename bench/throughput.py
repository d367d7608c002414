"""3. Async throughput against FakeKie served by a real server process on a loopback port:
N add_instrumental calls with 100 in flight, AsyncKieClient against raw httpx.AsyncClient
(the client's limiter and the fake's rate and credit limits off, callbacks off)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from kie_instrumental import AsyncKieClient

from .overhead import BODY, KWARGS

IN_FLIGHT = 100


@contextlib.contextmanager
def fake_server() -> Iterator[tuple[str, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "kie-instrumental"),
        "fake-server",
        "--port",
        str(port),
        "--stage-seconds",
        "0",
        "--no-rate-limit",
        "--unlimited-credits",
        "--callbacks",
        "off",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline() if process.stdout else ""
        key = banner.split("api key: ")[1].split()[0]
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url + "/api/v1/chat/credit", headers={"Authorization": f"Bearer {key}"})
                break
            time.sleep(0.05)
        yield url, key
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _many(call: Any, count: int) -> float:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with gate:
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started


async def _raw(url: str, key: str, count: int) -> float:
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        headers = {"Authorization": f"Bearer {key}"}

        async def call() -> None:
            response = await http.post(
                "/api/v1/generate/add-instrumental", json=BODY, headers=headers
            )
            assert response.json()["code"] == 200

        return await _many(call, count)


async def _client(url: str, key: str, count: int) -> float:
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=IN_FLIGHT), timeout=60)
    async with AsyncKieClient(
        key, base_url=url, rate_limit=None, http_client=http, route="legacy"
    ) as client:
        seconds = await _many(lambda: client.add_instrumental(**KWARGS), count)
    await http.aclose()
    return seconds


def run(count: int, rounds: int = 3) -> dict[str, Any]:
    raw_times, client_times = [], []
    with fake_server() as (url, key):
        asyncio.run(_raw(url, key, 200))  # warm up the server
        for _ in range(rounds):
            raw_times.append(asyncio.run(_raw(url, key, count)))
            client_times.append(asyncio.run(_client(url, key, count)))
    raw, client = sorted(raw_times)[rounds // 2], sorted(client_times)[rounds // 2]
    return {
        "calls": count,
        "in_flight": IN_FLIGHT,
        "raw_httpx_calls_per_s": round(count / raw, 1),
        "async_kie_client_calls_per_s": round(count / client, 1),
        "ratio": round(raw / client, 3),
    }
