"""What both drivers do with one HTTP exchange besides sending it: keep it within its time
budget as a whole, read at most a bounded body, and let nothing that holds the request (and so
the Authorization header) escape on a traceback.

httpx's timeouts bound each network read, not the request: a server dripping one byte every
half second keeps a read-timeout-of-2 request alive forever. So each request also gets an
overall budget (its largest timeout phase), checked between chunks; the async driver runs the
exchange under `asyncio.timeout`, and the sync driver has a watchdog thread shut the socket of a
request that stalls past its budget.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx

# Answers of api.kie.ai and the upload host are a few kilobytes; reading stops here.
BODY_LIMIT = 2 * 1024 * 1024
# What is kept of a file host's error page (never the whole page).
ERROR_PAGE_LIMIT = 64 * 1024


class Budget:
    """A request's overall deadline, on the real monotonic clock (like httpx's timeouts)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0

    def check(self) -> None:
        if self.passed():
            raise self.exceeded()

    def exceeded(self) -> httpx.TimeoutException:
        return httpx.ReadTimeout(f"the request took longer than its {self.seconds:g} s timeout")


class Collector:
    """An answer's body, kept up to `limit` bytes; `oversize` once more arrived."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.oversize = False

    def add(self, chunk: bytes) -> bool:
        """Keep `chunk`; False when the limit is reached (stop reading)."""
        room = self.limit - self.size
        if len(chunk) > room:
            self.parts.append(chunk[:room])
            self.size = self.limit
            self.oversize = True
            return False
        self.parts.append(chunk)
        self.size += len(chunk)
        return True

    def body(self) -> bytes:
        return b"".join(self.parts)


def stripped(exc: BaseException) -> BaseException:
    """`exc` without its traceback and chained exceptions: the frames below a send hold the
    request, whose headers carry the API key (error reporters record frame locals). Used for
    what must propagate as is (KeyboardInterrupt, CancelledError); raise it outside any
    `except` block so no new context is attached."""
    exc.__traceback__ = None
    exc.__context__ = None
    exc.__cause__ = None
    return exc


class Watchdog:
    """One thread for all of a sync client's requests: at a request's deadline it shuts the
    request's socket, which ends a read blocked on a silent or dripping server."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, socket.socket]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def guard(self, response: httpx.Response, budget: Budget) -> Iterator[None]:
        sock = _socket_of(response)
        if sock is None:
            yield
            return
        with self._wake:
            ident = next(self._ids)
            heapq.heappush(self._heap, (budget.deadline, ident, sock))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._cancelled.add(ident)

    def _run(self) -> None:
        with self._wake:
            while self._heap:
                deadline, ident, sock = self._heap[0]
                if ident in self._cancelled:
                    heapq.heappop(self._heap)
                    self._cancelled.discard(ident)
                    continue
                left = deadline - time.monotonic()
                if left > 0:
                    self._wake.wait(min(left, 1.0))
                    continue
                heapq.heappop(self._heap)
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._thread = None


def _socket_of(response: httpx.Response) -> socket.socket | None:
    stream: Any = response.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        sock = stream.get_extra_info("socket")
    except Exception:  # a transport of the caller's own: no socket to watch
        return None
    return sock if isinstance(sock, socket.socket) else None
