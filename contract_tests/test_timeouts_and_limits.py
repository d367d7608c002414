"""Timeouts are bounded by default and overridable per client and per call; a server that
never answers raises APITimeoutError within the bound. The rate limiter keeps bursts under
its limit, measured at the transport on a fake clock, for threads and tasks alike."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from _support import API_KEY, VALID_FIELDS
from _virtual_time import LoopClock, ThreadVirtualClock, VirtualTimeLoop
from kie_instrumental import APITimeoutError, AsyncKieClient, ConfigurationError, KieClient
from kie_instrumental.testing import FakeClock

CREDITS = {"code": 200, "msg": "success", "data": 1}


def test_default_timeout_is_bounded_in_every_phase() -> None:
    timeout = KieClient(API_KEY)._core.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (5, 60, 60, 60)


@pytest.mark.parametrize("timeout", [httpx.Timeout(None), httpx.Timeout(10, read=None), 0, -1])
def test_unbounded_timeouts_are_refused(timeout) -> None:
    with pytest.raises(ConfigurationError, match="bounded"):
        KieClient(API_KEY, timeout=timeout)


def test_client_and_call_timeouts_reach_the_transport(make_client) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json=CREDITS)

    client = make_client(timeout=7.0, transport=httpx.MockTransport(handler))
    client.get_credits()
    client.get_credits(request_timeout=httpx.Timeout(3.0, connect=1.0))
    assert seen[0] == {"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}
    assert seen[1] == {"connect": 1.0, "read": 3.0, "write": 3.0, "pool": 3.0}


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_server_that_never_answers_times_out_within_the_bound(silent_server, kind) -> None:
    options = {"base_url": silent_server, "timeout": 0.3, "max_retries": 0, "rate_limit": None}
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        if kind == "sync":
            with KieClient(API_KEY, **options) as client:
                client.get_credits()
        else:

            async def run() -> None:
                async with AsyncKieClient(API_KEY, **options) as client:
                    await client.get_credits()

            asyncio.run(run())
    assert time.monotonic() - started < 5  # the bound is 0.3 s; generous for slow machines


# -- rate limiting ---------------------------------------------------------------------------


def max_in_window(stamps: list[float], period: float) -> int:
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps[i:] if t < start + period) for i, start in enumerate(stamps))


def recording_transport(clock: Any, stamps: list[float]) -> httpx.MockTransport:
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            stamps.append(clock.monotonic())
        return httpx.Response(200, json=CREDITS)

    return httpx.MockTransport(handler)


def test_a_burst_of_60_stays_under_20_per_10_seconds(make_client, clock) -> None:
    stamps: list[float] = []
    client = make_client(rate_limit=(20, 10.0), transport=recording_transport(clock, stamps))
    for _ in range(60):
        client.get_credits()
    assert len(stamps) == 60
    assert max_in_window(stamps, 10.0) == 20
    assert max(stamps) - min(stamps) >= 20  # three windows' worth, waited, not refused


def test_the_limit_is_configurable(make_client, clock) -> None:
    stamps: list[float] = []
    client = make_client(rate_limit=(5, 1.0), transport=recording_transport(clock, stamps))
    for _ in range(30):
        client.get_credits()
    assert max_in_window(stamps, 1.0) == 5


def test_the_limiter_can_be_switched_off(make_client, clock) -> None:
    stamps: list[float] = []
    client = make_client(rate_limit=None, transport=recording_transport(clock, stamps))
    for _ in range(60):
        client.get_credits()
    assert max_in_window(stamps, 10.0) == 60 and clock.sleeps == []


def test_threads_sharing_one_client_share_its_limit() -> None:
    clock, stamps = ThreadVirtualClock(participants=6), []
    http = httpx.Client(transport=recording_transport(clock, stamps))
    client = KieClient(API_KEY, clock=clock, http_client=http, rate_limit=(20, 10.0))

    def worker() -> None:
        for _ in range(10):
            client.get_credits()
        clock.done()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(stamps) == 60 and max_in_window(stamps, 10.0) == 20
    assert max(stamps) - min(stamps) >= 20


def test_tasks_sharing_one_async_client_share_its_limit() -> None:
    clock, stamps = LoopClock(), []

    async def run() -> None:
        http = httpx.AsyncClient(transport=recording_transport(clock, stamps))
        client = AsyncKieClient(API_KEY, clock=clock, http_client=http, rate_limit=(20, 10.0))
        await asyncio.gather(*(client.get_credits() for _ in range(60)))
        await http.aclose()

    loop = VirtualTimeLoop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    assert len(stamps) == 60 and max_in_window(stamps, 10.0) == 20
    assert max(stamps) - min(stamps) >= 20


class _SendTimes:
    """A limiter of the user's own without slots (reserve and back_off only)."""

    def __init__(self, waits: list[float]) -> None:
        self.waits = waits
        self.kinds: list[str] = []

    def reserve(self, kind: str = "poll") -> float:
        self.kinds.append(kind)
        return self.waits.pop(0)

    def back_off(self, seconds: float) -> None:
        raise AssertionError("no 429 here")


def test_a_limiter_without_slots_is_asked_per_request_with_its_kind(make_client, clock) -> None:
    stamps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(clock.monotonic())
        if request.method == "POST":
            return httpx.Response(200, json={"code": 200, "msg": "ok", "data": {"taskId": "t-1"}})
        return httpx.Response(200, json=CREDITS)

    limiter = _SendTimes([0.0, 0.5])
    client = make_client(rate_limit=limiter, transport=httpx.MockTransport(handler))
    assert client.add_instrumental(**VALID_FIELDS).task_id == "t-1"
    assert client.get_credits() == 1
    assert limiter.kinds == ["create", "poll"]
    # No wait, no sleep; a wait under a second is slept in full.
    assert clock.sleeps == [0.5] and stamps[1] - stamps[0] == pytest.approx(0.5)


def test_the_limiter_counts_against_the_api_host_only(make_client, clock, tmp_path) -> None:
    stamps: list[float] = []
    audio = tmp_path / "v.wav"
    audio.write_bytes(b"RIFF")

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(clock.monotonic())
        return httpx.Response(
            200,
            json={
                "success": True,
                "code": 200,
                "msg": "ok",
                "data": {"downloadUrl": "https://files/v.wav"},
            },
        )

    client = make_client(rate_limit=(2, 10.0), transport=httpx.MockTransport(handler))
    for _ in range(5):
        client.upload_file(audio)
    assert clock.sleeps == []  # uploads go to another host


def test_the_limit_value_is_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"^rate_limit"):
        KieClient(API_KEY, rate_limit=(0, 10.0))


def test_a_call_timeout_reaches_the_transport_for_every_call(make_client) -> None:
    from _records import record, suno_track
    from _support import VALID_FIELDS

    seen: list[tuple[str, dict[str, float]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.extensions["timeout"]))
        if request.url.path.endswith("add-instrumental"):
            return httpx.Response(200, json={"code": 200, "msg": "ok", "data": {"taskId": "t1"}})
        if request.url.path.endswith("file-stream-upload"):
            data = {"fileName": "a.wav", "downloadUrl": "https://tmp.example/a.wav"}
            return httpx.Response(
                200, json={"success": True, "code": 200, "msg": "ok", "data": data}
            )
        return record("SUCCESS", [suno_track()], task_id="t1")

    client = make_client(timeout=7.0, transport=httpx.MockTransport(handler))
    per_call = httpx.Timeout(3.0, connect=1.0)
    client.add_instrumental(**VALID_FIELDS, request_timeout=per_call)
    client.upload_file(b"RIFF", file_name="a.wav", request_timeout=per_call)
    client.get_task("t1", request_timeout=per_call)
    client.wait("t1", request_timeout=per_call)
    client.wait_all(["t1"], request_timeout=per_call)
    list(client.as_completed(["t1"], request_timeout=per_call))
    assert len(seen) == 6
    assert all(t == {"connect": 1.0, "read": 3.0, "write": 3.0, "pool": 3.0} for _, t in seen), seen


# -- the local limiter's window, as the clients wait on it ------------------------------------


def test_the_local_limiter_counts_each_slot_from_its_answer() -> None:
    from kie_instrumental._ratelimit import RateLimiter, Slot

    clock = FakeClock()
    limiter = RateLimiter(2, 10.0, clock)
    first, second = limiter.acquire("create"), limiter.acquire("poll")
    assert isinstance(first, Slot) and isinstance(second, Slot)
    assert limiter.acquire() == 10.0  # both in flight: a whole period from now
    clock.advance(3.0)
    limiter.finished(first)  # answered at +3: free again at +13
    clock.advance(4.0)
    assert limiter.acquire() == pytest.approx(6.0)
    limiter.finished(first)  # a second report never moves its start later
    assert limiter.acquire() == pytest.approx(6.0)
    clock.advance(6.0)
    assert isinstance(limiter.acquire(), Slot)
    assert repr(limiter) == "RateLimiter(limit=2, period=10.0)"
    single = RateLimiter(1, 10.0, clock)
    single.finished(cast(Slot, single.acquire()))
    clock.advance(10.0 - 1e-6)  # a wait is never shorter than a millisecond
    assert single.acquire() == 1e-3


def test_the_local_limiter_waits_out_a_back_off_then_counts_again() -> None:
    from kie_instrumental._ratelimit import RateLimiter, Slot

    clock = FakeClock()
    limiter = RateLimiter(5, 10.0, clock)
    limiter.back_off(4.0)
    limiter.back_off(1.0)  # never earlier than a back-off already set
    assert limiter.acquire() == pytest.approx(4.0)
    clock.advance(4.0)
    assert isinstance(limiter.acquire(), Slot)


def test_the_local_limiters_reservations_count_from_the_send() -> None:
    from kie_instrumental._ratelimit import RateLimiter

    clock = FakeClock()
    limiter = RateLimiter(2, 10.0, clock)
    assert [limiter.reserve("create"), limiter.reserve("poll")] == [0.0, 0.0]
    assert limiter.reserve() == pytest.approx(10.0)  # the third waits for the first's period
    clock.advance(2.0)
    assert limiter.reserve() == pytest.approx(8.0)  # the second's, counted from its send
    clock.advance(20.0)
    limiter.back_off(3.0)
    assert limiter.reserve() == pytest.approx(3.0)
    flying = RateLimiter(1, 10.0, clock)
    flying.acquire()  # a slot in flight has no start yet: a whole period from now
    assert flying.reserve() == pytest.approx(10.0)


@pytest.mark.parametrize("limit, period", [(0, 10.0), (1, 0.0), (1, -1.0)])
def test_the_local_limiter_refuses_an_empty_window(limit: int, period: float) -> None:
    from kie_instrumental._ratelimit import RateLimiter

    with pytest.raises(ValueError, match=r"^rate_limit must be \(requests >= 1, seconds > 0\)$"):
        RateLimiter(limit, period, FakeClock())


def test_the_limiter_steps_do_what_they_name_sync_and_async() -> None:
    from kie_instrumental._ratelimit import (
        Acquire,
        BackOff,
        Permit,
        RateLimiter,
        Reserve,
        Slot,
        aperform,
        arelease,
        perform,
        release,
    )

    clock = FakeClock()
    limiter = RateLimiter(1, 10.0, clock)
    slot = perform(Acquire(limiter, "create"))
    assert isinstance(slot, Slot)
    release(Permit(limiter, slot))
    assert slot.at == clock.monotonic()
    assert perform(BackOff(limiter, 2.0)) is None
    assert perform(Reserve(limiter, "poll")) == pytest.approx(10.0)

    async def steps() -> list[object]:
        other = RateLimiter(1, 10.0, clock)
        got = await aperform(Acquire(other, "poll"))
        assert isinstance(got, Slot)
        await arelease(Permit(other, got))
        return [got.at, await aperform(BackOff(other, 7.0)), await aperform(Reserve(other, "poll"))]

    at, backed, wait = asyncio.run(steps())
    assert (at, backed) == (clock.monotonic(), None)
    assert wait == pytest.approx(10.0)


class _AnsweringLater:
    """A limiter doing I/O, as RedisRateLimit does: each answer waits for `gate`."""

    def __init__(self, answer: object) -> None:
        self.gate = asyncio.Event()
        self.answer = answer
        self.given_back: list[object] = []
        self.backed_off: list[float] = []

    async def acquire_async(self, kind: str = "poll") -> object:
        await self.gate.wait()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    async def finished_async(self, slot: object) -> None:
        self.given_back.append(slot)

    async def back_off_async(self, seconds: float) -> None:
        self.backed_off.append(seconds)


@pytest.mark.parametrize("answer", ["slot", 2.5, "error", "cancelled"])
def test_a_slot_answered_after_its_caller_was_cancelled_is_given_back(answer: str) -> None:
    """A shared limiter's answer still on its way when the caller gives up: a slot it brings
    goes back to the limiter (else the window loses it); a wait, an error or a cancelled
    answer gives nothing, and reports nothing to the event loop (no "Exception in callback")."""
    from kie_instrumental._ratelimit import Acquire, BackOff, Slot, aperform

    slot = Slot()
    brought = {
        "slot": slot,
        "error": ConnectionError("down"),
        "cancelled": asyncio.CancelledError(),
    }.get(answer, answer)
    reported: list[dict[str, Any]] = []

    async def main() -> _AnsweringLater:
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: reported.append(context)
        )
        limiter = _AnsweringLater(brought)
        asking = asyncio.ensure_future(aperform(Acquire(cast(Any, limiter), "create")))
        await asyncio.sleep(0)
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        limiter.gate.set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert await aperform(BackOff(cast(Any, limiter), 7.0)) is None
        return limiter

    limiter = asyncio.run(main())
    assert limiter.given_back == ([slot] if answer == "slot" else [])
    assert limiter.backed_off == [7.0]
    assert reported == []


class _BlockedThenDropped(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport that holds the thread past the request's timeout, then loses the
    connection: what the request's own watchdog does to a request that outlived it."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        time.sleep(0.06)
        raise httpx.ReadError("connection closed")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


def test_a_connection_lost_after_the_timeout_is_a_timeout(make_client) -> None:
    client = make_client(transport=_BlockedThenDropped(), max_retries=0)
    with pytest.raises(APITimeoutError) as caught:
        client.get_credits(request_timeout=0.02)
    assert "0.02 s timeout" in str(caught.value)
