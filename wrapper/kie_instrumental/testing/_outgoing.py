"""Outgoing callbacks: signed like KIE signs them, tried up to 3 times, run in the background
so the request that started them answers at once. Route modules decide what to send when.
With `app`, every callback goes to that ASGI app in-process (the URL's path and query kept),
whatever the mode: no port, no network."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from .._clock import Clock
from ._lifecycle import FakeTask
from ._signing import signed_callback

CallbackMode = Literal["off", "loopback", "any"]
CALLBACK_ATTEMPTS = 3


class CallbackSender:
    def __init__(
        self,
        *,
        mode: CallbackMode,
        secret: str,
        retry_delay: float,
        clock: Clock,
        app: Any = None,
    ) -> None:
        self.mode = mode
        self.app = app  # an ASGI app that receives every callback in-process
        self.secret = secret
        self.retry_delay = retry_delay
        self.clock = clock
        self._background: set[asyncio.Task[None]] = set()

    def start(
        self,
        task: FakeTask,
        url: str,
        deliveries: Callable[[httpx.AsyncClient], Awaitable[None]],
    ) -> None:
        """Run `deliveries` in the background with an HTTP client, if the mode lets `url` be
        called; otherwise note on the task why nothing was sent."""
        refused = self.mode == "off" or (self.mode == "loopback" and not is_loopback(url))
        if refused and self.app is None:
            task.callbacks.append(("all", f"not sent ({self.mode} mode)"))
            return
        job = asyncio.get_running_loop().create_task(self._run(deliveries))
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def _run(self, deliveries: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
        transport = None if self.app is None else httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(timeout=15.0, transport=transport) as client:
            await deliveries(client)

    async def send(
        self, client: httpx.AsyncClient, task: FakeTask, url: str, stage: str, body: bytes
    ) -> bool:
        """POST one signed callback, tried up to CALLBACK_ATTEMPTS times; True once answered
        HTTP 200. Each attempt is noted on the task."""
        for attempt in range(1, CALLBACK_ATTEMPTS + 1):
            _, headers = signed_callback(
                body, self.secret, timestamp=self.clock.time(), task_id=task.task_id
            )
            try:
                answer = await client.post(url, content=body, headers=headers)
                outcome = f"HTTP {answer.status_code}"
                delivered = answer.status_code == 200
            except httpx.HTTPError as exc:
                outcome, delivered = type(exc).__name__, False
            task.callbacks.append((stage, f"attempt {attempt}: {outcome}"))
            if delivered:
                return True
            await self.clock.asleep(self.retry_delay * attempt)
        return False

    async def drain(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def aclose(self) -> None:
        for job in list(self._background):
            job.cancel()
        await asyncio.gather(*list(self._background), return_exceptions=True)


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost is never resolved: no network traffic
