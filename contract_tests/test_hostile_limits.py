"""Hostile callers and the rate limiter: unbounded timeouts refused before anything is sent,
Retry-After read strictly, a cancelled call keeps no rate-limit slot, and the limiter really
keeps a burst under a server's limit on a real port (the server counts the 429s)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from _hostile import HostileServer, Reply
from _records import record
from _support import API_KEY, CREATE_PATH, RECORD_PATH, VALID_FIELDS
from kie_instrumental import APITimeoutError, AsyncKieClient, ConfigurationError, KieClient
from kie_instrumental._responses import MAX_RETRY_AFTER, parse_retry_after
from kie_instrumental.testing import FakeClock

CREDITS = {"code": 200, "msg": "success", "data": 1}
CREATED = {"code": 200, "msg": "success", "data": {"taskId": "task-9"}}
UNBOUNDED = [math.inf, 1e12, math.nan, 10**400, -1, 0, "5", True]


def _run(kind: str, call):
    if kind == "sync":
        return call(KieClient)
    return asyncio.run(call(AsyncKieClient))


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("value", UNBOUNDED, ids=lambda v: "10**400" if v == 10**400 else repr(v))
def test_unbounded_timeouts_are_refused_naming_the_argument(kind, value) -> None:
    with HostileServer() as server:
        server.script("*", "*", Reply(200, json={"code": 200, "msg": "ok", "data": 1}))
        options = {"base_url": server.url, "rate_limit": None}
        with pytest.raises(ConfigurationError, match=r"^timeout must be") as caught:
            (KieClient if kind == "sync" else AsyncKieClient)(API_KEY, timeout=value, **options)
        assert len(str(caught.value)) < 300  # 10**400 is described, not printed

        async def async_calls(client: AsyncKieClient) -> None:
            with pytest.raises(ConfigurationError, match=r"^request_timeout must be"):
                await client.get_credits(request_timeout=value)
            with pytest.raises(ConfigurationError, match=r"^request_timeout\.read must be"):
                await client.get_task("t-1", request_timeout=httpx.Timeout(5.0, read=value))
            with pytest.raises(ConfigurationError, match=r"^wait\(timeout=\) must be"):
                await client.wait("t-1", timeout=value)

        if kind == "sync":
            client = KieClient(API_KEY, **options)
            with pytest.raises(ConfigurationError, match=r"^request_timeout must be"):
                client.get_credits(request_timeout=value)
            with pytest.raises(ConfigurationError, match=r"^request_timeout\.read must be"):
                client.get_task("t-1", request_timeout=httpx.Timeout(5.0, read=value))
            with pytest.raises(ConfigurationError, match=r"^wait\(timeout=\) must be"):
                client.wait("t-1", timeout=value)
        else:
            asyncio.run(async_calls(AsyncKieClient(API_KEY, **options)))
        assert server.count() == 0  # refused before anything was sent


@pytest.mark.parametrize(
    ("value", "got"),
    [(math.inf, "inf"), (-0.5, "-0.5"), (10**400, "an integer of about 401 digits")],
    ids=["inf", "negative", "10**400"],
)
def test_an_unbounded_timeout_is_refused_saying_the_rule_and_the_value(value, got) -> None:
    with pytest.raises(ConfigurationError) as caught:
        KieClient(API_KEY, timeout=value)
    assert str(caught.value) == (
        f"timeout must be a bounded number of seconds, above 0 and at most 86400, got {got}"
    )


def test_the_largest_timeout_accepted_is_a_day() -> None:
    KieClient(API_KEY, timeout=86_400)
    with pytest.raises(ConfigurationError, match="86400"):
        KieClient(API_KEY, timeout=86_400.5)


@pytest.mark.parametrize(
    "header",
    [
        *("\u0663", "1_0", "+5", "-5", "1e3", "5.5", "0x10", " ", "\u0035\u0301", "\u216b"),
        *("\uff15", "X7", "7\x0b", "\x0c7"),  # only spaces and tabs may surround the digits
    ],
)
def test_retry_after_accepts_only_ascii_digits(header) -> None:
    assert parse_retry_after(header) is None


def test_retry_after_digits_and_dates_are_bounded() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("9" * 5000) == MAX_RETRY_AFTER  # no 5,000-digit int() either
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=0.0) == MAX_RETRY_AFTER
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=2e9) == 0.0


def test_retry_after_reads_rfc_9110_values_only() -> None:
    assert parse_retry_after("0000005") == 5.0  # 1*DIGIT: leading zeros are still 5 s
    assert parse_retry_after(" \t12\t ") == 12.0
    date, now = "Wed, 21 Oct 2015 07:28:30", 1445412480.0
    assert parse_retry_after(date + " " * 36 + "GMT", now=now) == 30.0  # 64 characters
    assert parse_retry_after(date + " " * 37 + "GMT", now=now) is None  # 65: not read
    assert parse_retry_after(date + " -0000", now=now) is None  # no time zone: not a date
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:\u0663\u0660 GMT", now=now) is None


def test_a_sync_call_interrupted_while_waiting_for_a_slot_takes_none() -> None:
    class InterruptOnce(FakeClock):
        armed = False

        def sleep(self, seconds: float) -> None:
            if self.armed:
                self.armed = False
                raise KeyboardInterrupt
            super().sleep(seconds)

    clock = InterruptOnce()
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, json={"code": 200, "msg": "ok", "data": 1})
    )
    client = KieClient(
        API_KEY, clock=clock, rate_limit=(1, 10.0), http_client=httpx.Client(transport=transport)
    )
    client.get_credits()  # takes the only slot
    clock.armed = True
    with pytest.raises(KeyboardInterrupt):
        client.get_credits()  # interrupted while waiting its turn
    started = clock.monotonic()
    client.get_credits()
    # One period for the first call's slot; the interrupted call holds none.
    assert clock.monotonic() - started == pytest.approx(10.0, abs=0.01)


def test_cancelled_async_calls_give_their_slots_back() -> None:
    with HostileServer() as server:
        server.script("GET", RECORD_PATH, Reply(200, json=record("PENDING").json()))

        async def main() -> float:
            client = AsyncKieClient(
                API_KEY, base_url=server.url, rate_limit=(5, 1.0), route="legacy"
            )
            for _ in range(300):
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(client.get_task("task-1"), 0.001)
            started = time.monotonic()
            await client.get_task("task-1")
            elapsed = time.monotonic() - started
            await client.close()
            return elapsed

        # 300 kept slots at 5 per second would make the next call wait about 60 s.
        assert asyncio.run(main()) < 5.0


def test_cancelled_async_calls_leave_the_connection_pool_usable() -> None:
    """Cancellations at random moments of a request: httpcore, cancelled while it hands a
    connection back, loses it; with 5 connections a few hundred cancellations left none."""
    with HostileServer() as server:
        server.script("GET", RECORD_PATH, Reply(200, json=record("PENDING").json(), delay=0.002))

        async def main() -> float:
            http = httpx.AsyncClient(limits=httpx.Limits(max_connections=5), timeout=3.0)
            client = AsyncKieClient(
                API_KEY, base_url=server.url, rate_limit=None, http_client=http, route="legacy"
            )
            rng = random.Random(7)
            for _ in range(300):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(client.get_task("task-1"), rng.uniform(1e-4, 4e-3))
            started = time.monotonic()
            details = await asyncio.wait_for(client.get_task("task-1"), 20)
            elapsed = time.monotonic() - started
            assert details.status == "PENDING"
            await http.aclose()
            return elapsed

        assert asyncio.run(main()) < 10.0  # before: PoolTimeout, or hung


def test_requests_that_run_out_of_time_leave_the_connection_pool_usable() -> None:
    """Budgets ending at every moment of a request, the close included, on a one-connection
    pool: one connection lost would leave the last call waiting for good. With the budget as
    an `asyncio.timeout` (which httpcore's clean-up does not shield against) about one run in
    three lost it."""
    with HostileServer() as server:
        server.script("GET", RECORD_PATH, Reply(200, json=record("PENDING").json(), delay=0.003))

        async def main() -> str:
            http = httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=3.0)
            client = AsyncKieClient(
                API_KEY,
                base_url=server.url,
                rate_limit=None,
                http_client=http,
                route="legacy",
                max_retries=0,
            )
            rng = random.Random(3)
            for _ in range(300):
                with contextlib.suppress(APITimeoutError):
                    await client.get_task("task-1", request_timeout=rng.uniform(0.001, 0.006))
            details = await asyncio.wait_for(client.get_task("task-1"), 10)
            await http.aclose()
            return str(details.status)

        assert asyncio.run(main()) == "PENDING"


class _SlowToHandBack(httpx.AsyncByteStream):
    """An answer whose connection takes a while to go back to the caller's pool."""

    def __init__(self) -> None:
        self.handed_back = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield json.dumps(CREDITS).encode()

    async def aclose(self) -> None:
        await asyncio.sleep(0.2)
        self.handed_back = True


def test_a_connection_is_handed_back_whole_when_the_time_runs_out_while_it_is() -> None:
    """The answer is read at once; the request's time ends while its connection goes back to
    the pool: that hand-back still runs to its end (cut short, the connection is lost)."""
    stream = _SlowToHandBack()

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        client = AsyncKieClient(API_KEY, rate_limit=None, http_client=http, max_retries=0)
        with contextlib.suppress(APITimeoutError):
            await client.get_credits(request_timeout=0.05)
        for _ in range(100):  # up to 2 s
            if stream.handed_back:
                break
            await asyncio.sleep(0.02)
        await http.aclose()

    asyncio.run(main())
    assert stream.handed_back


def test_a_create_cancelled_before_it_was_written_is_never_sent() -> None:
    """Cancelled while waiting for the only connection: the create is dropped, not sent
    later in the background (a caller who gave up must not be charged)."""
    with HostileServer() as server:
        server.script("GET", RECORD_PATH, Reply(200, json=record("PENDING").json(), delay=0.5))
        server.script("POST", CREATE_PATH, Reply(200, json=CREATED))

        async def main() -> None:
            http = httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=5.0)
            client = AsyncKieClient(
                API_KEY, base_url=server.url, rate_limit=None, http_client=http, route="legacy"
            )
            poll = asyncio.ensure_future(client.get_task("task-1"))  # holds the connection
            await asyncio.sleep(0.1)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.add_instrumental(**VALID_FIELDS), 0.1)
            await poll
            await asyncio.sleep(0.3)  # time for a create left running to be sent
            await http.aclose()

        asyncio.run(main())
        assert server.count("POST", CREATE_PATH) == 0
        assert server.count("GET", RECORD_PATH) == 1


def test_a_call_cancelled_after_its_request_was_written_still_reads_the_answer() -> None:
    """The written request is left to end by itself: its answer is read in the background and
    its connection kept for the next call, never cut off half-way through the answer."""
    with HostileServer() as server:
        server.script("GET", RECORD_PATH, Reply(200, json=record("PENDING").json(), delay=0.3))
        answered: list[int] = []

        async def hook(response: httpx.Response) -> None:
            answered.append(response.status_code)

        async def main() -> str:
            http = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=1),
                timeout=5.0,
                event_hooks={"response": [hook]},
            )
            client = AsyncKieClient(
                API_KEY, base_url=server.url, rate_limit=None, http_client=http, route="legacy"
            )
            call = asyncio.ensure_future(client.get_task("task-1"))
            for _ in range(300):  # until the server has the request
                if server.count("GET", RECORD_PATH):
                    break
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            for _ in range(300):  # the answer comes 0.3 s after the request
                if answered:
                    break
                await asyncio.sleep(0.01)
            assert answered == [200]
            details = await asyncio.wait_for(client.get_task("task-1"), 5)
            await http.aclose()
            return str(details.status)

        assert asyncio.run(main()) == "PENDING"
        assert server.count("GET", RECORD_PATH) == 2


def _burst(kind: str, url: str, key: str, creates: int, limit: tuple[int, float]) -> list[int]:
    statuses: list[int] = []
    options = {"api_key": key, "base_url": url, "rate_limit": limit, "max_retries": 0}
    if kind == "async":

        async def hook(response: httpx.Response) -> None:
            statuses.append(response.status_code)

        async def main() -> None:
            async with httpx.AsyncClient(event_hooks={"response": [hook]}) as http:
                client = AsyncKieClient(http_client=http, **options)
                await asyncio.gather(
                    *(client.add_instrumental(**VALID_FIELDS) for _ in range(creates))
                )

        asyncio.run(main())
    else:
        http = httpx.Client(event_hooks={"response": [lambda r: statuses.append(r.status_code)]})
        client = KieClient(http_client=http, **options)
        threads = [
            threading.Thread(target=lambda: client.add_instrumental(**VALID_FIELDS))
            for _ in range(creates)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        http.close()
    return statuses


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_concurrent_burst_gets_no_429_from_a_server_with_the_same_limit(kind) -> None:
    """A small slice of `python -m bench.ratelimit` (50 creates at 20 per 10 s)."""
    from kie_instrumental.testing import FakeKie

    limit = (4, 1.0)
    fake = FakeKie(rate_limit=limit, callbacks="off", credits=None)
    with fake.serve() as url:
        statuses = _burst(kind, url, fake.api_key, 14, limit)
    assert len(statuses) == 14
    assert statuses.count(429) == 0
