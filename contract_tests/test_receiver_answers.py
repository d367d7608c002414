"""What KIE and an operator see from each ready-made receiver, byte for byte: the exact status,
status line and JSON detail of every refusal, the headers of every answer, the log line of an
internal failure, the tolerance and query a receiver passes on. Both apps are driven at their
own interface (raw ASGI messages, a raw WSGI environ), so a declared Content-Length, a stream
that reads short or fails, and a missing query string are exactly what the test says."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
from typing import Any

import pytest
from _callbacks import SECRET, callback, signed
from kie_instrumental import CallbackEvent
from kie_instrumental.receivers import CALLBACK_PATH, MAX_BODY, starlette_app, wsgi_app

TOO_BIG = f"body larger than {MAX_BODY} bytes"


class Answer:
    def __init__(self, status: int, line: str, headers: dict[str, str], body: bytes) -> None:
        self.status, self.line, self.headers, self.body = status, line, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def call_asgi(
    app: Any,
    chunks: list[bytes],
    *,
    content_length: str | None = None,
    headers: dict[str, str] | None = None,
    query: bytes = b"",
    fail: BaseException | None = None,
) -> Answer:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if content_length is not None:
        raw.append((b"content-length", content_length.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CALLBACK_PATH,
        "raw_path": CALLBACK_PATH.encode(),
        "query_string": query,
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    pending = list(chunks) or [b""]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if fail is not None:
            raise fail
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return Answer(start["status"], str(start["status"]), answer_headers, body)


class ShortReads(io.RawIOBase):
    """A wsgi.input returning at most `step` bytes per read, as a socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


class Broken(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise OSError("connection reset by peer")


def call_wsgi(
    app: Any,
    body: bytes = b"",
    *,
    content_length: str | None = None,
    headers: dict[str, str] | None = None,
    stream: Any = None,
    method: str = "POST",
    path: str = CALLBACK_PATH,
    query: str | None = None,
    terminated: bool = False,
) -> Answer:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": stream if stream is not None else io.BytesIO(body),
    }
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    if query is not None:
        environ["QUERY_STRING"] = query
    if terminated:
        environ["wsgi.input_terminated"] = True
    for key, value in (headers or {}).items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        started.append((status, response_headers))

    payload = b"".join(app(environ, start_response))
    line, response_headers = started[0]
    return Answer(int(line.split()[0]), line, dict(response_headers), payload)


class Handler:
    def __init__(self) -> None:
        self.events: list[CallbackEvent] = []

    def __call__(self, event: CallbackEvent) -> None:
        self.events.append(event)


def test_wsgi_status_lines_and_headers_are_exact() -> None:
    handler = Handler()
    app = wsgi_app(SECRET, handler)
    body, headers = signed(callback("complete"))
    ok = call_wsgi(app, body, content_length=str(len(body)), headers=headers)
    assert (ok.line, ok.json()) == ("200 OK", {"detail": "ok"})
    assert ok.headers == {"Content-Type": "application/json", "Content-Length": str(len(ok.body))}
    assert len(handler.events) == 1
    forged = {**headers, "X-Webhook-Signature": "AAAA" + headers["X-Webhook-Signature"][4:]}
    refused = call_wsgi(app, body, content_length=str(len(body)), headers=forged)
    assert (refused.line, refused.json()) == (
        "401 Unauthorized",
        {"detail": "signature does not match"},
    )
    assert refused.headers["Content-Length"] == str(len(refused.body))
    elsewhere = call_wsgi(app, body, path="/elsewhere")
    assert (elsewhere.line, elsewhere.json()) == ("404 Not Found", {"detail": "not found"})
    get = call_wsgi(app, method="GET")
    assert (get.line, get.json()) == ("405 Method Not Allowed", {"detail": "method not allowed"})
    unbounded = call_wsgi(app, body, headers=headers)
    assert (unbounded.line, unbounded.json()) == (
        "411 Length Required",
        {"detail": "Content-Length required"},
    )
    assert len(handler.events) == 1


@pytest.mark.parametrize("kind", ["starlette", "wsgi"])
def test_body_bounds_answer_exact_statuses_and_details(kind: str) -> None:
    handler = Handler()
    app = (starlette_app if kind == "starlette" else wsgi_app)(SECRET, handler)
    body, headers = signed(callback("complete"))

    def post(chunks: list[bytes], length: str | None, *, terminated: bool = False) -> Answer:
        if kind == "starlette":
            return call_asgi(app, chunks, content_length=length, headers=headers)
        data = b"".join(chunks)
        return call_wsgi(app, data, content_length=length, headers=headers, terminated=terminated)

    # A declared length over the bound is refused before the (short) body is read.
    declared = post([body], str(MAX_BODY + 1))
    assert (declared.status, declared.json()) == (413, {"detail": TOO_BIG})
    invalid = post([body], "12abc")
    assert (invalid.status, invalid.json()) == (400, {"detail": "invalid Content-Length"})
    thirteen_digits = post([body], str(len(body)).zfill(13))
    assert (thirteen_digits.status, thirteen_digits.json()) == (
        400,
        {"detail": "invalid Content-Length"},
    )
    assert handler.events == []
    # Twelve digits (leading zeros are valid HTTP) is a length like any other.
    twelve_digits = post([body], str(len(body)).zfill(12))
    assert (twelve_digits.status, twelve_digits.json()) == (200, {"detail": "ok"})
    assert len(handler.events) == 1
    # Exactly MAX_BODY bytes is within the bound, declared or not (JSON allows the padding).
    full = body + b" " * (MAX_BODY - len(body))
    at_bound = post([full], str(MAX_BODY))
    assert (at_bound.status, at_bound.json()) == (200, {"detail": "duplicate"})
    at_bound_unsaid = post([full[: MAX_BODY // 2], full[MAX_BODY // 2 :]], None, terminated=True)
    assert (at_bound_unsaid.status, at_bound_unsaid.json()) == (200, {"detail": "duplicate"})
    # No declared length: the bound holds while reading.
    chunk = b" " * (64 << 10)
    oversized = post([chunk] * (MAX_BODY // len(chunk) + 1), None, terminated=True)
    assert (oversized.status, oversized.json()) == (413, {"detail": TOO_BIG})
    assert len(handler.events) == 1


def test_wsgi_reads_exactly_the_declared_length_from_a_stream_that_reads_short() -> None:
    handler = Handler()
    app = wsgi_app(SECRET, handler)
    body, headers = signed(callback("complete"))
    stream = ShortReads(body + b"garbage after the declared length", step=7)
    answer = call_wsgi(app, content_length=str(len(body)), headers=headers, stream=stream)
    assert (answer.status, answer.json()) == (200, {"detail": "ok"})
    assert len(handler.events) == 1


@pytest.mark.parametrize("kind", ["starlette", "wsgi"])
def test_a_failure_inside_the_receiver_is_a_logged_json_500(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Handler()
    app = (starlette_app if kind == "starlette" else wsgi_app)(SECRET, handler)
    body, headers = signed(callback("complete"))
    caplog.set_level(logging.ERROR, logger="kie_instrumental.webhooks")
    if kind == "starlette":
        answer = call_asgi(app, [body], headers=headers, fail=OSError("connection reset"))
    else:
        answer = call_wsgi(app, content_length=str(len(body)), headers=headers, stream=Broken())
    assert (answer.status, answer.json()) == (500, {"detail": "internal error"})
    if kind == "wsgi":
        assert answer.line == "500 Internal Server Error"
    failures = [r for r in caplog.records if r.name == "kie_instrumental.webhooks"]
    assert [r.getMessage() for r in failures] == ["callback receiver failed"]
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is OSError
    assert handler.events == []


@pytest.mark.parametrize("kind", ["starlette", "wsgi"])
def test_the_receivers_apply_their_tolerance(kind: str) -> None:
    handler = Handler()
    app = (starlette_app if kind == "starlette" else wsgi_app)(SECRET, handler, tolerance=10)
    body, headers = signed(callback("complete"), at=time.time() - 60)
    if kind == "starlette":
        answer = call_asgi(app, [body], headers=headers)
    else:
        answer = call_wsgi(app, body, content_length=str(len(body)), headers=headers)
    assert answer.status == 401
    assert answer.json()["detail"].startswith("timestamp is 6")
    assert handler.events == []


def test_a_wsgi_environ_without_a_query_string_gives_an_empty_query() -> None:
    handler = Handler()
    app = wsgi_app(SECRET, handler)
    body, headers = signed(callback("complete"))
    answer = call_wsgi(app, body, content_length=str(len(body)), headers=headers)
    assert answer.status == 200
    assert [e.query for e in handler.events] == [""]
    assert handler.events[0].query_params == {}


def test_the_starlette_receiver_without_starlette_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    with pytest.raises(ImportError) as raised:
        starlette_app(SECRET, Handler())
    assert str(raised.value) == (
        "the Starlette receiver needs Starlette: pip install 'kie-instrumental[starlette]'"
    )
