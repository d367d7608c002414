"""The gate every API request passes: injected faults, Bearer auth, the rate limit."""

from __future__ import annotations

import collections
import secrets
import threading

import attrs
from starlette.requests import Request
from starlette.responses import Response

from .._clock import Clock
from ._answers import API_JSON, envelope


@attrs.define
class Fault:
    """The next `remaining` requests answer this instead of their normal answer."""

    remaining: int
    http_status: int
    code: int | None
    text: str | None
    content_type: str


class Gate:
    """Judges each request before its route does; `requests` lists every request seen."""

    def __init__(self, api_key: str, rate_limit: tuple[int, float] | None, clock: Clock) -> None:
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.clock = clock
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.faults: collections.deque[Fault] = collections.deque()
        self._window: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def refuse(
        self, request: Request, *, counted: bool, media_type: str = API_JSON
    ) -> Response | None:
        """The answer that replaces the route's, or None to let the request through.
        `counted`: whether the request counts against the rate limit (uploads do not);
        `media_type`: the content type of the host's JSON answers."""
        self.requests.append((request.method, request.url.path))
        if self.faults:
            return self._fault(media_type)
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            return envelope(
                401, "You do not have access permissions", status=401, media_type=media_type
            )
        if counted and self.rate_limit is not None:
            return self._over_limit(*self.rate_limit, media_type)
        return None

    def _fault(self, media_type: str) -> Response:
        fault = self.faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.faults.popleft()
        if fault.text is not None:
            return Response(fault.text, fault.http_status, media_type=fault.content_type)
        return envelope(
            fault.code or fault.http_status,
            "injected fault",
            status=fault.http_status,
            media_type=media_type,
        )

    def _over_limit(self, limit: int, period: float, media_type: str) -> Response | None:
        now = self.clock.monotonic()
        with self._lock:
            while self._window and self._window[0] <= now - period:
                self._window.popleft()
            if len(self._window) >= limit:
                wait = max(1, int(self._window[0] + period - now + 0.999))
                return envelope(
                    429,
                    f"Rate limit exceeded: {limit} requests per {period:g} seconds",
                    status=429,
                    headers={"Retry-After": str(wait)},
                    media_type=media_type,
                )
            self._window.append(now)
        return None
