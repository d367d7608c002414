"""Fixtures: the wrapper's clients, sync and async behind one interface, on a fake clock, with
every request they send checked against the spec."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
import schemathesis
from _support import (
    API_KEY,
    BASE_URL,
    UPLOAD_BASE_URL,
    checker_openapi,
    create_request_schema,
    errors,
    market_request_schema,
)
from hypothesis import settings
from kie_instrumental import AsyncKieClient, KieClient
from kie_instrumental.testing import FakeClock
from openapi_core.testing import MockRequest

# In CI, the same examples every run (a red build must be reproducible); locally, new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The policy tests (errors, retries, timeouts, hostile servers, receipts) script the legacy
# route's paths: the suite's clients default to it. The route tests choose theirs explicitly,
# and the tests of the default route (market) remove this setting.
os.environ["KIE_ROUTE"] = "legacy"


# Built once per process (in _support): pytest runs conftest.py again for every session, and a
# mutation run starts a session per mutant.
OPENAPI = checker_openapi()
SPEC_HOSTS = {httpx.URL(BASE_URL).host, httpx.URL(UPLOAD_BASE_URL).host}


class SpecRequestChecker:
    """Validates each request sent to a spec'd host; collects what does not conform."""

    def __init__(self) -> None:
        self.checked = 0
        self.problems: list[str] = []

    def check(self, request: httpx.Request) -> None:
        if request.url.host not in SPEC_HOSTS:
            return  # result downloads go to KIE's file hosts, outside the spec
        content = request.read()
        host = f"{request.url.scheme}://{request.url.host}"
        mock = MockRequest(
            host,
            request.method.lower(),
            request.url.path,
            args=dict(request.url.params),
            headers=dict(request.headers),
            data=content or None,
            content_type=request.headers.get("content-type", "application/json"),
        )
        try:
            OPENAPI.validate_request(mock)
        except Exception as exc:
            self.problems.append(f"{request.method} {request.url.path}: {exc}")
        if request.url.path.endswith("add-instrumental"):
            self.problems += errors(create_request_schema(), json.loads(content))
        if request.url.path.endswith("jobs/createTask"):
            self.problems += errors(market_request_schema(), json.loads(content))
        self.checked += 1


@pytest.fixture
def spec_checker() -> Iterator[SpecRequestChecker]:
    checker = SpecRequestChecker()
    yield checker
    assert checker.problems == [], "the wrapper sent requests the spec does not allow"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mock_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


class AsyncFacade:
    """Runs an AsyncKieClient's coroutines on one event loop, so every fault test can drive
    the sync and the async client with the same code."""

    def __init__(self, client: AsyncKieClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(method(*args, **kwargs))

        return call

    def as_completed(self, *args: Any, **kwargs: Any) -> list[Any]:
        """The async generator drained on the loop: what `list()` of the sync one gives."""

        async def drain() -> list[Any]:
            return [done async for done in self._client.as_completed(*args, **kwargs)]

        return self._loop.run_until_complete(drain())

    def __repr__(self) -> str:
        return repr(self._client)


ClientFactory = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def make_client(
    request: pytest.FixtureRequest, clock: FakeClock, spec_checker: SpecRequestChecker
) -> Iterator[ClientFactory]:
    """make_client(**options) -> a KieClient, or an AsyncKieClient behind AsyncFacade.

    The route is legacy unless `route=` says otherwise: the policy tests (errors, retries,
    timeouts, secrets) mock the legacy paths; the route tests choose theirs explicitly."""
    kind = request.param
    loop = asyncio.new_event_loop()
    made: list[Any] = []

    def factory(**options: Any) -> Any:
        options.setdefault("api_key", API_KEY)
        options.setdefault("clock", clock)
        options.setdefault("rate_limit", None)
        options.setdefault("route", "legacy")
        transport = options.pop("transport", None)
        if kind == "sync":
            options.setdefault(
                "http_client",
                httpx.Client(transport=transport, event_hooks={"request": [spec_checker.check]}),
            )
            client = KieClient(**options)
            made.append(client)
            return client

        async def check(request: httpx.Request) -> None:
            await request.aread()
            spec_checker.check(request)

        options.setdefault(
            "http_client", httpx.AsyncClient(transport=transport, event_hooks={"request": [check]})
        )
        client = AsyncKieClient(**options)
        made.append(client)
        return AsyncFacade(client, loop)

    factory.kind = kind  # type: ignore[attr-defined]
    yield factory
    for client in made:
        if isinstance(client, KieClient):
            client._http.close()
        else:
            loop.run_until_complete(client._http.aclose())
    loop.close()


@pytest.fixture
def client(make_client: ClientFactory) -> Any:
    return make_client()


# -- the suite's size, printed at the end of `make test` ---------------------------------------

_schemathesis_cases = 0
_original_call = schemathesis.Case.call


def _counting_call(self: Any, *args: Any, **kwargs: Any) -> Any:
    global _schemathesis_cases
    _schemathesis_cases += 1
    return _original_call(self, *args, **kwargs)


schemathesis.Case.call = _counting_call  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker reports to the controller
        workeroutput["schemathesis_cases"] = _schemathesis_cases


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    global _schemathesis_cases
    _schemathesis_cases += node.workeroutput.get("schemathesis_cases", 0)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if hasattr(terminalreporter.config, "workeroutput"):
        return
    stats = terminalreporter.stats
    counts = {key: len(stats.get(key, [])) for key in ("passed", "failed", "skipped", "error")}
    total = counts["passed"] + counts["failed"] + counts["skipped"]
    terminalreporter.write_line(
        f"contract suite: {total} tests ({counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped), {_schemathesis_cases} schemathesis cases sent"
    )


# -- a real Redis server (shared-state tests) ------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    """One real redis-server per test worker, on a free loopback port, no persistence."""
    from _redis_server import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of its own for each test: tests share the server, never keys."""
    import uuid

    return f"test-{uuid.uuid4().hex[:12]}"
