"""A misbehaving server costs bounded memory and time: answers are read up to a limit (peak
memory measured in a child process), every string a server controls is bounded and escaped
before it reaches an error or a log line, a request as a whole (download included) ends within
its timeout whatever the drip, and wait() within its deadline whatever the server does."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable

import httpx
import pytest
from _hostile import MB, HostileServer, Reply, endless, repeat
from _records import record, suno_track
from _support import API_KEY, CREATE_PATH, CREDIT_PATH, RECORD_PATH, ROOT, VALID_FIELDS
from kie_instrumental import (
    APIConnectionError,
    APITimeoutError,
    AsyncKieClient,
    KieClient,
    ResponseTooLargeError,
    ServerError,
    TaskFailedError,
    Track,
    WaitTimeoutError,
)
from kie_instrumental.events import RequestAnswered
from kie_instrumental.testing import FakeClock
from test_events import InChunks

KINDS = ["sync", "async"]


def client_for(kind: str, url: str, **options):
    options.setdefault("rate_limit", None)
    cls = KieClient if kind == "sync" else AsyncKieClient
    return cls(API_KEY, base_url=url, upload_base_url=url, **options)


def run(kind: str, call):
    """`call(client)` on a sync client, or awaited on an async one."""

    def go(client):
        if kind == "sync":
            return call(client)

        async def main():
            try:
                return await call(client)
            finally:
                await client.close()

        return asyncio.run(main())

    return go


# -- memory: answers are read up to a limit ---------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, json, resource, sys, tempfile
    from kie_instrumental import AsyncKieClient, KieClient, KieError, Track

    kind, url, what = sys.argv[1], sys.argv[2], sys.argv[3]
    options = dict(base_url=url, upload_base_url=url, rate_limit=None, max_retries=0)
    fields = json.loads(sys.argv[4])
    folder = tempfile.mkdtemp()

    def calls(client):
        if what == "create":
            return client.add_instrumental(**fields)
        if what == "credits":
            return client.get_credits()
        return client.download([Track(id="t", audio_url=url + "/page.mp3")], folder)

    def once():
        if kind == "sync":
            return calls(KieClient("k", **options))
        async def main():
            async with AsyncKieClient("k", **options) as client:
                return await calls(client)
        return asyncio.run(main())

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    what_before, what = what, "credits"
    once()  # warm up: imports, first connection
    what = what_before
    before = peak()
    error = None
    try:
        once()
    except KieError as exc:
        error = [type(exc).__name__, str(exc)[:3000]]
    print(json.dumps({"before": before, "after": peak(), "error": error}))
    """
)


def peak_in_child(kind: str, url: str, what: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, url, what, json.dumps(VALID_FIELDS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


CREDITS = {"code": 200, "msg": "success", "data": 10}
BIG = 48 * MB  # old code: the body, its decoded JSON and the message, several times this


def huge_error(status: int) -> Reply:
    """A JSON error envelope whose msg alone is BIG bytes, produced lazily."""
    head = repeat(b'{"code": 500, "msg": "', 22)
    body = repeat(b"x", BIG)
    tail = repeat(b'"}', 2)

    def produce():
        yield from head()
        yield from body()
        yield from tail()

    return Reply(status, body=produce, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_create_answer_is_cut_and_says_the_task_may_exist(kind) -> None:
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, json=CREDITS))
        server.script("POST", CREATE_PATH, huge_error(500))
        result = peak_in_child(kind, server.url, "create")
        assert server.count("POST", CREATE_PATH) == 1  # never resent
    name, message = result["error"]
    assert name == "ResponseTooLargeError"
    assert "may have been created" in message and len(message) < 1000
    assert result["after"] - result["before"] < 24, result  # MiB, for a 48 MiB answer


@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_download_error_page_is_not_read(kind) -> None:
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, json=CREDITS))
        server.script("GET", "/page.mp3", Reply(500, body=repeat(b"<html>", BIG)))
        result = peak_in_child(kind, server.url, "download")
    assert result["error"][0] == "ServerError"
    assert result["after"] - result["before"] < 24, result


@pytest.mark.parametrize("kind", KINDS)
def test_an_oversized_answer_is_a_typed_error(kind) -> None:
    """Reading stops at the limit, even when the answer never ends."""
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, body=endless(b" " * 1024)))
        client = client_for(kind, server.url, max_retries=0, timeout=5)
        with pytest.raises(ResponseTooLargeError) as caught:
            run(kind, lambda c: c.get_credits())(client)
    assert caught.value.http_status == 200


@pytest.mark.parametrize("kind", KINDS)
def test_an_answer_of_exactly_the_limit_is_read(kind) -> None:
    """2 MiB is the most an answer may be: exactly that much is read, one byte more is not."""
    body = json.dumps(CREDITS).encode()
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, body=body.ljust(2 * MB)))
        client = client_for(kind, server.url, max_retries=0)
        assert run(kind, lambda c: c.get_credits())(client) == 10
        server.script("GET", CREDIT_PATH, Reply(200, body=body.ljust(2 * MB + 1)))
        client = client_for(kind, server.url, max_retries=0)
        with pytest.raises(ResponseTooLargeError):
            run(kind, lambda c: c.get_credits())(client)


class WithoutTrace(httpx.HTTPTransport):
    """A caller's own transport that drops the request's extensions (no `trace`)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions = {k: v for k, v in request.extensions.items() if k != "trace"}
        return super().handle_request(request)


def test_a_stalled_answer_ends_within_its_timeout_through_a_transport_that_does_not_trace():
    """Headers after 0.8 s, then the body stalls: the request still ends at its 1 s budget,
    not after another whole read timeout."""
    stall = Reply(200, body=lambda: iter([b'{"code": 200', b""]), length=1000, delay=0.8)
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, stall)
        http = httpx.Client(transport=WithoutTrace())
        client = client_for("sync", server.url, max_retries=0, timeout=1.0, http_client=http)
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.get_credits()
        took = time.monotonic() - started
        http.close()
    assert took < 1.45  # a read timeout after the headers would end it at 1.8 s


def gzip_bomb(zeros: int) -> bytes:
    """`zeros` zero bytes, gzip-compressed (about 1000:1), built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    parts = [packer.compress(block) for _ in range(zeros // MB)]
    return b"".join([*parts, packer.flush()])


BOMB = gzip_bomb(50 * MB)


def raw_deflate(data: bytes) -> bytes:
    """Deflate without zlib's header and checksum, as some servers send `deflate`."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw deflate"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_compressed_answer_is_capped_while_it_is_inflated(kind, encoding) -> None:
    """50 MiB of zeros in about 50 KiB of gzip: one network chunk would inflate to all of it
    at once. Memory stays near the body limit and the answer is a typed error."""
    if encoding == "gzip":
        body = BOMB
    else:
        body = (zlib.compress if encoding == "deflate" else raw_deflate)(bytes(50 * MB))
    header = {"Content-Encoding": encoding.split()[-1]}
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, body=body, headers=header))
        client = client_for(kind, server.url, max_retries=0)
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError):
                run(kind, lambda c: c.get_credits())(client)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 16 * MB, peak  # the body limit is 2 MiB; the answer inflates to 50 MiB


@pytest.mark.parametrize("pack", [zlib.compress, raw_deflate], ids=["zlib", "raw"])
@pytest.mark.parametrize("kind", KINDS)
def test_answers_are_asked_for_uncompressed_and_decoded_when_compressed_anyway(kind, pack) -> None:
    packed = pack(json.dumps(CREDITS).encode())
    with HostileServer() as server:
        server.script(
            "GET", CREDIT_PATH, Reply(200, body=packed, headers={"Content-Encoding": "deflate"})
        )
        assert run(kind, lambda c: c.get_credits())(client_for(kind, server.url)) == 10
        asked = server.requests[-1].headers.get("Accept-Encoding")
    assert asked == "identity"


@pytest.mark.parametrize("kind", KINDS)
def test_an_encoding_that_was_not_asked_for_is_refused(kind) -> None:
    with HostileServer() as server:
        server.script(
            "GET", CREDIT_PATH, Reply(200, body=b"\x1b\x00", headers={"Content-Encoding": "br"})
        )
        with pytest.raises(APIConnectionError) as caught:
            run(kind, lambda c: c.get_credits())(client_for(kind, server.url, max_retries=0))
    assert "'br', which was not asked for" in str(caught.value)


def test_an_answer_in_many_network_chunks_is_read_whole(make_client) -> None:
    body = json.dumps(CREDITS).encode()
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, stream=InChunks(body, 3))  # 3 bytes at a time
    )
    assert make_client(transport=transport).get_credits() == 10


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", " GZIP "])
def test_a_gzipped_answer_is_decoded_however_its_encoding_is_spelled(make_client, encoding):
    packed = zlib.compress(json.dumps(CREDITS).encode(), wbits=16 + zlib.MAX_WBITS)
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"Content-Encoding": encoding}, stream=InChunks(packed, 1000)
        )
    )
    assert make_client(transport=transport).get_credits() == 10


def test_a_blank_encoding_is_no_encoding(make_client) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"Content-Encoding": " "}, stream=InChunks(json.dumps(CREDITS).encode(), 9)
        )
    )
    assert make_client(transport=transport).get_credits() == 10


def test_an_encoding_not_asked_for_is_named_in_at_most_40_characters(make_client) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"Content-Encoding": "b" * 50}, stream=InChunks(b"{}", 2)
        )
    )
    with pytest.raises(APIConnectionError) as caught:
        make_client(transport=transport, max_retries=0).get_credits()
    assert f"the answer is encoded as {'b' * 40!r}, which was not asked for" in str(caught.value)


@pytest.mark.parametrize("pack", [zlib.compress, raw_deflate], ids=["zlib", "raw"])
def test_an_answer_that_is_not_what_its_encoding_says_is_refused(make_client, pack) -> None:
    """Deflate labelled gzip: refused, never guessed at."""
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200,
            headers={"Content-Encoding": "gzip"},
            stream=InChunks(pack(json.dumps(CREDITS).encode()), 1000),
        )
    )
    with pytest.raises(APIConnectionError) as caught:
        make_client(transport=transport, max_retries=0).get_credits()
    assert "the answer cannot be decoded" in str(caught.value)


def test_a_corrupt_deflated_answer_is_refused(make_client) -> None:
    """A zlib-wrapped answer whose checksum is wrong, in a network chunk of its own: the
    answer is refused, never read again as raw deflate (where those bytes mean nothing)."""
    packed = zlib.compress(json.dumps(CREDITS).encode())
    chunks = InChunks(b"", 1)
    chunks.chunks = [packed[:-4], b"\x00\x00\x00\xff"]  # a wrong checksum
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"Content-Encoding": "deflate"}, stream=chunks)
    )
    with pytest.raises(APIConnectionError) as caught:
        make_client(transport=transport, max_retries=0).get_credits()
    assert "the answer cannot be decoded" in str(caught.value)


# -- strings a server controls: bounded and escaped -------------------------------------------


HOSTILE_TEXT = "\x1b[2J\x1b[31mowned\r\n\x00\u202e" + "m" * 200_000


@pytest.mark.parametrize("kind", KINDS)
def test_server_messages_are_bounded_and_escaped_in_errors_and_logs(kind, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="kie_instrumental")
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(500, json={"code": 500, "msg": HOSTILE_TEXT}))
        with pytest.raises(ServerError) as caught:
            run(kind, lambda c: c.get_credits())(client_for(kind, server.url, max_retries=0))
    for text in (str(caught.value), caught.value.msg or "", *caplog.messages):
        assert len(text) < 2000
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in text)
        assert "\u202e" not in text
    assert "\\u001b[2J" in str(caught.value)  # shown, escaped


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_tasks_message_is_bounded_and_escaped(kind) -> None:
    answer = record("GENERATE_AUDIO_FAILED", error_code=500, error_message=HOSTILE_TEXT)
    with HostileServer() as server:
        server.script("GET", RECORD_PATH, Reply(200, body=answer.content))
        with pytest.raises(TaskFailedError) as caught:
            run(kind, lambda c: c.wait("task-1", timeout=30))(client_for(kind, server.url))
    assert len(str(caught.value)) < 2000 and "\x1b" not in str(caught.value)


# -- time: a request as a whole ends within its timeout ---------------------------------------


DRIPS = {
    "drip": Reply(200, body=b'{"code": 200, "msg": "ok", "data": 1}' + b" " * 400, drip=(1, 0.1)),
    "endless drip": Reply(200, body=endless(b" "), drip=(1, 0.1)),
    "stall mid-body": Reply(
        200, body=lambda: iter([b'{"code": 200', b""]), length=1000, delay=0.0, cut_after=None
    ),
    "never answers": Reply(hang=True),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(DRIPS))
def test_a_request_ends_within_its_timeout_as_a_whole(kind, name) -> None:
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, DRIPS[name])
        seen: list[object] = []
        client = client_for(kind, server.url, max_retries=0, timeout=1.0, hooks=[seen.append])
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            run(kind, lambda c: c.get_credits())(client)
        # One second of budget; the drip alone would take 40 s or forever.
        assert time.monotonic() - started < 3.5
        # The attempt's duration, as its event reports it: about its budget.
        [answered] = [e for e in seen if isinstance(e, RequestAnswered)]
        assert 0.5 < answered.elapsed < 3.5


@pytest.mark.parametrize("reused", [False, True], ids=["new connection", "reused connection"])
@pytest.mark.parametrize("kind", KINDS)
def test_dripped_answer_headers_count_against_the_whole_request(kind, reused) -> None:
    """Headers at one byte per 0.2 s: no single read waits 1 s, the headers take 20 s."""
    dripped = Reply(200, json=CREDITS, header_drip=(1, 0.2))
    with HostileServer() as server:
        server.script(
            "GET", CREDIT_PATH, [Reply(200, json=CREDITS), dripped] if reused else dripped
        )
        client = client_for(kind, server.url, max_retries=0, timeout=1.0)

        def calls(c):
            if kind == "sync":
                if reused:
                    c.get_credits()
                return c.get_credits()

            async def go():
                if reused:
                    await c.get_credits()
                return await c.get_credits()

            return go()

        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            run(kind, calls)(client)
        assert time.monotonic() - started < 4.5
        assert server.count("GET", CREDIT_PATH) == (2 if reused else 1)


def test_one_thread_bounds_all_of_a_sync_clients_requests() -> None:
    """The sync client's watchdog is one thread however many requests it watches."""
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, json=CREDITS))
        with client_for("sync", server.url) as client:
            before = set(threading.enumerate())
            for _ in range(10):
                assert client.get_credits() == 10
            started = set(threading.enumerate()) - before
    # The watchdog, and the server's thread for the kept-alive connection.
    assert len(started) <= 3, started


def test_the_watchdogs_thread_ends_with_the_last_request_it_watched() -> None:
    """The watchdog runs, as a named daemon thread, only while a request is in flight: no
    thread stays behind waiting out the budget (30 s) of a request that has finished."""

    def watchdogs() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "kie-instrumental-watchdog"]

    def watched_while(call: Callable[[], object]) -> list[threading.Thread]:
        seen: list[threading.Thread] = []
        done = threading.Event()

        def look() -> None:
            while not done.is_set() and not seen:
                seen.extend(watchdogs())
                time.sleep(0.005)

        looker = threading.Thread(target=look)
        looker.start()
        try:
            call()
        finally:
            done.set()
            looker.join(5)
        return seen

    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, json=CREDITS, delay=0.3))
        with client_for("sync", server.url, timeout=30) as client:
            for _ in range(2):  # a later request starts one again, which ends the same way
                seen = watched_while(lambda: client.get_credits())
                assert len(seen) == 1 and seen[0].daemon  # never holds the interpreter open
                deadline = time.monotonic() + 10
                while watchdogs() and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert not watchdogs()


SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from kie_instrumental import KieClient

    client = KieClient("k", base_url=sys.argv[1], rate_limit=None, timeout=30, route="legacy")
    print(client.get_credits())  # answered at once
    # A request of a daemon thread, never answered, that the script does not wait for.
    threading.Thread(target=client.get_task, args=("task-1",), daemon=True).start()
    time.sleep(0.5)
    """
)


def test_a_script_ends_without_waiting_for_its_daemon_threads_requests() -> None:
    """The watchdog's thread never holds the interpreter open until a request's budget ends."""
    with HostileServer() as server:
        server.script("GET", CREDIT_PATH, Reply(200, json=CREDITS))
        server.script("GET", RECORD_PATH, Reply(hang=True))
        # In this process too, so that `make mutation` runs this test for the watchdog.
        assert client_for("sync", server.url).get_credits() == 10
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # this kie_instrumental
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, server.url],
            capture_output=True,
            text=True,
            timeout=50,
            env=env,
        )
        took = time.monotonic() - started
        assert done.returncode == 0 and done.stdout.strip() == "10.0", done.stderr
        assert server.count("GET", RECORD_PATH) == 1
    assert took < 20  # the budget is 30 s


@pytest.mark.parametrize("kind", KINDS)
def test_a_download_ends_within_its_timeout_and_leaves_no_file(kind, tmp_path) -> None:
    with HostileServer() as server:
        audio = Reply(
            200,
            body=lambda: itertools.chain([b"ID3\x04\x00" + bytes(507)], endless(bytes(512))()),
            headers={"Content-Type": "audio/mpeg"},
            length="chunked",
            drip=(512, 0.05),
        )
        server.script("GET", "/a.mp3", audio)
        track = Track(id="t", audio_url=server.url_for("/a.mp3"))
        client = client_for(kind, server.url, max_retries=0)
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            run(kind, lambda c: c.download([track], tmp_path, request_timeout=1.0))(client)
        assert time.monotonic() - started < 3.5
    assert list(tmp_path.iterdir()) == []


# -- wait(): an overall deadline, polls retried inside it -------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_wait_meets_its_deadline_when_the_server_never_answers(kind) -> None:
    with HostileServer() as server:
        server.script("GET", RECORD_PATH, Reply(hang=True))
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as caught:
            # Default timeouts (60 s per request, 2 retries): before, minutes.
            run(kind, lambda c: c.wait("task-1", timeout=2))(client_for(kind, server.url))
        assert time.monotonic() - started < 2 + 1 + 2.5  # T, one last short poll, slack
    assert caught.value.task_id == "task-1"


@pytest.mark.parametrize("kind", KINDS)
def test_refused_polls_inside_wait_are_tried_again(kind) -> None:
    success = record("SUCCESS", [suno_track()])
    with HostileServer() as server:
        server.script(
            "GET",
            RECORD_PATH,
            [
                Reply(429, json={"code": 429, "msg": "slow"}, headers={"Retry-After": "1"}),
                Reply(200, json={"code": 429, "msg": "slow"}),
                Reply(500, body=b"<html>oops</html>"),
                Reply(503, body=b""),
                Reply(200, body=b'{"code": 200', cut_after=5),
                Reply(200, body=success.content),
            ],
        )
        client = client_for(kind, server.url, clock=FakeClock(), max_retries=0)
        details = run(kind, lambda c: c.wait("task-1", timeout=600))(client)
        assert details.status == "SUCCESS"
        assert server.count("GET", RECORD_PATH) == 6


@pytest.mark.parametrize("kind", KINDS)
def test_wait_on_a_finished_task_answers_at_once(kind) -> None:
    with HostileServer() as server:
        server.script(
            "GET", RECORD_PATH, Reply(200, body=record("SUCCESS", [suno_track()]).content)
        )
        started = time.monotonic()
        run(kind, lambda c: c.wait("task-1"))(client_for(kind, server.url))
        assert time.monotonic() - started < 1.5  # no 2.5 s sleep before the first poll


@pytest.mark.parametrize("kind", KINDS)
def test_a_budget_spent_before_the_connection_opens_gets_no_tls_handshake(kind) -> None:
    """The caller's request hook takes the whole timeout; the server then accepts TCP but never
    answers TLS. The request ends as a timeout as soon as its connection opens, not after a
    further handshake as long as its connect timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # the kernel completes TCP connections; no one ever answers on them
    url = f"https://127.0.0.1:{silent.getsockname()[1]}"
    if kind == "sync":
        http = httpx.Client(event_hooks={"request": [lambda request: time.sleep(0.1)]})
    else:

        async def slow(request: httpx.Request) -> None:
            await asyncio.sleep(0.1)

        http = httpx.AsyncClient(event_hooks={"request": [slow]})
    try:
        client = client_for(kind, url, http_client=http, max_retries=0)
        with pytest.raises(APITimeoutError) as caught:
            run(kind, lambda c: c.get_credits(request_timeout=0.05))(client)
    finally:
        silent.close()
    assert "the request took longer than its 0.05 s timeout" in str(caught.value)
