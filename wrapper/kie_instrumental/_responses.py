"""Reading KIE's answers: the envelope, its body code, and the error each code maps to.

The body code decides first, the HTTP status second (KIE answers most errors with HTTP 200).
This reads status and bytes itself instead of calling the generated `_build_response`, which
builds `http.HTTPStatus(status)` and so crashes on KIE's non-IANA statuses (455, 430, 531...),
and whose `_parse_response` raises JSONDecodeError on HTML or empty bodies.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from typing import Any

from ._errors import (
    APIError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)
from ._text import shown

_ERROR_BY_CODE: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    451: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    433: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    430: RateLimitError,
    455: ServiceUnavailableError,
    503: ServiceUnavailableError,
    408: ServerError,
}

_SNIPPET = 200


def error_class_for(code: int) -> type[APIError]:
    """The class of design.md's error table for a body code or HTTP status."""
    found = _ERROR_BY_CODE.get(code)
    if found is not None:
        return found
    if 500 <= code <= 599:
        return ServerError
    return APIError


def read_envelope(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    operation: str,
    task_id: str | None = None,
) -> dict[str, Any]:
    """Return the success envelope as a dict, or raise the APIError its code maps to."""
    body = _json_or_none(content)
    envelope = body if isinstance(body, dict) else None
    body_code = envelope.get("code") if envelope is not None else None
    if isinstance(body_code, bool) or not isinstance(body_code, int):
        body_code = None
    http_ok = 200 <= status <= 299
    if body_code == 200:
        # The body code decides first: a success body under an error status (a 429 carrying
        # a taskId) is KIE's success, and reading it is what keeps a create from being resent.
        assert envelope is not None
        return envelope
    if body_code is not None and body_code != 200:
        code = body_code
    elif not http_ok:
        code = status
    else:
        raise APIError(
            f"{operation}: HTTP {status} without a KIE envelope ({_describe(content)})",
            code=status,
            http_status=status,
            task_id=task_id,
        )
    msg = envelope.get("msg") if envelope is not None else None
    if not isinstance(msg, str):
        msg = _describe(content)
    if 300 <= status <= 399:
        location = headers.get("location")
        msg = f"a redirect to {shown(location or 'nowhere', 200)}, not followed ({msg})"
    raise build_error(
        code, msg, http_status=status, headers=headers, operation=operation, task_id=task_id
    )


def build_error(
    code: int,
    msg: str,
    *,
    http_status: int,
    headers: Mapping[str, str],
    operation: str,
    task_id: str | None,
) -> APIError:
    cls = error_class_for(code)
    msg = shown(msg)  # a server's text: bounded and escaped before it is kept anywhere
    message = f"{operation}: KIE answered code {code}: {msg} [HTTP {http_status}]"
    if cls is RateLimitError:
        return RateLimitError(
            message,
            retry_after=parse_retry_after(headers.get("retry-after")),
            code=code,
            msg=msg,
            http_status=http_status,
            task_id=task_id,
        )
    return cls(message, code=code, msg=msg, http_status=http_status, task_id=task_id)


# The longest Retry-After honoured; a larger hint is read as this much (the retry policy's
# total wait then decides whether to wait at all).
MAX_RETRY_AFTER = 3600.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: ASCII delta-seconds or an HTTP-date, at most
    MAX_RETRY_AFTER; None if absent or malformed (Unicode digits, underscores, signs,
    fractions and exponents are malformed: RFC 9110 allows only 1*DIGIT)."""
    if not value:
        return None
    value = value.strip(" \t")
    if value.isascii() and value.isdigit():
        # float(), not int(): leading zeros count for nothing, and a 5,000-digit string is
        # inf (int() refuses it past 4,300 digits).
        return min(MAX_RETRY_AFTER, float(value))
    if len(value) > 64 or not value.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _json_or_none(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _describe(content: bytes) -> str:
    """A short, printable account of a body that is not the expected JSON."""
    if not content.strip():
        return "empty body"
    text = content[:_SNIPPET].decode("utf-8", errors="replace").strip()
    if text.lower().startswith(("<!doctype", "<html")):
        return "an HTML page"
    return shown(" ".join(text.split()), _SNIPPET)
