"""How FakeKie's answers look: KIE's envelope, the upload host's envelope, a plain 404. The
content types are the ones real traffic shows: api.kie.ai adds a charset, the upload host not."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

API_JSON = "application/json;charset=UTF-8"
UPLOAD_JSON = "application/json"


def json_answer(
    document: Any,
    *,
    status: int = 200,
    media_type: str = API_JSON,
    headers: dict[str, str] | None = None,
) -> Response:
    content = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status, headers=headers, media_type=media_type)


def envelope(
    code: int,
    msg: str,
    data: Any = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = API_JSON,
) -> Response:
    """KIE's `{"code", "msg", "data"}` answer."""
    return json_answer(
        {"code": code, "msg": msg, "data": data},
        status=status,
        media_type=media_type,
        headers=headers,
    )


def upload_envelope(code: int, msg: str, data: Any = None) -> Response:
    """The upload host's answer, which adds `success`; errors carry no `data` at all."""
    document: dict[str, Any] = {"success": code == 200, "code": code, "msg": msg}
    if code == 200:
        document["data"] = data
    return json_answer(document, media_type=UPLOAD_JSON)


def not_found() -> Response:
    return Response("not found", 404, media_type="text/plain")
