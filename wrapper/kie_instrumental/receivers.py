"""Ready-made callback receivers: a Starlette app (works under FastAPI too) and a WSGI app.

Both serve POST /kie/callback and do what webhooks.receive does: verify the signature, parse,
optionally confirm a `complete` event with KIE, de-duplicate, run the handler, and answer 200
(processed or duplicate), 401 (rejected) or 500 (the handler failed: KIE delivers again).
The Starlette app needs the `fake` extra (starlette); the WSGI app needs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._models import CallbackEvent
from .webhooks import DEFAULT_TOLERANCE, Deduplicator, areceive, receive

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ._client import AsyncKieClient, KieClient

__all__ = ["CALLBACK_PATH", "starlette_app", "wsgi_app"]

CALLBACK_PATH = "/kie/callback"
MAX_BODY = 1 << 20  # KIE's callbacks are a few kB
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def starlette_app(
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator | None = None,
    confirm_with: AsyncKieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Starlette:
    """`handler(event)` (plain or async) runs once per (task id, stage)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    seen = dedup or Deduplicator()

    async def kie_callback(request: Request) -> JSONResponse:
        body = await request.body()
        receipt = await areceive(
            body[:MAX_BODY],
            request.headers,
            secret,
            handler,
            dedup=seen,
            confirm_with=confirm_with,
            tolerance=tolerance,
        )
        return JSONResponse({"detail": receipt.detail}, status_code=receipt.status)

    return Starlette(routes=[Route(CALLBACK_PATH, kie_callback, methods=["POST"])])


def wsgi_app(
    secret: str,
    handler: Callable[[CallbackEvent], Any],
    *,
    dedup: Deduplicator | None = None,
    confirm_with: KieClient | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> WSGIApp:
    """`handler(event)` runs once per (task id, stage)."""
    seen = dedup or Deduplicator()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != CALLBACK_PATH:
            status, detail = 404, "not found"
        elif environ.get("REQUEST_METHOD") != "POST":
            status, detail = 405, "method not allowed"
        else:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
            body = environ["wsgi.input"].read(length)
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
            )
            status, detail = receipt.status, receipt.detail
        payload = json.dumps({"detail": detail}).encode()
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return app


_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}
