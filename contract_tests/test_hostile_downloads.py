"""Downloads against a hostile server on loopback: refused addresses and redirects, answers
that are not audio, empty or cut by a closed connection. Nothing but complete audio is ever
saved, and each failure carries the task id. Sync and async alike."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from _hostile import HostileServer, Reply
from kie_instrumental import (
    APIConnectionError,
    APIError,
    AsyncKieClient,
    InvalidRequestError,
    KieClient,
    KieError,
    TaskDetails,
    TaskStatus,
    Track,
)
from kie_instrumental.testing import FakeClock

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 64
AUDIO = {"Content-Type": "audio/mpeg"}


@pytest.fixture
def server():
    with HostileServer() as running:
        yield running


@pytest.fixture(params=["sync", "async"])
def download(request):
    """download(url, directory, **client_options) -> paths, through a real client."""

    def run(url: str, directory: Path, **options: Any) -> list[Path]:
        request_timeout = options.pop("request_timeout", 5)
        options = {"api_key": "k", "rate_limit": None, "clock": FakeClock(), **options}
        details = TaskDetails(
            task_id="task-9",
            status=TaskStatus.SUCCESS,
            tracks=(Track(id="t1", title="Song", audio_url=url),),
        )
        if request.param == "sync":
            with KieClient(**options) as client:
                return client.download(details, directory, request_timeout=request_timeout)

        async def scenario() -> list[Path]:
            async with AsyncKieClient(**options) as client:
                return await client.download(details, directory, request_timeout=request_timeout)

        return asyncio.run(scenario())

    return run


def refused(run, *args: Any, error: type[KieError] = APIError, **options: Any) -> KieError:
    with pytest.raises(error) as caught:
        run(*args, **options)
    assert caught.value.task_id == "task-9"
    return caught.value


def test_a_loopback_server_is_refused_by_default(server, download, tmp_path):
    server.script("GET", "/x.mp3", Reply(200, body=MP3, headers=AUDIO))
    https = server.url.replace("http://", "https://") + "/x.mp3"
    for url, words in ((server.url_for("/x.mp3"), "https"), (https, "public address")):
        assert words in str(refused(download, url, tmp_path, error=InvalidRequestError))
    assert server.count() == 0 and list(tmp_path.iterdir()) == []


def test_the_switch_allows_it(server, download, tmp_path):
    server.script("GET", "/x.mp3", Reply(200, body=MP3, headers=AUDIO))
    (path,) = download(server.url_for("/x.mp3"), tmp_path, allow_private_downloads=True)
    assert path.read_bytes() == MP3


def test_a_redirect_from_a_trusted_host_to_another_internal_one_is_refused(download, tmp_path):
    with HostileServer() as api, HostileServer() as internal:
        internal.script("GET", "/admin", Reply(200, body=MP3, headers=AUDIO))
        api.script("GET", "/files/x.mp3", Reply.redirect(302, internal.url_for("/admin")))
        refused(
            download,
            api.url_for("/files/x.mp3"),
            tmp_path,
            base_url=api.url,
            error=InvalidRequestError,
        )
        assert api.count() == 1 and internal.count() == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (
            Reply(200, body=b"<html>internal admin</html>", headers={"Content-Type": "text/html"}),
            "is not audio (Content-Type text/html)",
        ),
        (
            Reply(
                200,
                body=b"<html>internal admin</html>" * 10,
                headers={"Content-Type": "application/octet-stream"},
            ),
            "is not audio (its first bytes are no audio format)",
        ),
        (Reply(200, body=b"", headers=AUDIO), "is empty (0 bytes)"),
        (
            Reply(200, body=MP3, headers=AUDIO, length="none"),
            "has no Content-Length and is not chunked: its end cannot be verified",
        ),
    ],
    ids=["html", "html-as-binary", "empty", "close-delimited"],
)
def test_what_is_not_complete_audio_is_never_saved(server, download, tmp_path, reply, words):
    server.script("GET", "/x.mp3", reply)
    error = refused(download, server.url_for("/x.mp3"), tmp_path, allow_private_downloads=True)
    assert str(error) == f"download: the answer {words} (task_id=task-9)"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("length", ["auto", "chunked"])
def test_a_body_cut_by_a_closed_connection_is_never_saved(server, download, tmp_path, length):
    server.script(
        "GET", "/x.mp3", Reply(200, body=MP3, headers=AUDIO, length=length, cut_after=len(MP3) // 2)
    )
    error = refused(
        download,
        server.url_for("/x.mp3"),
        tmp_path,
        allow_private_downloads=True,
        max_retries=1,
        error=APIConnectionError,
    )
    assert server.count("GET", "/x.mp3") == 2  # a download is a GET: tried again, then raised
    assert "task-9" in str(error)
    assert list(tmp_path.iterdir()) == []


def test_a_lying_content_length_is_caught(server, download, tmp_path):
    server.script(
        "GET",
        "/x.mp3",
        Reply(
            200,
            body=MP3,
            headers={**AUDIO, "Content-Length": str(len(MP3) * 3)},
            cut_after=len(MP3),
        ),
    )
    refused(
        download,
        server.url_for("/x.mp3"),
        tmp_path,
        allow_private_downloads=True,
        max_retries=0,
        error=APIConnectionError,
    )
    assert list(tmp_path.iterdir()) == []


def test_a_complete_chunked_answer_is_saved(server, download, tmp_path):
    server.script("GET", "/x.mp3", Reply(200, body=MP3, headers=AUDIO, length="chunked"))
    (path,) = download(server.url_for("/x.mp3"), tmp_path, allow_private_downloads=True)
    assert path.read_bytes() == MP3 and path.name == "Song-t1.mp3"


def test_a_name_lookup_that_hangs_ends_within_the_connect_timeout(download, tmp_path, monkeypatch):
    import socket
    import time

    def hanging_dns(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3)
        raise OSError("too late")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_dns)
    before = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(APIConnectionError, match="timed out") as caught:
        download(
            "https://slow-dns.example/x.mp3",
            tmp_path,
            request_timeout=httpx.Timeout(5, connect=0.3),
        )
    assert time.monotonic() - started < 2.5  # generous: the lookup alone takes 3 s
    assert caught.value.task_id == "task-9"
    # The abandoned lookup, still running, keeps no interpreter from exiting (Python's
    # shutdown waits for every thread not a daemon).
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left and all(t.daemon for t in left)


@pytest.mark.parametrize(
    ("addresses", "refused_at"),
    [
        (["fe80::1%eth0"], "fe80::1%eth0"),  # link-local with its zone
        (["::ffff:127.0.0.1"], "::ffff:127.0.0.1"),  # loopback mapped into IPv6
        (["ff0e::1"], "ff0e::1"),  # global scope, but multicast
        (["93.184.216.34", "10.0.0.1"], "10.0.0.1"),  # one private address among public ones
    ],
)
def test_a_name_resolving_to_any_internal_address_is_refused_unsent(
    download, tmp_path, monkeypatch, addresses, refused_at
):
    import socket

    def dns(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    error = refused(download, "https://cdn.example/x.mp3", tmp_path, error=InvalidRequestError)
    assert str(error) == (
        "audio_url (audioUrl): must be on a public address, got https://cdn.example/x.mp3 at "
        f"{refused_at} (private, loopback and link-local hosts need "
        "allow_private_downloads=True) (task_id=task-9)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_name_that_does_not_resolve_is_a_connection_error(download, tmp_path, monkeypatch):
    import socket

    def dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    error = refused(download, "https://cdn.example/x.mp3", tmp_path, error=APIConnectionError)
    assert str(error) == (
        "download: cannot resolve cdn.example: [Errno -2] Name or service not known "
        "(task_id=task-9)"
    )


def test_a_compressed_download_is_inflated_a_piece_at_a_time(server, download, tmp_path):
    """Audio sent gzip-encoded although identity was asked for: saved decoded, and a 20 MiB
    file inflated from about 20 KiB never sits in memory whole."""
    audio = MP3 + bytes(20 * 1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    packed = packer.compress(audio) + packer.flush()
    server.script(
        "GET", "/x.mp3", Reply(200, body=packed, headers={**AUDIO, "Content-Encoding": "gzip"})
    )
    del audio
    tracemalloc.start()
    try:
        (path,) = download(server.url_for("/x.mp3"), tmp_path, allow_private_downloads=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.stat().st_size == len(MP3) + 20 * 1024 * 1024
    assert path.read_bytes()[: len(MP3)] == MP3
    assert server.requests[-1].headers.get("Accept-Encoding") == "identity"
    assert peak < 12 * 1024 * 1024, peak


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://cdn.example/x.mp3", "must be an http(s) URL"),
        ("https:///x.mp3", "must be an http(s) URL"),
        ("http://cdn.example/x.mp3", "must be https (http only with allow_private_downloads=True)"),
    ],
)
def test_a_url_no_address_check_can_allow_is_refused_unsent(download, tmp_path, url, rule):
    error = refused(download, url, tmp_path, error=InvalidRequestError)
    assert (error.field, error.rule) == ("audioUrl", "format")
    assert str(error) == f"audio_url (audioUrl): {rule}, got {url!r} (task_id=task-9)"
    assert list(tmp_path.iterdir()) == []


def _resolving_to(monkeypatch: pytest.MonkeyPatch, addresses: list[str]) -> None:
    import socket

    def dns(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", dns)


def test_a_name_with_no_address_is_a_connection_error(download, tmp_path, monkeypatch):
    _resolving_to(monkeypatch, [])
    error = refused(download, "https://cdn.example/x.mp3", tmp_path, error=APIConnectionError)
    assert str(error) == "download: no address for cdn.example (task_id=task-9)"
    assert error.request_may_have_arrived is False


def test_every_internal_address_is_named_within_a_bound(download, tmp_path, monkeypatch):
    addresses = [f"fd00::{n:04x}:0:0:0:{n:04x}" for n in range(1, 11)]
    _resolving_to(monkeypatch, addresses)
    error = refused(download, "https://cdn.example/x.mp3", tmp_path, error=InvalidRequestError)
    named = ", ".join(sorted(addresses))[:200]
    assert str(error) == (
        f"audio_url (audioUrl): must be on a public address, got https://cdn.example/x.mp3 at "
        f"{named} (private, loopback and link-local hosts need allow_private_downloads=True) "
        "(task_id=task-9)"
    )
    assert (error.field, error.rule) == ("audioUrl", "public address")


def test_a_download_that_never_answers_ends_within_its_request_timeout(server, download, tmp_path):
    import time

    server.script("GET", "/x.mp3", Reply(200, hang=True))
    started = time.monotonic()
    with pytest.raises(APIConnectionError) as caught:
        download(
            server.url_for("/x.mp3"),
            tmp_path,
            allow_private_downloads=True,
            max_retries=0,
            request_timeout=0.5,
            timeout=30,
        )
    assert time.monotonic() - started < 10  # generous: the client's own timeout is 30 s
    assert caught.value.task_id == "task-9"
    assert list(tmp_path.iterdir()) == []


_HUNG_LOOKUP = """
import socket, time
import httpx
from kie_instrumental import APIConnectionError, KieClient, TaskDetails, TaskStatus, Track

def hang(*args, **kwargs):
    time.sleep(120)
    raise OSError("too late")

socket.getaddrinfo = hang
details = TaskDetails(task_id="t", status=TaskStatus.SUCCESS,
                      tracks=(Track(id="1", title="x", audio_url="https://slow.example/x.mp3"),))
with KieClient(api_key="k" * 32, rate_limit=None) as client:
    try:
        client.download(details, ".", request_timeout=httpx.Timeout(5, connect=0.3))
    except APIConnectionError:
        print("gave up", flush=True)
"""


def test_a_process_whose_name_lookup_hangs_can_still_exit(tmp_path):
    # The abandoned lookup must not keep the interpreter alive (it runs in a daemon thread).
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _HUNG_LOOKUP],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,  # generous: it ends in about a second
        check=False,
    )
    assert done.stdout == "gave up\n", done.stderr[-2000:]
    assert done.returncode == 0
