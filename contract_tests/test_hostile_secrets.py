"""No traceback frame of anything raised to the caller holds the Authorization header: error
reporters (Sentry and the like) record every frame's locals. Searched: every local of every
frame on the traceback, through containers, reprs and httpx's headers, along the whole
__cause__/__context__ chain; for KieErrors, foreign exceptions escaping a send (the caller's
transport or event hook) and KeyboardInterrupt alike."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from _hostile import HostileServer, Reply
from _support import API_KEY, CREDIT_PATH
from kie_instrumental import APIConnectionError, AsyncKieClient, KieClient
from kie_instrumental.events import RequestAnswered
from kie_instrumental.testing import FakeClock

KINDS = ["sync", "async"]


def holds_key(value: Any, depth: int = 0, seen: set[int] | None = None) -> bool:
    seen = set() if seen is None else seen
    if id(value) in seen or depth > 6:
        return False
    seen.add(id(value))
    if isinstance(value, str | bytes):
        return (API_KEY if isinstance(value, str) else API_KEY.encode()) in value
    if isinstance(value, httpx.Headers):
        return any(holds_key(v, depth + 1, seen) for v in value.values())
    if isinstance(value, httpx.Request):
        return holds_key(value.headers, depth + 1, seen)
    if isinstance(value, dict):
        return any(
            holds_key(k, depth + 1, seen) or holds_key(v, depth + 1, seen) for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return any(holds_key(v, depth + 1, seen) for v in value)
    try:
        return API_KEY in repr(value)
    except Exception:
        return False


def frames_holding_key(exc: BaseException) -> list[str]:
    found, chain = [], [exc]
    while chain:
        error = chain.pop()
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in frame.f_locals.items():
                if holds_key(value):
                    found.append(f"{frame.f_code.co_name}: {name}")
            tb = tb.tb_next
        chain.extend(e for e in (error.__cause__, error.__context__) if e is not None)
    return found


class Boom(Exception):
    pass


def raising(exc_type: type[BaseException]):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("raised by the transport")

    return handler


class SyncRaising(httpx.BaseTransport):
    def __init__(self, exc_type: type[BaseException]) -> None:
        self.exc_type = exc_type

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise self.exc_type("raised by the transport")


class AsyncRaising(httpx.AsyncBaseTransport):
    def __init__(self, exc_type: type[BaseException]) -> None:
        self.exc_type = exc_type

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.exc_type("raised by the transport")


def raised(kind: str, **client_options: Any) -> BaseException:
    try:
        if kind == "sync":
            KieClient(API_KEY, rate_limit=None, max_retries=0, **client_options).get_credits()
        else:

            async def main() -> None:
                client = AsyncKieClient(API_KEY, rate_limit=None, max_retries=0, **client_options)
                await client.get_credits()

            asyncio.run(main())
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exc_type", [Boom, RuntimeError, UnicodeError, KeyboardInterrupt])
def test_nothing_escaping_a_send_holds_the_key_in_its_frames(kind, exc_type) -> None:
    transport = SyncRaising(exc_type) if kind == "sync" else AsyncRaising(exc_type)
    http = (
        httpx.Client(transport=transport)
        if kind == "sync"
        else httpx.AsyncClient(transport=transport)
    )
    seen: list[object] = []
    exc = raised(kind, http_client=http, clock=FakeClock(), hooks=[seen.append])
    assert frames_holding_key(exc) == []
    if exc_type is KeyboardInterrupt:
        assert isinstance(exc, KeyboardInterrupt)  # propagates as is, only bare
    else:  # a failed attempt, as any transport failure: the fake clock stood still
        assert isinstance(exc, APIConnectionError)
        assert [e.elapsed for e in seen if isinstance(e, RequestAnswered)] == [0.0]


@pytest.mark.parametrize("kind", KINDS)
def test_an_event_hook_raising_leaves_no_key_in_frames(kind) -> None:
    def hook(request: httpx.Request) -> None:
        raise ValueError("hook failed")

    async def ahook(request: httpx.Request) -> None:
        raise ValueError("hook failed")

    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, json={"code": 200, "msg": "ok", "data": 1}))
        if kind == "sync":
            http: Any = httpx.Client(event_hooks={"request": [hook]})
        else:
            http = httpx.AsyncClient(event_hooks={"request": [ahook]})
        exc = raised(kind, http_client=http, base_url=server.url)
    assert frames_holding_key(exc) == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reply", [Reply(401, json={"code": 401, "msg": "no"}), Reply(hang=True)])
def test_api_errors_and_timeouts_hold_no_key_in_frames(kind, reply) -> None:
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, reply)
        exc = raised(kind, base_url=server.url, timeout=0.5)
    assert frames_holding_key(exc) == []
