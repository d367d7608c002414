"""The hostile loopback server does what the tests built on it assume: scripted answers in
order, lazily produced huge bodies, drips, hangs, cut connections, redirects, counting."""

from __future__ import annotations

import time

import httpx
import pytest
from _hostile import MB, HostileServer, Reply, endless, repeat


def test_scripted_answers_in_order_and_counted() -> None:
    with HostileServer() as server:
        server.script("POST", "/x", [Reply(503), Reply(200, json={"ok": 1})])
        with httpx.Client(base_url=server.url) as client:
            assert client.post("/x", json={"a": 1}).status_code == 503
            assert client.post("/x?q=1").json() == {"ok": 1}
            assert client.post("/x").json() == {"ok": 1}
            assert client.get("/other").status_code == 404
        assert server.count("POST", "/x") == 3
        assert server.count("GET") == 1
        assert server.requests[0].json() == {"a": 1}
        assert server.requests[1].query == "q=1"


def test_a_function_script_sees_the_request() -> None:
    with HostileServer() as server:
        server.script("*", "*", lambda r: Reply(200, body=r.method.encode() + r.path.encode()))
        assert httpx.put(server.url_for("/p")).content == b"PUT/p"


def test_a_generated_body_is_streamed_with_or_without_a_length() -> None:
    with HostileServer() as server:
        server.script("GET", "/big", Reply(200, body=repeat(b"ab", 3 * MB)))
        server.script("GET", "/chunked", Reply(200, body=repeat(b"z", MB), length="chunked"))
        with httpx.stream("GET", server.url_for("/big")) as response:
            assert "content-length" not in response.headers
            assert sum(len(c) for c in response.iter_bytes()) == 3 * MB
        assert len(httpx.get(server.url_for("/chunked")).content) == MB


def test_drip_hang_and_cut() -> None:
    with HostileServer() as server:
        server.script("GET", "/drip", Reply(200, body=b"abcd", drip=(1, 0.1)))
        server.script("GET", "/hang", Reply(hang=True))
        server.script("GET", "/endless", Reply(200, body=endless(), drip=(1, 0.05)))
        server.script("GET", "/cut", Reply(200, body=b"x" * 1000, cut_after=10))
        started = time.monotonic()
        assert httpx.get(server.url_for("/drip")).content == b"abcd"
        assert 0.3 <= time.monotonic() - started < 5
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url_for("/hang"), timeout=0.3)
        with httpx.stream("GET", server.url_for("/endless"), timeout=2) as response:
            assert next(response.iter_bytes()) == b"x"
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.url_for("/cut"))
    # Leaving the block released the hanging and endless handlers.


def test_redirects_and_lying_lengths() -> None:
    with HostileServer() as server:
        server.script("POST", "/a", Reply.redirect(307, "/b"))
        server.script("POST", "/b", Reply(200, body=b"landed"))
        server.script("GET", "/liar", Reply(200, body=b"1234", headers={"Content-Length": "9"}))
        with httpx.Client(base_url=server.url, follow_redirects=True) as client:
            assert client.post("/a", content=b"payload").content == b"landed"
        assert server.count("POST", "/b") == 1
        assert server.requests[-1].body == b"payload"
        # The promised 5 missing bytes never come: the connection stays open and silent.
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url_for("/liar"), timeout=0.5)


def test_large_uploads_are_counted_not_kept() -> None:
    with HostileServer() as server:
        server.script("POST", "/up", Reply(200))

        def gen():
            for _ in range(4):
                yield b"u" * MB

        httpx.post(server.url_for("/up"), content=gen())
        assert server.requests[0].body_size == 4 * MB
        assert len(server.requests[0].body) == MB
