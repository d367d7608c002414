"""A scriptable hostile HTTP server on loopback, for tests of what a client survives.

Each answer is scripted per method and path: status, headers, a body given as bytes or
produced lazily (a generator, so a 100 MB body costs nothing to hold), dripped N bytes every
S seconds (or forever), never sent at all, or cut by closing the connection mid-body.
Every request is recorded and counted by method and path.

    with HostileServer() as server:
        server.script("POST", "/api/v1/generate/add-instrumental",
                      Reply(500, body=repeat(b"x", 100 * MB)))
        server.script("GET", "/slow", Reply(200, body=b"abc" * 100, drip=(1, 0.5)))
        server.script("GET", "/a", Reply.redirect(302, "/b"))
        server.script("GET", "/gone", [Reply(503), Reply(200, json={"ok": 1})])  # in order
        client = KieClient(api_key=..., base_url=server.url)
        ...
        assert server.count("POST", "/api/v1/generate/add-instrumental") == 1

A script is a `Reply`, a list of replies served in order (the last one repeats), or a
function of the `Request` returning a `Reply`. Lookup order: (method, path), (method, "*"),
("*", path), ("*", "*"); unscripted requests get a JSON 404. Paths match without the query.

Threaded; `stop()` (or leaving the `with`) releases every handler that hangs or drips
forever and closes the port."""

from __future__ import annotations

import contextlib
import http.server
import json as jsonlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

KB = 1024
MB = 1024 * KB

# Bytes of each request body kept for inspection; the rest is counted and dropped, so an
# upload of any size costs the server no memory.
KEEP_BODY = 1 * MB


def repeat(chunk: bytes, total: int, piece: int = 64 * KB) -> Callable[[], Iterator[bytes]]:
    """A body factory: `total` bytes made of `chunk` repeated, produced lazily."""

    def produce() -> Iterator[bytes]:
        block = (chunk * (piece // max(len(chunk), 1) + 1))[:piece]
        left = total
        while left > 0:
            out = block[: min(left, len(block))]
            left -= len(out)
            yield out

    return produce


def endless(chunk: bytes = b"x") -> Callable[[], Iterator[bytes]]:
    """A body factory that never ends (the server stops it when it stops)."""

    def produce() -> Iterator[bytes]:
        while True:
            yield chunk

    return produce


Body = bytes | Callable[[], Iterable[bytes]]


@dataclass
class Reply:
    """One scripted answer.

    - `body`: bytes, or a zero-argument function returning an iterable of bytes (called once
      per request, so the same Reply can serve many requests).
    - `json`: shorthand for a JSON body with `Content-Type: application/json`.
    - `headers`: sent as given, after the status line; a header given here wins over the
      automatic ones (set `Content-Length` yourself to lie about the length).
    - `length`: "auto" sends `Content-Length` for bytes bodies and reads-until-close for
      generated ones; "chunked" uses chunked transfer encoding; "none" never sends a length
      (the connection closes after the body); an int is sent as `Content-Length` as is.
    - `delay`: seconds to wait before the status line.
    - `hang`: accept the request and never answer (until the server stops).
    - `drip`: (n_bytes, seconds): the body is sent n bytes at a time with a pause after each.
    - `cut_after`: close the connection after this many body bytes (a truncated answer).
    - `header_drip`: (n_bytes, seconds): the status line and headers are sent n bytes at a
      time with a pause after each (the body follows at once, or per `drip`).
    """

    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    length: str | int = "auto"
    delay: float = 0.0
    hang: bool = False
    drip: tuple[int, float] | None = None
    cut_after: int | None = None
    header_drip: tuple[int, float] | None = None

    @classmethod
    def redirect(cls, status: int, location: str, **options: Any) -> Reply:
        return cls(status, headers={"Location": location}, **options)

    def chunks(self) -> Iterable[bytes]:
        if self.json is not None:
            return [jsonlib.dumps(self.json).encode()]
        if isinstance(self.body, bytes):
            return [self.body] if self.body else []
        return self.body()


@dataclass
class Request:
    """What the server received. `body` holds at most KEEP_BODY bytes; `body_size` is the
    whole size."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    body_size: int
    at: float

    def json(self) -> Any:
        return jsonlib.loads(self.body)


Script = Reply | list[Reply] | Callable[[Request], Reply]


class HostileServer:
    def __init__(self) -> None:
        self._scripts: dict[tuple[str, str], Script] = {}
        self._served: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # -- scripting -----------------------------------------------------------------------
    def script(self, method: str, path: str, script: Script) -> HostileServer:
        with self._lock:
            self._scripts[(method.upper(), path)] = script
            self._served[(method.upper(), path)] = 0
        return self

    def count(self, method: str = "*", path: str = "*") -> int:
        """Requests received, by method and path ("*" matches any)."""
        with self._lock:
            return sum(
                1 for r in self.requests if method in ("*", r.method) and path in ("*", r.path)
            )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + path

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> HostileServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd.close_open_connections()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------------
    def _reply_for(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            for key in (
                (request.method, request.path),
                (request.method, "*"),
                ("*", request.path),
                ("*", "*"),
            ):
                if key in self._scripts:
                    script = self._scripts[key]
                    served = self._served[key]
                    self._served[key] += 1
                    break
            else:
                return Reply(404, json={"code": 404, "msg": "not scripted"})
        if isinstance(script, Reply):
            return script
        if isinstance(script, list):
            return script[min(served, len(script) - 1)]
        return script(request)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: HostileServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> tuple[bytes, int]:
        kept = bytearray()
        size = 0

        def take(data: bytes) -> None:
            nonlocal size
            size += len(data)
            room = KEEP_BODY - len(kept)
            if room > 0:
                kept.extend(data[:room])

        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = n
                while left:
                    data = self.rfile.read(min(left, 64 * KB))
                    if not data:
                        raise ConnectionError("client closed mid-body")
                    take(data)
                    left -= len(data)
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                data = self.rfile.read(min(left, 64 * KB))
                if not data:
                    raise ConnectionError("client closed mid-body")
                take(data)
                left -= len(data)
        return bytes(kept), size

    def _handle(self) -> None:
        owner = self.server.owner
        try:
            body, size = self._read_body()
        except (ConnectionError, ValueError):
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={k: v for k, v in self.headers.items()},
            body=body,
            body_size=size,
            at=time.monotonic(),
        )
        reply = owner._reply_for(request)
        try:
            self._answer(reply, owner.stopping)
        except (ConnectionError, OSError):
            self.close_connection = True

    def _answer(self, reply: Reply, stopping: threading.Event) -> None:
        if reply.hang:
            stopping.wait()
            self.close_connection = True
            return
        if reply.delay and stopping.wait(reply.delay):
            self.close_connection = True
            return
        chunks = reply.chunks()
        given = {k.lower() for k in reply.headers}
        self.send_response_only(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.json is not None and "content-type" not in given:
            self.send_header("Content-Type", "application/json")
        mode = reply.length
        if mode == "auto":
            mode = sum(len(c) for c in chunks) if isinstance(chunks, list) else "none"
        chunked = mode == "chunked"
        if "content-length" not in given and "transfer-encoding" not in given:
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif isinstance(mode, int):
                self.send_header("Content-Length", str(mode))
        if mode == "none" or reply.cut_after is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        if reply.header_drip is None:
            self.end_headers()
        elif not self._drip_headers(reply.header_drip, stopping):
            self.close_connection = True
            return
        if self.command == "HEAD":
            return
        sent = 0
        step, pause = reply.drip or (0, 0.0)
        for chunk in chunks:
            while chunk:
                if stopping.is_set():
                    self.close_connection = True
                    return
                piece = chunk[:step] if step else chunk
                chunk = chunk[len(piece) :]
                if reply.cut_after is not None and sent + len(piece) >= reply.cut_after:
                    self._write(piece[: reply.cut_after - sent], chunked)
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self._write(piece, chunked)
                sent += len(piece)
                if pause and stopping.wait(pause):
                    self.close_connection = True
                    return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _drip_headers(self, drip: tuple[int, float], stopping: threading.Event) -> bool:
        """Send the buffered status line and headers a few bytes at a time; False when the
        server stopped meanwhile."""
        head = b"".join(self._headers_buffer) + b"\r\n"
        self._headers_buffer = []
        step, pause = drip
        for start in range(0, len(head), step):
            self.wfile.write(head[start : start + step])
            if stopping.wait(pause):
                return False
        return True

    def _write(self, data: bytes, chunked: bool) -> None:
        if not data:
            return
        if chunked:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle
