"""Hostile callers against both receivers on real loopback servers (Starlette under uvicorn,
WSGI under wsgiref), with real signed callbacks and FakeKie as the KIE that confirms.

KIE signs only "<task_id>.<timestamp>", so an attacker who captured one delivery's headers can
send any body with them for 300 s. Proven here: a forged body never hands a handler a URL KIE
did not confirm and never suppresses the genuine event; floods of stages run the handler a
bounded number of times; a full store never makes a genuine event run twice; a delivery while
the handler runs is not acknowledged; absurd numbers are a clean refusal; and an oversized body
costs the receiver's process no memory (its peak RSS, measured in a child process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from _callbacks import SECRET, callback, signed
from kie_instrumental import AsyncKieClient, CallbackEvent, KieClient, webhooks
from kie_instrumental.receivers import CALLBACK_PATH, MAX_BODY, starlette_app, wsgi_app
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread

MB = 1 << 20
RECORD_INFO = "/api/v1/generate/record-info"
EVIL = "https://evil.example/steal.mp3"
FIELDS = {
    "upload_url": "https://me.example/vocals.mp3",
    "title": "Night Drive",
    "tags": "synthwave",
    "negative_tags": "metal",
    "callback_url": "https://me.example/kie/callback",
}


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(WSGIServer):
    """wsgiref, one thread per request (a redelivery must reach a busy receiver)."""

    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        threading.Thread(
            target=self._serve_one, args=(request, client_address), daemon=True
        ).start()

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)


@contextlib.contextmanager
def serve_wsgi(app: Any, *, threaded: bool = True) -> Iterator[str]:
    server_class = _ThreadingWSGIServer if threaded else WSGIServer
    server = make_server("127.0.0.1", 0, app, server_class=server_class, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Kie:
    """FakeKie on loopback, answering the receivers' confirmations."""

    def __init__(self, fake: FakeKie, url: str) -> None:
        self.fake = fake
        self.url = url
        # Legacy: these tests send the legacy route's stage callbacks for its tasks.
        self.client = KieClient(api_key=fake.api_key, base_url=url, rate_limit=None, route="legacy")

    def new_task(self) -> str:
        return self.client.add_instrumental(**FIELDS).task_id

    def confirmer(self, kind: str) -> Any:
        cls = AsyncKieClient if kind == "starlette" else KieClient
        return cls(api_key=self.fake.api_key, base_url=self.url, rate_limit=None, route="legacy")


@pytest.fixture(scope="module")
def kie() -> Iterator[Kie]:
    fake = FakeKie(callbacks="off", rate_limit=None, credits=None)
    with fake.serve() as url:
        kie = Kie(fake, url)
        yield kie
        kie.client.close()


@pytest.fixture(params=["starlette", "wsgi"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@contextlib.contextmanager
def receiver(kind: str, handler: Callable[[CallbackEvent], Any], **options: Any) -> Iterator[str]:
    """The ready receiver of `kind` on a loopback port; yields the callback URL."""
    if kind == "starlette":
        with serve_in_thread(starlette_app(SECRET, handler, **options)) as url:
            yield url + CALLBACK_PATH
    else:
        with serve_wsgi(wsgi_app(SECRET, handler, **options)) as url:
            yield url + CALLBACK_PATH


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=30)


def forged_with(stage: str, task_id: str) -> bytes:
    return json.dumps(
        callback(stage, task_id=task_id, tracks=[{"id": "x", "audio_url": EVIL}])
    ).encode()


# -- a forged body under replayed headers ------------------------------------------------------


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "unconfirmed"])
def test_a_forged_body_never_hands_over_a_url_nor_suppresses_the_genuine_event(kind, kie, confirm):
    task_id = kie.new_task()
    kie.fake.tasks[task_id].status_override = "TEXT_SUCCESS"  # text sent, nothing else yet
    events: list[CallbackEvent] = []
    options = {"confirm_with": kie.confirmer(kind)} if confirm else {}
    now = time.time()
    with receiver(kind, events.append, **options) as url:
        text_body, captured = signed(callback("text", task_id=task_id), at=now)
        assert post(url, text_body, captured).json() == {"detail": "ok"}
        # The attacker replays the captured text headers with bodies of every other stage.
        for stage in ("first", "complete", "error"):
            answer = post(url, forged_with(stage, task_id), captured)
            assert answer.status_code == (401 if confirm else 200), answer.text
        kie.fake.tasks[task_id].status_override = None  # KIE finishes the task
        genuine_body, genuine_headers = signed(callback("complete", task_id=task_id), at=now + 1)
        assert post(url, genuine_body, genuine_headers).json() == {"detail": "ok"}
    truth = kie.client.get_task(task_id).tracks
    urls = {t.audio_url for event in events for t in event.tracks}
    assert EVIL not in urls
    assert events[-1].stage == "complete"  # the genuine event was processed, not "duplicate"
    if confirm:
        assert [e.stage for e in events] == ["text", "complete"]
        assert events[-1].tracks == truth and events[-1].confirmed
    else:
        assert urls == set() and not any(e.confirmed for e in events)


# -- floods ------------------------------------------------------------------------------------


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "unconfirmed"])
def test_one_captured_header_set_runs_the_handler_a_bounded_number_of_times(kind, kie, confirm):
    task_id = kie.new_task()
    kie.fake.tasks[task_id].status_override = "TEXT_SUCCESS"
    runs: list[CallbackEvent] = []
    options = {"confirm_with": kie.confirmer(kind)} if confirm else {}
    _, captured = signed(callback("text", task_id=task_id))
    answers: list[int] = []
    asked_before = kie.fake.requests.count(("GET", RECORD_INFO))
    # A new connection per request: keep-alive meets delayed ACKs on loopback (40 ms each).
    fresh = httpx.Limits(max_keepalive_connections=0)
    with receiver(kind, runs.append, **options) as url, httpx.Client(limits=fresh) as http:
        for i in range(300):
            body = forged_with(f"stage-{i}", task_id)  # stages the spec does not name
            answer = http.post(url, content=body, headers=captured)
            assert answer.json() == {"detail": "ignored: unknown stage"}
        for _ in range(10):
            for stage in sorted(webhooks.known_stages()):
                body = forged_with(stage, task_id)
                answers.append(http.post(url, content=body, headers=captured).status_code)
    assert set(answers) <= {200, 401}
    # At most one run per known stage, whatever the number of requests; confirmed, only the
    # stage KIE has reached.
    assert len(runs) <= len(webhooks.known_stages())
    if confirm:
        assert [e.stage for e in runs] == ["text"]
        # KIE is asked once per stage of the signed delivery, not once per request.
        asked = kie.fake.requests.count(("GET", RECORD_INFO)) - asked_before
        assert 1 <= asked <= len(webhooks.known_stages())


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "unconfirmed"])
def test_a_full_store_never_makes_a_genuine_complete_run_twice(kind, kie, confirm):
    runs: list[str] = []
    store = webhooks.InMemoryDedupStore(max_keys=4)
    options: dict[str, Any] = {"dedup": webhooks.Deduplicator(store)}
    if confirm:
        options["confirm_with"] = kie.confirmer(kind)
    first = kie.new_task()
    others = [kie.new_task() for _ in range(6)]
    body, headers = signed(callback("complete", task_id=first))
    statuses: list[int] = []
    with receiver(kind, lambda event: runs.append(event.task_id), **options) as url:
        assert post(url, body, headers).json() == {"detail": "ok"}
        for task_id in others:  # more genuine events than the store holds
            statuses.append(post(url, *signed(callback("complete", task_id=task_id))).status_code)
        # KIE delivers the first task's complete again: with confirmation under a new
        # timestamp (the key is task and stage), without it the same delivery.
        again = signed(callback("complete", task_id=first), at=time.time() + 1)
        replay = post(url, *(again if confirm else (body, headers)))
    assert statuses == [200, 200, 200, 503, 503, 503]  # refused, not room made by forgetting
    assert replay.json() == {"detail": "duplicate"}
    assert runs.count(first) == 1


# -- a redelivery while the first delivery's handler runs --------------------------------------


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "unconfirmed"])
def test_a_redelivery_during_a_running_handler_that_then_fails_is_not_lost(kind, kie, confirm):
    started, release = threading.Event(), threading.Event()
    runs: list[CallbackEvent] = []

    def note(event: CallbackEvent) -> bool:
        runs.append(event)
        started.set()
        return len(runs) == 1  # the first run blocks, then fails

    def handler(event: CallbackEvent) -> None:
        if note(event):
            release.wait(20)
            raise RuntimeError("database down")

    async def ahandler(event: CallbackEvent) -> None:
        if note(event):
            for _ in range(2000):
                if release.is_set():
                    break
                await asyncio.sleep(0.01)
            raise RuntimeError("database down")

    task_id = kie.new_task()
    options = {"confirm_with": kie.confirmer(kind)} if confirm else {}
    body, headers = signed(callback("complete", task_id=task_id))
    first: list[httpx.Response] = []
    with receiver(kind, ahandler if kind == "starlette" else handler, **options) as url:
        delivery = threading.Thread(target=lambda: first.append(post(url, body, headers)))
        delivery.start()
        assert started.wait(20)
        during = post(url, body, headers)
        release.set()
        delivery.join(30)
        after = post(url, body, headers)
    assert during.status_code == 503 and during.json() == {"detail": "in progress"}
    assert first[0].status_code == 500
    assert after.json() == {"detail": "ok"}
    assert len(runs) == 2


# -- absurd numbers ----------------------------------------------------------------------------


def absurd_bodies(task_id: str) -> list[bytes]:
    track = json.dumps({"id": "t", "audio_url": "https://cdn.example/t.mp3"})
    base = callback("complete", task_id=task_id, tracks=[])
    bodies = []
    for field, value in [("duration", 10**400), ("createTime", 10**400), ("duration", 1e308)]:
        changed = json.loads(json.dumps(base))
        changed["data"]["data"] = [{**json.loads(track), field: value}]
        bodies.append(json.dumps(changed).encode())
    bodies.append(json.dumps({**base, "code": 10**400}).encode())
    text = json.dumps(base)
    for number in ("1" + "0" * 5000, "1e400", "-1e400"):  # 5,001 digits: past int()'s limit
        bodies.append(text.replace('"code": 200', f'"code": {number}').encode())
    return bodies


def test_absurd_timestamps_and_numbers_are_a_clean_answer_never_a_500(kind):
    runs: list[CallbackEvent] = []
    answers: list[httpx.Response] = []
    with receiver(kind, runs.append) as url:
        body, headers = signed(callback("complete"))
        for stamp in ("9" * 4301, "1" + "0" * 5000, "1" * 13, "-1", "1e9", "0x10"):
            answers.append(post(url, body, {**headers, "X-Webhook-Timestamp": stamp}))
        assert all(a.json()["detail"] == "X-Webhook-Timestamp is not Unix seconds" for a in answers)
        for raw in absurd_bodies("task-9"):
            stamp = str(int(time.time()))
            signature = signed(callback(task_id="task-9"), at=int(stamp))[1]
            answers.append(post(url, raw, signature))
    for answer in answers:
        assert answer.status_code in (200, 401), answer.text
        assert answer.headers["content-type"].startswith("application/json")


# -- oversized bodies: memory and stalls -------------------------------------------------------

CHILD = r"""
import resource, sys, threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

kind, secret = sys.argv[1], sys.argv[2]
from kie_instrumental.receivers import starlette_app, wsgi_app


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def serve():
    if kind == "starlette":
        from kie_instrumental.testing._server import serve_in_thread
        with serve_in_thread(starlette_app(secret, lambda event: None)) as url:
            report(url)
    else:
        server = make_server("127.0.0.1", 0, wsgi_app(secret, lambda event: None),
                             handler_class=Quiet)  # single-threaded, as many deployments
        threading.Thread(target=server.serve_forever, daemon=True).start()
        report(f"http://127.0.0.1:{server.server_port}")


def report(url):
    print(url, flush=True)
    for _ in sys.stdin:  # one line in, the peak RSS (KiB) out
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)


serve()
"""


@contextlib.contextmanager
def child_receiver(kind: str) -> Iterator[tuple[str, Callable[[], int]]]:
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, SECRET],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def peak_kib() -> int:
        stdin.write("rss\n")
        stdin.flush()
        return int(stdout.readline())

    try:
        yield stdout.readline().strip() + CALLBACK_PATH, peak_kib
    finally:
        process.kill()
        process.wait(timeout=10)


def raw_post(url: str, head: dict[str, str], chunks: Iterator[bytes]) -> bytes:
    """Send a request byte by byte as a hostile caller would; return what the server answered
    (b"" if it closed without answering). Sending stops when the server stops reading."""
    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.hostname}"]
    lines += [f"{name}: {value}" for name, value in head.items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sock.settimeout(3)
        with contextlib.suppress(OSError):  # refused mid-way: reset, broken pipe, or stalled
            for chunk in chunks:
                sock.sendall(chunk)
        sock.settimeout(10)
        answer = b""
        with contextlib.suppress(OSError):
            while not answer.endswith(b"}") and (piece := sock.recv(4096)):
                answer += piece
        return answer


def pieces(total: int, *, chunked: bool) -> Iterator[bytes]:
    piece = b"x" * MB
    for _ in range(total // MB):
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    if chunked:
        yield b"0\r\n\r\n"


# Far above MAX_BODY (the old Starlette receiver grew by about this much); `make hostile-big`
# sends 300 MiB.
OVERSIZE = int(os.environ.get("KIE_HOSTILE_BODY_MB", "48")) * MB


@pytest.mark.parametrize(
    ("kind", "framing", "status"),
    [
        ("starlette", "length", b"413"),
        ("starlette", "chunked", b"413"),
        ("wsgi", "length", b"413"),
        ("wsgi", "chunked", b"411"),  # wsgiref passes no end of a chunked body: refused
    ],
)
def test_an_oversized_body_costs_the_receiver_no_memory(kind, framing, status):
    _, headers = signed(callback("complete"))
    with child_receiver(kind) as (url, peak_kib):
        small_body, small_headers = signed(callback("complete"))
        assert post(url, small_body, small_headers).status_code == 200  # warm: imports done
        with contextlib.suppress(httpx.HTTPError):  # refused unread: the send may break
            post(url, b"x" * (MAX_BODY + 1), headers)
        before = peak_kib()
        framing_header = (
            {"Transfer-Encoding": "chunked"}
            if framing == "chunked"
            else {"Content-Length": str(OVERSIZE)}
        )
        answer = raw_post(
            url,
            {**headers, **framing_header},
            pieces(OVERSIZE, chunked=framing == "chunked"),
        )
        grown_mib = (peak_kib() - before) / 1024
    assert grown_mib < 16, f"the receiver's peak RSS grew {grown_mib:.0f} MiB"
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1:2] in ([status], []), answer[:200]


@pytest.mark.parametrize("length", ["-1", None, "abc", "1" * 30])
def test_a_wsgi_request_without_a_usable_length_is_answered_at_once(length):
    handled: list[CallbackEvent] = []
    _, headers = signed(callback("complete"))
    head = {**headers} if length is None else {**headers, "Content-Length": length}
    with serve_wsgi(wsgi_app(SECRET, handled.append), threaded=False) as base:
        url = base + CALLBACK_PATH
        started = time.monotonic()
        # The connection stays open and sends nothing more: reading to the end would stall.
        answer = raw_post(url, head, iter(()))
        assert answer.split(b" ")[1] in (b"400", b"411"), answer[:200]
        assert time.monotonic() - started < 8
        # The single-threaded server is free for the next caller.
        assert post(url, *signed(callback("complete"))).json() == {"detail": "ok"}
    assert len(handled) == 1
