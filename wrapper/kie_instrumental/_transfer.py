"""What both drivers do with one HTTP exchange besides sending it: keep it within its time
budget as a whole, read at most a bounded body, and let nothing that holds the request (and so
the Authorization header) escape on a traceback.

httpx's timeouts bound each network read, not the request: a server dripping one byte every
half second keeps a read-timeout-of-2 request alive forever. So each request also gets an
overall budget (its largest timeout phase), checked between chunks; the async driver runs the
exchange under `asyncio.timeout`, and the sync driver has a watchdog thread shut the socket of a
request that stalls past its budget, from the moment the connection is known (before the
request is written, so slowly dripped response headers are covered too).

Answers are read raw and decoded here, never by httpx: its decoders inflate a whole network
chunk at once (64 KiB of gzip can become 64 MiB). The drivers ask for `identity`; a server that
compresses anyway is inflated a bounded piece at a time.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import suppress
from types import FrameType
from typing import Any

import httpx

# Answers of api.kie.ai and the upload host are a few kilobytes; reading stops here.
BODY_LIMIT = 2 * 1024 * 1024
# What is kept of a file host's error page (never the whole page).
ERROR_PAGE_LIMIT = 64 * 1024
# The most a compressed answer may inflate to in one step.
INFLATE_PIECE = 64 * 1024


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


class Decoder:
    """Undoes an answer's Content-Encoding (none, gzip or deflate) a bounded piece at a time:
    `pieces(raw)` yields at most INFLATE_PIECE bytes per step, so a reader that stops at its
    limit never holds more than that. Other encodings (br, zstd, stacked ones) were not asked
    for and are refused."""

    def __init__(self, encoding: str | None) -> None:
        coding = (encoding or "identity").strip().lower()
        self._inflater: Any = None
        self._raw_deflate = False
        if coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":  # zlib-wrapped as specified, or raw as some servers send
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_deflate = True
        elif coding not in ("identity", ""):
            raise httpx.DecodingError(
                f"the answer is encoded as {coding[:40]!r}, which was not asked for"
            )

    @classmethod
    def of(cls, response: httpx.Response) -> Decoder:
        """The decoder for `response`; none for an answer that httpx already read and
        decoded (a transport of the caller's own gave it whole)."""
        if response.is_stream_consumed:
            return cls(None)
        return cls(response.headers.get("content-encoding"))

    def pieces(self, data: bytes) -> Iterator[bytes]:
        if self._inflater is None:
            yield data
            return
        try:
            while data:
                out = self._inflate(data)
                data = self._inflater.unconsumed_tail
                if out:
                    yield out
        except zlib.error as exc:
            raise httpx.DecodingError(f"the answer cannot be decoded: {exc}") from None

    def _inflate(self, data: bytes) -> bytes:
        try:
            out: bytes = self._inflater.decompress(data, INFLATE_PIECE)
        except zlib.error:
            if not self._raw_deflate:
                raise
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, INFLATE_PIECE)
        self._raw_deflate = False  # the first bytes decided which deflate it is
        return out


class Sending:
    """Whether an async request has begun to be written (httpcore's `trace` extension): until
    then, dropping it sends nothing."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False

    async def trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith(".send_request_headers.started"):
            self.started = True


class Watch:
    """One request under a Watchdog: its socket is shut at its deadline. The socket is given
    as soon as it is known (`found`), possibly only after the deadline passed."""

    __slots__ = ("_dog", "deadline", "ended", "sock")

    def __init__(self, dog: Watchdog, deadline: float) -> None:
        self._dog = dog
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.ended = False

    def found(self, sock: socket.socket | None) -> None:
        if sock is not None and self.sock is None and not self.ended:
            self._dog.arm(self, sock)

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's `trace` request extension: the socket of a new connection as soon as it
        is open; that of a reused one when the request is about to be written."""
        if self.sock is not None:
            return
        if name == "connection.connect_tcp.complete":
            self.found(_socket_of_stream(info.get("return_value")))
        elif name.endswith(".send_request_headers.started"):
            self.found(_socket_of_stream(_sending_stream()))

    def end(self) -> None:
        self.ended = True
        if self.sock is not None:
            self._dog.disarm(self)


# The watchdog's thread, named for a thread dump.
THREAD_NAME = "kie-instrumental-watchdog"


class Watchdog:
    """One thread for all of a sync client's requests: at a request's deadline it shuts the
    request's socket, which ends a read blocked on a silent or dripping server."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, budget: Budget) -> Watch:
        return Watch(self, budget.deadline)

    def arm(self, watch: Watch, sock: socket.socket) -> None:
        with self._wake:
            watch.sock = sock
            if watch.deadline <= time.monotonic():  # known only after the deadline
                _shut(sock)
                return
            heapq.heappush(self._heap, (watch.deadline, next(self._ids), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name=THREAD_NAME)
                self._thread.start()
            self._wake.notify()

    def disarm(self, watch: Watch) -> None:
        with self._wake:
            watch.ended = True  # dropped from the heap when it comes up
            # The thread looks again now: with no request left it ends, instead of waiting
            # out the budget of one that has already finished.
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while self._heap:
                deadline, _, watch = self._heap[0]
                if watch.ended:
                    heapq.heappop(self._heap)
                    continue
                left = deadline - time.monotonic()
                if left > 0:
                    self._wake.wait(left)  # woken early by arm() and disarm()
                    continue
                heapq.heappop(self._heap)
                if watch.sock is not None:
                    _shut(watch.sock)
            self._thread = None


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _sending_stream() -> object:
    """The network stream of the httpcore connection that is writing a request: httpcore
    announces a reused connection's send without naming its stream, so it is taken from the
    connection object on the call stack (its `_network_stream`); None when not found. The
    search allows for wrappers between httpcore and `Watch.trace` (a tracer's, a profiler's)."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(16):
        if frame is None:
            break
        stream = getattr(frame.f_locals.get("self"), "_network_stream", None)
        if stream is not None:
            return stream
        frame = frame.f_back
    return None


def _socket_of_stream(stream: Any) -> socket.socket | None:
    if stream is None:
        return None
    try:
        sock = stream.get_extra_info("socket")
    except Exception:  # a transport of the caller's own: no socket to watch
        return None
    return sock if isinstance(sock, socket.socket) else None


def socket_of(response: httpx.Response) -> socket.socket | None:
    return _socket_of_stream(response.extensions.get("network_stream"))
