"""One rule for every string a server (or a caller) controls that lands in an error, a log line
or a terminal: bounded in length, control characters escaped, so a hostile answer can neither
fill memory through an exception nor rewrite a terminal line."""

from __future__ import annotations

import re

# Far above any real KIE message, far below what a hostile server can send.
TEXT_LIMIT = 500

# C0 and C1 controls, DEL, and the bidirectional and line/paragraph separators that reorder or
# break what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or f"\\u{ord(char):04x}"


def shown(value: object, limit: int = TEXT_LIMIT) -> str:
    """`value` as text at most about `limit` characters long, control characters escaped."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value[:limit]).decode("utf-8", errors="replace")
        extra = len(value) - limit
        text = _UNSAFE.sub(_escape, text)
        return f"{text}... ({extra} more bytes)" if extra > 0 else text
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    else:
        text = value if isinstance(value, str) else repr(value)
    extra = len(text) - limit
    if extra > 0:
        text = text[:limit]
    text = _UNSAFE.sub(_escape, text)
    return f"{text}... ({extra} more characters)" if extra > 0 else text
