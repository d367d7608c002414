"""Ready-made callback receivers: a Starlette app (works under FastAPI too) and a WSGI app.

Both serve POST `path` (/kie/callback by default) and do what webhooks.receive does. Before
anything else they bound the body: a Content-Length above MAX_BODY is refused unread (413), a
body is read only up to MAX_BODY + 1 bytes, and a WSGI request without a usable length is
refused (411/400) instead of read to the end of the stream. Every answer is JSON
{"detail": ...}: 200 processed, duplicate or ignored; 401 refused; 500 the handler failed;
503 try again later. The handler's event carries the called URL's query string.
The Starlette app needs the `starlette` extra; the WSGI app needs nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._emitter import Emitter
from ._models import CallbackEvent
from .events import Hook
from .webhooks import DEFAULT_TOLERANCE, Deduplicator, areceive, receive, require_secret

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ._client import AsyncKieClient, KieClient

__all__ = ["CALLBACK_PATH", "MAX_BODY", "starlette_app", "wsgi_app"]

CALLBACK_PATH = "/kie/callback"
MAX_BODY = 1 << 20  # KIE's callbacks are a few kB
_CHUNK = 64 << 10
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
logger = logging.getLogger("kie_instrumental.webhooks")


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _declared_length(value: str | None) -> int | None:
    """Content-Length checked before a byte of the body is read."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise _Refused(400, "invalid Content-Length")
    if int(value) > MAX_BODY:
        raise _Refused(413, f"body larger than {MAX_BODY} bytes")
    return int(value)


def _grow(body: bytearray, chunk: bytes) -> None:
    body += chunk
    if len(body) > MAX_BODY:
        raise _Refused(413, f"body larger than {MAX_BODY} bytes")


def starlette_app(
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator | None = None,
    confirm_with: AsyncKieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    path: str = CALLBACK_PATH,
    hooks: Iterable[Hook] | None = None,
) -> Starlette:
    """`handler(event)` (plain or async) runs once per (task id, stage) with `confirm_with`,
    else once per signed delivery with a notice (no tracks). An empty secret is refused."""
    require_secret(secret)
    try:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Starlette receiver needs Starlette: pip install 'kie-instrumental[starlette]'"
        ) from None

    seen = dedup or Deduplicator()
    events = Emitter(hooks)  # callback events (kie_instrumental.events) for these hooks

    async def read(request: Request) -> bytes:
        _declared_length(request.headers.get("content-length"))
        body = bytearray()
        async for chunk in request.stream():
            _grow(body, chunk)
        return bytes(body)

    async def kie_callback(request: Request) -> JSONResponse:
        try:
            body = await read(request)
            receipt = await areceive(
                body,
                request.headers,
                secret,
                handler,
                dedup=seen,
                confirm_with=confirm_with,
                tolerance=tolerance,
                query=request.url.query,
                hooks=events,
            )
            status, detail = receipt.status, receipt.detail
        except _Refused as refused:
            status, detail = refused.status, refused.detail
        except Exception:
            logger.exception("callback receiver failed")
            status, detail = 500, "internal error"
        return JSONResponse({"detail": detail}, status_code=status)

    return Starlette(routes=[Route(path, kie_callback, methods=["POST"])])


def _read_wsgi(environ: dict[str, Any]) -> bytes:
    length = _declared_length(environ.get("CONTENT_LENGTH"))
    stream = environ["wsgi.input"]
    if length is None and not environ.get("wsgi.input_terminated"):
        # Without a length, reading would wait for the end of the stream (a stalled worker).
        raise _Refused(411, "Content-Length required")
    body = bytearray()
    while length is None or len(body) < length:
        want = _CHUNK if length is None else min(_CHUNK, length - len(body))
        chunk = stream.read(want)
        if not chunk:
            break
        _grow(body, chunk)
    return bytes(body)


def wsgi_app(
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator | None = None,
    confirm_with: KieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    path: str = CALLBACK_PATH,
    hooks: Iterable[Hook] | None = None,
) -> WSGIApp:
    """`handler(event)` runs once per (task id, stage) with `confirm_with`, else once per
    signed delivery with a notice (no tracks). An empty secret is refused. `hooks` get the
    callback events (received, verified, refused; see kie_instrumental.events)."""
    require_secret(secret)
    seen = dedup or Deduplicator()
    events = Emitter(hooks)  # callback events (kie_instrumental.events) for these hooks

    def answer(environ: dict[str, Any]) -> tuple[int, str]:
        if environ.get("PATH_INFO") != path:
            return 404, "not found"
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, "method not allowed"
        try:
            body = _read_wsgi(environ)
        except _Refused as refused:
            return refused.status, refused.detail
        headers = {
            key[5:].replace("_", "-"): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        receipt = receive(
            body,
            headers,
            secret,
            handler,
            dedup=seen,
            confirm_with=confirm_with,
            tolerance=tolerance,
            query=environ.get("QUERY_STRING", ""),
            hooks=events,
        )
        return receipt.status, receipt.detail

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            status, detail = answer(environ)
        except Exception:
            logger.exception("callback receiver failed")
            status, detail = 500, "internal error"
        payload = json.dumps({"detail": detail}).encode()
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return app


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
