"""How FakeKie's answers look: KIE's envelope, the upload host's envelope, a plain 404."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response


def envelope(
    code: int,
    msg: str,
    data: Any = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """KIE's `{"code", "msg", "data"}` answer."""
    return JSONResponse(
        {"code": code, "msg": msg, "data": data}, status_code=status, headers=headers
    )


def upload_envelope(code: int, msg: str, data: Any = None) -> JSONResponse:
    """The upload host's answer, which adds `success`."""
    return JSONResponse({"success": code == 200, "code": code, "msg": msg, "data": data})


def not_found() -> Response:
    return Response("not found", 404, media_type="text/plain")
