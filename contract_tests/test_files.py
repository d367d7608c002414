"""upload_file streams a path, bytes or a binary file object through KIE's upload API under a
unique name and returns a URL add_instrumental accepts; download streams each track to a new,
portable file name, without the API key, only from allowed hosts, and keeps only complete audio.
Sync and async alike (the `client` fixture runs each test with both)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
import stat
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import respx
from _records import record, suno_track
from _support import RECORD_PATH, UPLOAD_BASE_URL, UPLOAD_PATH
from kie_instrumental import (
    APIConnectionError,
    APIError,
    InvalidRequestError,
    KieError,
    NotFoundError,
    TaskDetails,
    TaskStatus,
    Track,
)

UPLOADED = {
    "success": True,
    "code": 200,
    "msg": "ok",
    "data": {"fileName": "vocals.wav", "downloadUrl": "https://tmp.example/vocals.wav"},
}
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)
CREATE_PATH = "/api/v1/generate/add-instrumental"
CREATE_FIELDS = {
    "title": "T",
    "tags": "piano",
    "negative_tags": "metal",
    "callback_url": "https://me.example/cb",
}


@pytest.fixture
def mock_upload():
    with respx.mock(base_url=UPLOAD_BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def open_client(make_client):
    """A client that may download from any host: respx serves the made-up CDN hosts."""
    return make_client(allow_private_downloads=True)


def sent_field(request: httpx.Request, name: str) -> str:
    found = re.search(
        rb'name="' + name.encode() + rb'"\r\n(?:[^\r\n]+\r\n)*\r\n(.*?)\r\n--',
        request.content,
        re.S,
    )
    assert found is not None, name
    return found.group(1).decode()


# -- uploads ---------------------------------------------------------------------------------------


def test_upload_sends_the_file_as_multipart_and_returns_its_url(client, mock_upload, tmp_path):
    audio = tmp_path / "vocals.wav"
    audio.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    assert client.upload_file(audio) == "https://tmp.example/vocals.wav"
    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert sent.headers["authorization"].startswith("Bearer ")
    assert audio.read_bytes() in sent.content
    assert sent_field(sent, "uploadPath") == "kie-instrumental"


def test_two_local_files_with_the_same_name_get_different_remote_names(
    client, mock_upload, tmp_path
):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    names = []
    for owner in ("alice", "bob", "bob"):
        (tmp_path / owner).mkdir(exist_ok=True)
        audio = tmp_path / owner / "vocals.wav"
        audio.write_bytes(owner.encode())
        client.upload_file(audio)
        names.append(sent_field(route.calls.last.request, "fileName"))
    assert len(set(names)) == 3  # even the same file twice
    assert all(re.fullmatch(r"vocals-[0-9a-f]{16}\.wav", name) for name in names), names


def test_file_name_chooses_the_remote_name(client, mock_upload, tmp_path):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    audio = tmp_path / "vocals.wav"
    audio.write_bytes(b"x")
    client.upload_file(audio, file_name="take 2.wav", upload_path="team/a")
    assert sent_field(route.calls.last.request, "fileName") == "take 2.wav"
    assert sent_field(route.calls.last.request, "uploadPath") == "team/a"


def test_bytes_are_uploaded(client, mock_upload):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    client.upload_file(WAV, file_name="in-memory.wav")
    assert WAV in route.calls.last.request.content


class CountingReader(io.RawIOBase):
    """A binary stream that records how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        self.asked.append(len(buffer))
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        return self._data.read(size)


def test_a_binary_file_object_is_streamed_in_chunks_not_read_whole(client, mock_upload):
    data = os.urandom(1_000_000)
    reader = CountingReader(data)
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    client.upload_file(reader, file_name="stream.wav")
    assert data in route.calls.last.request.content
    assert reader.asked and all(0 < n < len(data) for n in reader.asked), reader.asked[:5]


def test_a_failed_upload_of_a_seekable_stream_is_resent_whole(client, mock_upload):
    route = mock_upload.post(UPLOAD_PATH).mock(
        side_effect=[httpx.Response(503, text="busy"), httpx.Response(200, json=UPLOADED)]
    )
    client.upload_file(io.BytesIO(WAV), file_name="a.wav")
    assert route.call_count == 2 and WAV in route.calls.last.request.content


class PipeLike(io.RawIOBase):
    """A binary stream that cannot rewind (a pipe, a socket, a request body)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_stream_that_cannot_rewind_is_sent_once_never_resent_partly(client, mock_upload):
    route = mock_upload.post(UPLOAD_PATH).mock(
        side_effect=[httpx.Response(503, text="busy"), httpx.Response(200, json=UPLOADED)]
    )
    with pytest.raises(InvalidRequestError, match="cannot be rewound") as caught:
        client.upload_file(PipeLike(WAV), file_name="a.wav")
    assert caught.value.field == "file"
    assert route.call_count == 1 and WAV in route.calls.last.request.content
    ok = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    assert client.upload_file(PipeLike(WAV), file_name="b.wav") == UPLOADED["data"]["downloadUrl"]
    assert WAV in ok.calls.last.request.content


def test_an_upload_retry_resends_the_whole_file(client, mock_upload, tmp_path):
    audio = tmp_path / "vocals.wav"
    audio.write_bytes(b"0123456789" * 100)
    route = mock_upload.post(UPLOAD_PATH).mock(
        side_effect=[httpx.Response(503, text="busy"), httpx.Response(200, json=UPLOADED)]
    )
    client.upload_file(audio)
    assert route.call_count == 2
    assert audio.read_bytes() in route.calls.last.request.content


def test_a_text_mode_file_is_refused_before_any_request(client, mock_upload, tmp_path):
    route = mock_upload.post(UPLOAD_PATH)
    (tmp_path / "a.txt").write_text("x")
    with (tmp_path / "a.txt").open() as text, pytest.raises(InvalidRequestError) as caught:
        client.upload_file(text)
    assert caught.value.field == "file" and "binary mode" in str(caught.value)
    with pytest.raises(InvalidRequestError, match="file"):
        client.upload_file(12345)
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (None, "required"),
        (5, "type"),
        ("", "minLength"),
        ("a\r\nX-Injected: 1", "pattern"),
        ("../etc", "pattern"),
        ("a/../b", "pattern"),
        ("/absolute", "pattern"),
        ("trailing/", "pattern"),
        ("a\\b", "pattern"),
        ("a?b", "pattern"),
        ("a#b", "pattern"),
        ("a%2F..", "pattern"),
        ("x" * 1_000_000, "pattern"),
    ],
)
def test_a_bad_upload_path_is_refused_before_any_request(
    client, mock_upload, tmp_path, value, rule
):
    route = mock_upload.post(UPLOAD_PATH)
    audio = tmp_path / "v.wav"
    audio.write_bytes(b"x")
    with pytest.raises(InvalidRequestError) as caught:
        client.upload_file(audio, upload_path=value)
    assert caught.value.field == "uploadPath"
    assert caught.value.rule in (rule, "type")
    assert str(caught.value).startswith("upload_path (uploadPath): ")
    assert len(str(caught.value)) < 1000
    assert route.call_count == 0


@pytest.mark.parametrize(
    "value", ["", "a/b.wav", "..", "a\nb.wav", "x" * 500, "a?b.wav", "a#b.wav", "a%41.wav"]
)
def test_a_bad_file_name_is_refused_before_any_request(client, mock_upload, value):
    route = mock_upload.post(UPLOAD_PATH)
    with pytest.raises(InvalidRequestError) as caught:
        client.upload_file(b"RIFF", file_name=value)
    assert caught.value.field == "fileName"
    assert route.call_count == 0


def test_uploading_what_is_not_a_regular_file_says_what_it_is(client, mock_upload, tmp_path):
    route = mock_upload.post(UPLOAD_PATH)
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    cases = {
        tmp_path / "absent.wav": "no such file",
        tmp_path: "not a directory",
        fifo: "not a FIFO",
        Path(os.devnull): "not a device",
    }
    for path, words in cases.items():
        with pytest.raises(InvalidRequestError) as caught:
            client.upload_file(path)
        assert caught.value.field == "file" and words in str(caught.value), str(caught.value)
    assert route.call_count == 0


def test_the_returned_url_is_percent_encoded_and_accepted_by_add_instrumental(
    client, mock_upload, mock_api, tmp_path
):
    raw = "https://tempfile.redpandaai.co/kieai/1/vocal take é [1] 100%.wav"
    mock_upload.post(UPLOAD_PATH).respond(
        200, json={**UPLOADED, "data": {"fileName": "x", "downloadUrl": raw}}
    )
    create = mock_api.post(CREATE_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": {"taskId": "t1"}}
    )
    url = client.upload_file(b"RIFF", file_name="vocal take é [1] 100.wav")
    assert url == (
        "https://tempfile.redpandaai.co/kieai/1/vocal%20take%20%C3%A9%20%5B1%5D%20100%25.wav"
    )
    assert client.add_instrumental(upload_url=url, **CREATE_FIELDS).task_id == "t1"
    assert create.call_count == 1


def test_an_unusable_returned_url_is_an_error(client, mock_upload):
    mock_upload.post(UPLOAD_PATH).respond(
        200, json={**UPLOADED, "data": {"fileName": "x", "downloadUrl": "kieai/1/x.wav"}}
    )
    with pytest.raises(APIError, match="add_instrumental cannot use"):
        client.upload_file(b"RIFF")


def test_upload_failure_with_success_false_is_an_error(client, mock_upload, tmp_path):
    audio = tmp_path / "v.wav"
    audio.write_bytes(b"x")
    mock_upload.post(UPLOAD_PATH).respond(
        200, json={"success": False, "code": 401, "msg": "bad key", "data": None}
    )
    with pytest.raises(KieError, match="bad key"):
        client.upload_file(audio)


# -- downloads -------------------------------------------------------------------------------------


def details_with(*tracks: Track) -> TaskDetails:
    return TaskDetails(task_id="task-1", status=TaskStatus.SUCCESS, tracks=tracks)


def test_download_streams_each_track_to_a_safe_name_without_the_key(open_client, tmp_path):
    hostile = Track(
        id="../../etc/passwd",
        title="../../Night Drive: part 1/2",
        audio_url="https://cdn.example/a/one.mp3",
    )
    normal = Track(id="t2", title="Night Drive", audio_url="https://cdn.example/two.wav?x=1")
    unfinished = Track(id="t3", title="Night Drive", audio_url="")
    with respx.mock(assert_all_called=True) as router:
        one = router.get("https://cdn.example/a/one.mp3").respond(200, content=MP3 * 100)
        router.get("https://cdn.example/two.wav").respond(200, content=WAV)
        paths = open_client.download(details_with(hostile, normal, unfinished), tmp_path / "out")
    assert [p.name for p in paths] == ["Night_Drive_part_1_2-etc_passwd.mp3", "Night_Drive-t2.wav"]
    assert all(p.parent == tmp_path / "out" for p in paths)
    assert paths[0].read_bytes() == MP3 * 100 and paths[1].read_bytes() == WAV
    assert "authorization" not in one.calls.last.request.headers
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def download_names(client, tmp_path, *tracks: Track) -> list[str]:
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        return [p.name for p in client.download(tracks, tmp_path)]


def test_same_names_are_made_unique_ignoring_case(open_client, tmp_path):
    tracks = [
        Track(id="same", title="T", audio_url=f"https://cdn.example/{n}.mp3") for n in range(3)
    ]
    tracks.append(Track(id="SAME", title="t", audio_url="https://cdn.example/9.mp3"))
    names = download_names(open_client, tmp_path, *tracks)
    assert names == ["T-same.mp3", "T-same-2.mp3", "T-same-3.mp3", "t-SAME-4.mp3"]


def test_names_keep_non_ascii_titles_and_avoid_dangerous_forms(open_client, tmp_path):
    url = "https://cdn.example/x.mp3"
    names = download_names(
        open_client,
        tmp_path,
        Track(id="1", title="Nuit étoilée 夜", audio_url=url),
        Track(id="", title="CON", audio_url=url),
        Track(id="", title="lpt1.txt", audio_url=url),
        Track(id="x", title="-rf --all", audio_url=url),
        Track(id="2", title="evil\u202egnp.mp3\x00", audio_url=url),
        Track(id="3", title="é" * 300, audio_url=url),
    )
    assert names[:5] == [
        "Nuit_étoilée_夜-1.mp3",
        "_CON.mp3",
        "_lpt1.txt.mp3",
        "rf_--all-x.mp3",
        "evil_gnp.mp3-2.mp3",
    ]
    assert len(names[5].encode()) <= 255 and names[5].startswith("é")


def test_existing_files_are_never_overwritten(open_client, tmp_path):
    (tmp_path / "T-t1.mp3").write_bytes(b"mine")
    (tmp_path / "t-T1-2.MP3").write_bytes(b"mine too")
    names = download_names(
        open_client, tmp_path, Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    )
    assert names == ["T-t1-3.mp3"]
    assert (tmp_path / "T-t1.mp3").read_bytes() == b"mine"
    assert (tmp_path / "t-T1-2.MP3").read_bytes() == b"mine too"


def test_an_existing_name_in_another_unicode_form_is_not_reused(open_client, tmp_path):
    (tmp_path / "Cafe\u0301-1.mp3").write_bytes(b"mine")  # decomposed, as macOS writes it
    track = Track(id="1", title="Café", audio_url="https://cdn.example/a.mp3")
    assert download_names(open_client, tmp_path, track) == ["Café-1-2.mp3"]


def test_saved_files_get_the_umask_permissions(open_client, tmp_path):
    previous = os.umask(0o022)
    try:
        (name,) = download_names(
            open_client, tmp_path, Track(id="1", title="T", audio_url="https://cdn.example/a.mp3")
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (httpx.Response(200, content=b"", headers={"content-length": "0"}), "empty"),
        (
            httpx.Response(
                200, content=b"<html>admin</html>", headers={"content-type": "text/html"}
            ),
            "not audio",
        ),
        (
            httpx.Response(
                200,
                content=b"<html>internal page</html>",
                headers={"content-type": "application/octet-stream"},
            ),
            "not audio",
        ),
        (
            httpx.Response(200, content=MP3, headers={"content-length": str(len(MP3) * 2)}),
            "truncated",
        ),
    ],
    ids=["empty", "html", "html-as-octet-stream", "short"],
)
def test_a_bad_answer_is_an_error_with_the_task_id_and_no_file(
    open_client, tmp_path, answer, words
):
    track = Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get("https://cdn.example/a.mp3").mock(return_value=answer)
        with pytest.raises(APIError) as caught:
            open_client.download(details_with(track), tmp_path)
    assert caught.value.task_id == "task-1" and words in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_raises_with_the_task_id_and_leaves_no_file(open_client, tmp_path):
    track = Track(id="t1", title="T", audio_url="https://cdn.example/gone.mp3")
    with respx.mock() as router:
        router.get("https://cdn.example/gone.mp3").respond(404, text="Not Found")
        with pytest.raises(NotFoundError) as caught:
            open_client.download(details_with(track), tmp_path)
    assert caught.value.task_id == "task-1"
    assert list(tmp_path.iterdir()) == []


def test_download_of_get_task_result(open_client, mock_api, tmp_path):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track(0)]))
    details = open_client.get_task("task-1")
    with respx.mock() as router:
        router.get("https://cdn.example/0.mp3").respond(200, content=MP3)
        (path,) = open_client.download(details, tmp_path)
    assert path.read_bytes() == MP3


def test_download_arguments_of_the_wrong_kind_name_the_argument(client, tmp_path):
    with pytest.raises(InvalidRequestError) as caught:
        client.download("some-task-id", tmp_path)
    assert caught.value.field == "source" and "wait(task_id)" in str(caught.value)
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"")
    with pytest.raises(InvalidRequestError) as caught:
        client.download(details_with(), a_file)
    assert caught.value.field == "directory" and "not a file" in str(caught.value)
    with pytest.raises(InvalidRequestError) as caught:
        client.download(details_with(), None)
    assert caught.value.field == "directory"
    with pytest.raises(InvalidRequestError, match="Track"):
        client.download(["https://cdn.example/a.mp3"], tmp_path)


# -- where downloads may come from -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://cdn.example/a.mp3", "must be https"),
        ("https://127.0.0.1:9/a.mp3", "public address"),
        ("https://localhost/a.mp3", "public address"),
        ("https://[::1]/a.mp3", "public address"),
        ("https://169.254.169.254/latest/meta-data", "public address"),
        ("https://10.1.2.3/a.mp3", "public address"),
        ("https://[::ffff:192.168.1.1]/a.mp3", "public address"),
        ("file:///etc/passwd", "http(s) URL"),
    ],
)
def test_private_addresses_and_plain_http_are_refused_before_any_request(
    client, tmp_path, url, words
):
    track = Track(id="t1", title="T", audio_url=url)
    with respx.mock(assert_all_called=False) as router:
        anything = router.route().respond(200, content=MP3)
        with pytest.raises(InvalidRequestError) as caught:
            client.download(details_with(track), tmp_path)
    assert words in str(caught.value) and caught.value.task_id == "task-1"
    assert caught.value.field == "audioUrl"
    assert anything.call_count == 0 and list(tmp_path.iterdir()) == []


def test_a_host_that_does_not_resolve_is_a_connection_error(client, tmp_path):
    track = Track(id="t1", title="T", audio_url="https://no-such-host.invalid/a.mp3")
    with pytest.raises(APIConnectionError) as caught:
        client.download(details_with(track), tmp_path)
    assert caught.value.task_id == "task-1" and not caught.value.request_may_have_arrived


FAKE_API = "http://fake.kie"


def test_the_api_hosts_themselves_are_trusted(make_client, tmp_path):
    """FakeKie serves its files from its own base URL, which the client already trusts."""
    client = make_client(base_url=FAKE_API)
    track = Track(id="t1", title="T", audio_url=f"{FAKE_API}/files/a.mp3")
    with respx.mock() as router:
        router.get(f"{FAKE_API}/files/a.mp3").respond(200, content=MP3)
        (path,) = client.download(details_with(track), tmp_path)
    assert path.read_bytes() == MP3


@pytest.mark.parametrize(
    ("base_url", "audio_url"),
    [
        ("http://fake.kie", "http://fake.kie:80/files/a.mp3"),
        ("http://fake.kie:80", "http://fake.kie/files/a.mp3"),
        ("https://fake.kie", "https://fake.kie:443/files/a.mp3"),
        ("https://fake.kie:443", "https://fake.kie/files/a.mp3"),
    ],
)
def test_an_api_host_is_trusted_with_or_without_its_default_port(
    make_client, tmp_path, monkeypatch, base_url, audio_url
):
    lookups: list[str] = []

    def internal(host: str, *args: object, **kwargs: object) -> object:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 443))]

    monkeypatch.setattr(socket, "getaddrinfo", internal)
    client = make_client(base_url=base_url)
    track = Track(id="t1", title="T", audio_url=audio_url)
    with respx.mock() as router:
        router.get(host="fake.kie", path="/files/a.mp3").respond(200, content=MP3)
        (path,) = client.download(details_with(track), tmp_path)
    assert path.read_bytes() == MP3 and lookups == []


def test_every_redirect_hop_is_checked(make_client, tmp_path):
    client = make_client(base_url=FAKE_API)
    track = Track(id="t1", title="T", audio_url=f"{FAKE_API}/files/a.mp3")
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{FAKE_API}/files/a.mp3").respond(
            302, headers={"location": "http://127.0.0.1:8080/admin"}
        )
        inner = router.get("http://127.0.0.1:8080/admin").respond(200, content=MP3)
        with pytest.raises(InvalidRequestError, match="https"):
            client.download(details_with(track), tmp_path)
    assert inner.call_count == 0 and list(tmp_path.iterdir()) == []


def test_redirects_are_followed_to_an_allowed_host(open_client, tmp_path):
    track = Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get("https://cdn.example/a.mp3").respond(302, headers={"location": "/b.mp3"})
        router.get("https://cdn.example/b.mp3").respond(200, content=MP3)
        (path,) = open_client.download(details_with(track), tmp_path)
    assert path.read_bytes() == MP3


def test_endless_redirects_end(open_client, tmp_path):
    track = Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        loop = router.get("https://cdn.example/a.mp3").respond(302, headers={"location": "/a.mp3"})
        with pytest.raises(APIError, match="redirects"):
            open_client.download(details_with(track), tmp_path)
    assert loop.call_count == 6


# -- the whole flow against FakeKie on a real port ------------------------------------------------


@pytest.fixture(params=["sync", "async"])
def on_fake(request):
    """on_fake(steps) runs steps(call) with a real client against FakeKie on a loopback port;
    call(name, *args, **kwargs) calls the client's method, awaited for the async client."""
    from kie_instrumental import AsyncKieClient, KieClient
    from kie_instrumental.testing import FakeKie

    def run(steps):
        fake = FakeKie(callbacks="off", audio_seconds=0.5)
        with fake.serve() as api:
            options = {"base_url": api, "upload_base_url": api, "rate_limit": None}
            if request.param == "sync":
                with KieClient(fake.api_key, **options) as client:
                    return steps(lambda name, *a, **k: getattr(client, name)(*a, **k))

            async def scenario():
                async with AsyncKieClient(fake.api_key, **options) as client:
                    loop = asyncio.get_running_loop()

                    def call(name, *a, **k):
                        # The steps run in a worker thread; the client stays on this loop.
                        method = getattr(client, name)
                        return asyncio.run_coroutine_threadsafe(method(*a, **k), loop).result()

                    return await asyncio.to_thread(steps, call)

            return asyncio.run(scenario())

    return run


def test_uploads_and_downloads_on_a_real_port(on_fake, tmp_path):
    for owner in ("alice", "bob"):
        (tmp_path / owner).mkdir()
        (tmp_path / owner / "vocals.wav").write_bytes(f"RIFF-{owner}".encode())

    def steps(call):
        urls = [call("upload_file", tmp_path / owner / "vocals.wav") for owner in ("alice", "bob")]
        urls.append(call("upload_file", io.BytesIO(b"RIFF-memory"), file_name="my take é.wav"))
        served = [httpx.get(url).content for url in urls]
        task = call("add_instrumental", upload_url=urls[2], **CREATE_FIELDS)
        details = call("wait", task.task_id, timeout=30, request_timeout=5)
        first = call("download", details, tmp_path / "out")
        again = call("download", details, tmp_path / "out")
        return urls, served, first, again

    urls, served, first, again = on_fake(steps)
    assert urls[0] != urls[1] and served == [b"RIFF-alice", b"RIFF-bob", b"RIFF-memory"]
    assert urls[2].endswith("/my%20take%20%C3%A9.wav")
    assert len(first) == 2 and all(p.read_bytes().startswith(b"RIFF") for p in first)
    assert [p.name for p in again] == [f"{p.stem}-2{p.suffix}" for p in first]  # no overwrite
    assert len(list((tmp_path / "out").iterdir())) == 4


def test_a_non_ascii_host_in_the_returned_url_is_given_in_its_idna_form(client, mock_upload):
    mock_upload.post(UPLOAD_PATH).respond(
        200,
        json={
            **UPLOADED,
            "data": {"fileName": "x", "downloadUrl": "https://bücher.example:8443/a b.wav"},
        },
    )
    assert client.upload_file(b"RIFF") == "https://xn--bcher-kva.example:8443/a%20b.wav"


def test_a_url_given_as_a_file_gets_a_hint(client, mock_upload):
    with pytest.raises(InvalidRequestError, match="pass it to add_instrumental as upload_url"):
        client.upload_file("https://example.com/vocals.mp3")


def test_the_download_switch_must_be_a_bool(make_client):
    from kie_instrumental import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        make_client(allow_private_downloads="yes")
    assert str(caught.value) == "allow_private_downloads must be True or False, got str"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_large_file_object_uploads_at_flat_memory(kind, tmp_path):
    import tracemalloc

    from _hostile import MB, HostileServer, Reply
    from kie_instrumental import AsyncKieClient, KieClient

    big = tmp_path / "big.wav"
    with big.open("wb") as out:
        for _ in range(64):
            out.write(os.urandom(MB))
    with HostileServer() as server, big.open("rb") as source:
        server.script("POST", UPLOAD_PATH, Reply(200, json=UPLOADED))
        options = {"api_key": "k", "upload_base_url": server.url, "rate_limit": None}
        tracemalloc.start()
        try:
            if kind == "sync":
                with KieClient(**options) as client:
                    client.upload_file(source, file_name="big.wav")
            else:

                async def scenario() -> None:
                    async with AsyncKieClient(**options) as client:
                        await client.upload_file(source, file_name="big.wav")

                asyncio.run(scenario())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert server.requests[-1].body_size > 64 * MB  # the whole file arrived
    assert peak < 16 * MB, f"peak {peak / MB:.1f} MB for a 64 MB upload"


def test_a_path_that_cannot_be_uploaded_is_named_with_what_it_is(client, mock_upload, tmp_path):
    route = mock_upload.post(UPLOAD_PATH)
    regular = tmp_path / "take.wav"
    regular.write_bytes(b"RIFF")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    unix = socket.socket(socket.AF_UNIX)
    sock = tmp_path / "s.wav"
    unix.bind(str(sock))
    cases = [
        (tmp_path / "absent.wav", "exists", "no such file"),
        (
            "https://cdn.example/take.wav",
            "exists",
            "no such file (a URL needs no upload: pass it to add_instrumental as upload_url)",
        ),
        (
            "http://cdn.example/take.wav",
            "exists",
            "no such file (a URL needs no upload: pass it to add_instrumental as upload_url)",
        ),
        (regular / "inside.wav", "exists", "cannot be read (Not a directory)"),
        (tmp_path, "type", "must be a regular file, not a directory"),
        (fifo, "type", "must be a regular file, not a FIFO (named pipe)"),
        (Path(os.devnull), "type", "must be a regular file, not a device"),
        (sock, "type", "must be a regular file, not a socket"),
    ]
    try:
        for path, rule, words in cases:
            with pytest.raises(InvalidRequestError) as caught:
                client.upload_file(path)
            error = caught.value
            assert (error.field, error.rule) == ("file", rule)
            assert str(error) == f"file (file): {words}, got {str(Path(path))!r}"
    finally:
        unix.close()
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("local", "stem", "suffix"),
    [
        ("Xylo Take (1).WAV", "Xylo_Take_1", ".wav"),  # case kept, runs of others one "_"
        ("Café Ünïcode.mp3", "Cafe_Unicode", ".mp3"),  # accents dropped, not the letters
        ("--.take._", "take", ""),  # no suffix: no dot
        ("你好.wav", "upload", ".wav"),  # nothing readable left
        ("x" * 80 + ".flac", "x" * 60, ".flac"),
        ("song.abcdefghijklmn", "song", ".abcdefghij"),
    ],
)
def test_a_local_file_gets_a_readable_unique_remote_name(
    client, mock_upload, tmp_path, local, stem, suffix
):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    audio = tmp_path / local
    audio.write_bytes(b"RIFF")
    client.upload_file(audio)
    name = sent_field(route.calls.last.request, "fileName")
    assert re.fullmatch(re.escape(stem) + r"-[0-9a-f]{16}" + re.escape(suffix), name), name


def test_a_file_object_named_with_a_windows_path_keeps_its_last_part(client, mock_upload):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    stream = io.BytesIO(b"RIFF")
    stream.name = "C:\\Users\\me\\take.wav"
    client.upload_file(stream)
    name = sent_field(route.calls.last.request, "fileName")
    assert re.fullmatch(r"take-[0-9a-f]{16}\.wav", name), name


def test_an_unreadable_file_is_refused_naming_it(client, mock_upload, tmp_path, monkeypatch):
    route = mock_upload.post(UPLOAD_PATH)
    audio = tmp_path / "locked.wav"
    audio.write_bytes(b"RIFF")
    # The suite may run as root, who reads any file: the permission check is asked directly.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(InvalidRequestError) as caught:
        client.upload_file(audio)
    assert (caught.value.field, caught.value.rule) == ("file", "exists")
    assert (
        str(caught.value) == f"file (file): cannot be read (permission denied), got {str(audio)!r}"
    )
    assert route.call_count == 0


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_file_written_meanwhile_under_the_planned_name_is_never_replaced(
    open_client, tmp_path, monkeypatch, hard_links
):
    if not hard_links:  # some file systems have none: the download is renamed into place

        def no_link(*args: object) -> None:
            raise PermissionError("hard links not supported")

        monkeypatch.setattr(os, "link", no_link)
    planned = tmp_path / "T-t1.mp3"

    def another_program_writes_first(request: httpx.Request) -> httpx.Response:
        planned.write_bytes(b"theirs")
        (tmp_path / "T-t1-2.mp3").write_bytes(b"theirs too")
        return httpx.Response(200, content=MP3)

    track = Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").mock(
            side_effect=another_program_writes_first
        )
        (path,) = open_client.download([track], tmp_path)
    assert path == tmp_path / "T-t1-3.mp3" and path.read_bytes() == MP3
    assert planned.read_bytes() == b"theirs"
    assert (tmp_path / "T-t1-2.mp3").read_bytes() == b"theirs too"


@pytest.mark.parametrize(
    ("value", "valid"),
    [("x" * 120, True), ("x" * 121, False), (".", False), ("..", False), ("...", True)],
)
def test_a_file_name_is_checked_at_its_bounds(client, mock_upload, value, valid):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    if valid:
        client.upload_file(b"RIFF", file_name=value)
        assert sent_field(route.calls.last.request, "fileName") == value
        return
    with pytest.raises(InvalidRequestError) as caught:
        client.upload_file(b"RIFF", file_name=value)
    assert (caught.value.field, caught.value.rule) == ("fileName", "pattern")
    assert str(caught.value) == (
        "file_name (fileName): must be a plain file name: 1 to 120 printable characters, "
        f"none of / \\ ? # %, not '.' or '..', got {value!r}"
    )
    assert route.call_count == 0


def test_what_is_not_a_binary_file_object_is_refused_naming_its_type(client, mock_upload):
    route = mock_upload.post(UPLOAD_PATH)
    with pytest.raises(InvalidRequestError) as caught:
        client.upload_file(io.StringIO("text"))
    assert (caught.value.field, caught.value.rule) == ("file", "type")
    assert str(caught.value) == (
        "file (file): must be a path, bytes or a file object opened in binary mode, got 'StringIO'"
    )
    assert route.call_count == 0


def test_escapes_already_in_the_returned_url_are_kept_and_the_rest_encoded(client, mock_upload):
    raw = "https://tmp.example/kieai/1/a%20b%zz c.wav?v=1 2&w=%41%4#p art%7e"
    mock_upload.post(UPLOAD_PATH).respond(
        200, json={**UPLOADED, "data": {"fileName": "x", "downloadUrl": raw}}
    )
    assert client.upload_file(b"RIFF") == (
        "https://tmp.example/kieai/1/a%20b%25zz%20c.wav?v=1%202&w=%41%254#p%20art%7e"
    )


class ClosedPipe(PipeLike):
    """A stream whose `seekable()` raises, as some wrappers of closed or foreign streams do."""

    def seekable(self) -> bool:
        raise ValueError("I/O operation on a detached stream")


def test_a_stream_that_cannot_say_whether_it_rewinds_is_not_resent(client, mock_upload):
    route = mock_upload.post(UPLOAD_PATH).mock(
        side_effect=[httpx.Response(503, text="busy"), httpx.Response(200, json=UPLOADED)]
    )
    with pytest.raises(InvalidRequestError) as caught:
        client.upload_file(ClosedPipe(WAV), file_name="a.wav")
    assert (caught.value.field, caught.value.rule) == ("file", "seekable")
    assert str(caught.value) == (
        "file (file): is a stream that cannot be rewound, so a failed upload cannot be sent "
        "again: pass a path, bytes or a seekable file, got 'ClosedPipe'"
    )
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            {"success": True, "code": 200, "msg": "ok", "data": None},
            "POST /api/file-stream-upload: the success envelope lacks the expected data "
            "(data.downloadUrl is missing)",
        ),
        (
            {
                "success": True,
                "code": 200,
                "data": {"fileName": "x", "downloadUrl": "https://a.example/x"},
            },
            "POST /api/file-stream-upload: the success envelope lacks the expected data "
            "(KeyError: 'msg')",
        ),
        (
            {"success": True, "code": 200, "msg": "ok", "data": {"downloadUrl": 5}},
            "POST /api/file-stream-upload: the success envelope lacks the expected data "
            "(data.downloadUrl must be a non-empty string, got int)",
        ),
        (
            {"success": False, "code": 401, "msg": "bad key"},
            "upload_file: KIE answered code 401: bad key [HTTP 200]",
        ),
    ],
)
def test_an_upload_answer_that_is_not_a_usable_url_is_named(
    make_client, mock_upload, answer, message
):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=answer)
    with pytest.raises(APIError) as caught:
        make_client(max_retries=0).upload_file(b"RIFF", file_name="a.wav")
    assert str(caught.value) == message
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("returned", "url"),
    [
        ("https://bücher.example:8443/a b.wav", "https://xn--bcher-kva.example:8443/a%20b.wav"),
        ("https://bücher.example/a.wav", "https://xn--bcher-kva.example/a.wav"),
    ],
)
def test_a_returned_non_ascii_host_is_sent_in_its_idna_form(client, mock_upload, returned, url):
    mock_upload.post(UPLOAD_PATH).respond(
        200, json={**UPLOADED, "data": {"fileName": "x", "downloadUrl": returned}}
    )
    assert client.upload_file(b"RIFF", file_name="a.wav") == url


@pytest.mark.parametrize(
    "returned",
    ["https://" + "ü" * 70 + ".example/a.wav", "https://bü.example:99999/a.wav"],
    ids=["label-too-long", "port-out-of-range"],
)
def test_a_returned_host_idna_cannot_encode_is_an_api_error(client, mock_upload, returned):
    mock_upload.post(UPLOAD_PATH).respond(
        200, json={**UPLOADED, "data": {"fileName": "x", "downloadUrl": returned}}
    )
    with pytest.raises(APIError) as caught:
        client.upload_file(b"RIFF", file_name="a.wav")
    assert str(caught.value).startswith(
        "upload_file: the upload host returned a URL that add_instrumental cannot use: "
        "uploadUrl: must be an http(s) URL"
    )
    assert str(caught.value).endswith(f", got {returned!r}")
    assert (caught.value.code, caught.value.http_status) == (200, 200)


def test_a_download_whose_every_name_is_taken_meanwhile_fails_and_leaves_nothing(
    open_client, tmp_path
):
    def another_program_takes_them_all(request: httpx.Request) -> httpx.Response:
        for n in range(1, 1000):  # the planned name, then -2 ... -999
            (tmp_path / ("T-t1.mp3" if n == 1 else f"T-t1-{n}.mp3")).write_bytes(b"theirs")
        return httpx.Response(200, content=MP3)

    track = Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").mock(
            side_effect=another_program_takes_them_all
        )
        with pytest.raises(APIConnectionError) as caught:
            open_client.download([track], tmp_path)
    assert str(caught.value) == (
        f"GET /a.mp3 (download): OSError: no free name for {tmp_path / 'T-t1.mp3'}"
    )
    assert len(list(tmp_path.iterdir())) == 999  # theirs only: nothing partial left
    assert {p.read_bytes() for p in tmp_path.iterdir()} == {b"theirs"}


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a/b/c", True),
        ("Xmas/2026", True),
        ("x" * 200, True),
        ("x" * 201, False),
        ("a/./b", False),
        ("a/../b", False),
        ("a//b", False),
        ("a/ b", False),
        ("a/...", True),
    ],
)
def test_an_upload_path_is_checked_at_its_bounds(client, mock_upload, value, valid):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    if valid:
        client.upload_file(b"RIFF", file_name="a.wav", upload_path=value)
        assert sent_field(route.calls.last.request, "uploadPath") == value
        return
    with pytest.raises(InvalidRequestError) as caught:
        client.upload_file(b"RIFF", file_name="a.wav", upload_path=value)
    assert (caught.value.field, caught.value.rule) == ("uploadPath", "pattern")
    assert str(caught.value) == (
        "upload_path (uploadPath): must be a relative folder like 'vocals/2026': at most 200 "
        "printable characters, no leading, trailing or double '/', no '.' or '..' segment, "
        f"none of \\ ? # %, got {value!r}"
    )
    assert route.call_count == 0


def test_a_file_object_without_a_name_is_uploaded_as_upload_bin(client, mock_upload):
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    unnamed, empty_name = io.BytesIO(b"RIFF"), io.BytesIO(b"RIFF")
    empty_name.name = ""
    for stream in (unnamed, empty_name):
        client.upload_file(stream)
        name = sent_field(route.calls.last.request, "fileName")
        assert re.fullmatch(r"upload-[0-9a-f]{16}\.bin", name), name


# -- what a download keeps: audio recognised by its first bytes ----------------------------------


def download_reply(client, tmp_path, reply: httpx.Response | list[httpx.Response]) -> Path:
    replies = reply if isinstance(reply, list) else [reply]
    track = Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").mock(side_effect=replies)
        (path,) = client.download([track], tmp_path)
    return path


AUDIO_HEADS = {
    "mp3-id3": b"ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00",
    "flac": b"fLaC\x00\x00\x00\x22\x00\x00\x00\x00",
    "ogg": b"OggS\x00\x02\x00\x00\x00\x00\x00\x00",
    "aiff": b"FORM\x00\x00\x00\x00AIFF",
    "wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "m4a": b"\x00\x00\x00\x20ftypM4A ",
    "mp3-frame": b"\xff\xfb\x10\x00" + bytes(8),
    "aac-adts": b"\xff\xf1\x50\x80" + bytes(8),
}


@pytest.mark.parametrize("head", AUDIO_HEADS.values(), ids=AUDIO_HEADS.keys())
def test_each_audio_format_is_recognised_and_kept_whole(open_client, tmp_path, head):
    body = head + bytes(range(256)) * 4
    path = download_reply(open_client, tmp_path, httpx.Response(200, content=body))
    assert path.read_bytes() == body


NOT_AUDIO_HEADS = {
    "riff-avi": b"RIFF\x24\x00\x00\x00AVI LIST",
    "ftyp-elsewhere": b"\x00\x00\x00ftypM4A \x00",
    "frame-sync-too-short": b"\xff\xdf\x10\x00" + bytes(8),
    "no-frame-sync": b"\xfe\xfb\x10\x00" + bytes(8),
    "second-byte-only": b"\x00\xfb\x10\x00" + bytes(8),
    "lower-case-magic": b"flac\x00\x00\x00\x22\x00\x00\x00\x00",
}


@pytest.mark.parametrize("head", NOT_AUDIO_HEADS.values(), ids=NOT_AUDIO_HEADS.keys())
def test_near_misses_of_audio_signatures_are_never_kept(open_client, tmp_path, head):
    with pytest.raises(APIError) as caught:
        download_reply(open_client, tmp_path, httpx.Response(200, content=head * 20))
    assert str(caught.value) == (
        "download: the answer is not audio (its first bytes are no audio format)"
    )
    assert (caught.value.code, caught.value.http_status) == (200, 200)
    assert list(tmp_path.iterdir()) == []


def test_a_two_byte_frame_header_is_audio(open_client, tmp_path):
    path = download_reply(open_client, tmp_path, httpx.Response(200, content=b"\xff\xfb"))
    assert path.read_bytes() == b"\xff\xfb"


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A chunked body produced piece by piece, for the sync and the async client alike."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def chunked(pieces: Iterator[bytes], **headers: str) -> httpx.Response:
    return httpx.Response(
        200, headers={"transfer-encoding": "chunked", **headers}, stream=Chunks(pieces)
    )


def test_audio_split_across_small_chunks_is_recognised(open_client, tmp_path):
    wav = AUDIO_HEADS["wav"] + bytes(100)
    pieces = (wav[start : start + 5] for start in range(0, len(wav), 5))
    path = download_reply(open_client, tmp_path, chunked(pieces))
    assert path.read_bytes() == wav


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("text/html; charset=utf-8; x=y", "text/html"),
        ("TEXT/PLAIN", "text/plain"),
        ("text/" + "x" * 100, "text/" + "x" * 55),
    ],
)
def test_an_answer_declared_as_not_audio_is_refused_naming_its_type(
    open_client, tmp_path, content_type, shown
):
    reply = httpx.Response(200, content=MP3, headers={"content-type": content_type})
    with pytest.raises(APIError) as caught:
        download_reply(open_client, tmp_path, reply)
    assert str(caught.value) == f"download: the answer is not audio (Content-Type {shown})"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content_type", ["audio/mpeg", "video/mp4", "application/ogg", "binary/octet-stream"]
)
def test_the_audio_content_types_are_accepted(open_client, tmp_path, content_type):
    reply = httpx.Response(200, content=MP3, headers={"content-type": content_type})
    assert download_reply(open_client, tmp_path, reply).read_bytes() == MP3


def test_reading_stops_at_the_first_bytes_that_are_not_audio(open_client, tmp_path):
    pulled: list[int] = []

    def page(first: bytes) -> Iterator[bytes]:
        for n in range(200):
            pulled.append(n)
            yield first if n == 0 else b"<p>more of the page</p>" * 100

    for reply in (
        chunked(page(b"<!doctype html><html>")),
        chunked(page(MP3), **{"content-type": "text/html"}),
    ):
        pulled.clear()
        with pytest.raises(APIError, match="not audio"):
            download_reply(open_client, tmp_path, reply)
        assert pulled == [0]  # not one chunk more of the 200 the server would send
    assert list(tmp_path.iterdir()) == []


def test_a_gzipped_download_is_saved_whole_when_its_length_counts_the_compressed_bytes(
    open_client, tmp_path
):
    """Content-Length counts the bytes on the wire: a complete gzipped answer is not taken
    for a truncated one because its audio, once inflated, is longer."""
    audio = MP3 + bytes(4096)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    packed = packer.compress(audio) + packer.flush()
    pieces = (packed[start : start + 100] for start in range(0, len(packed), 100))
    headers = {"content-encoding": "gzip", "content-length": str(len(packed))}
    reply = httpx.Response(200, headers=headers, stream=Chunks(pieces))
    assert download_reply(open_client, tmp_path, reply).read_bytes() == audio


def test_a_file_hosts_error_page_is_read_only_in_part(make_client, tmp_path):
    """An endless error page of a file host: reading stops after its first 64 KiB, far
    below the limit of an API answer, and the error keeps the task id."""
    pulled: list[int] = []

    def page() -> Iterator[bytes]:
        for _ in range(400):  # 3.2 MiB, more than an API answer may have
            pulled.append(8192)
            yield b"<p>" + b"x" * 8185 + b"</p>"

    track = Track(id="t1", title="T", audio_url="https://cdn.example/a.mp3")
    client = make_client(allow_private_downloads=True, max_retries=0)
    reply = httpx.Response(404, headers={"content-type": "text/html"}, stream=Chunks(page()))
    with respx.mock() as router:
        router.get("https://cdn.example/a.mp3").mock(return_value=reply)
        with pytest.raises(NotFoundError) as caught:
            client.download(details_with(track), tmp_path)
    assert caught.value.task_id == "task-1" and caught.value.http_status == 404
    assert 64 * 1024 <= sum(pulled) <= 64 * 1024 + 8192
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_each_redirect_status_is_followed_to_the_audio(open_client, tmp_path, status):
    replies = [
        httpx.Response(status, headers={"location": "https://cdn.example/moved.mp3"}),
        httpx.Response(200, content=MP3),
    ]
    assert download_reply(open_client, tmp_path, replies).read_bytes() == MP3


def test_a_success_with_a_location_header_is_not_a_redirect(open_client, tmp_path):
    reply = httpx.Response(200, content=MP3, headers={"location": "https://cdn.example/b.mp3"})
    assert download_reply(open_client, tmp_path, reply).read_bytes() == MP3


def test_any_2xx_with_audio_is_kept(open_client, tmp_path):
    assert (
        download_reply(open_client, tmp_path, httpx.Response(299, content=MP3)).read_bytes() == MP3
    )


@pytest.mark.parametrize(
    ("reply", "error_class", "message"),
    [
        (
            httpx.Response(404, text="<html>nope</html>"),
            NotFoundError,
            "download: KIE answered code 404: an HTML page [HTTP 404]",
        ),
        (
            httpx.Response(404, json={"code": 200, "msg": "ok"}),
            APIError,
            "download: unexpected HTTP 404",
        ),
        (
            httpx.Response(300, content=MP3),
            APIError,
            "download: KIE answered code 300: a redirect to nowhere, not followed",
        ),
    ],
    ids=["html-404", "success-envelope-404", "multiple-choices"],
)
def test_an_error_answer_of_the_file_host_is_raised_with_its_status(
    make_client, tmp_path, reply, error_class, message
):
    with pytest.raises(error_class) as caught:
        download_reply(make_client(allow_private_downloads=True, max_retries=0), tmp_path, reply)
    assert type(caught.value) is error_class
    assert str(caught.value).startswith(message)
    assert (caught.value.code, caught.value.http_status) == (reply.status_code, reply.status_code)
    assert list(tmp_path.iterdir()) == []


def test_the_longest_name_still_leaves_room_for_the_temporary_file(open_client, tmp_path):
    track = Track(id="3", title="語" * 300, audio_url="https://cdn.example/x.mp3")
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        (long,) = open_client.download([track], tmp_path)
    assert 190 <= len(long.name.encode()) <= 200 and long.read_bytes() == MP3


def test_downloads_take_no_rate_limit_slot_and_never_carry_the_key(make_client, clock, tmp_path):
    # The file hosts are not KIE's API: its request budget is not spent there, and the key is
    # not sent, even to a file on the API's own host.
    api = "https://kie.example"
    client = make_client(rate_limit=(1, 60), allow_private_downloads=True, base_url=api)
    tracks = [Track(id=f"t{n}", title="T", audio_url=f"{api}/files/{n}.mp3") for n in range(3)]
    with respx.mock() as router:
        files = router.get(url__startswith=f"{api}/files/").respond(200, content=MP3)
        assert len(client.download(tracks, tmp_path)) == 3
    assert clock.sleeps == []
    assert files.call_count == 3
    assert all("authorization" not in call.request.headers for call in files.calls)


@pytest.mark.parametrize(
    ("title", "track_id", "url", "name"),
    [
        ("Song", "t1", "https://cdn.example/a.WAV", "Song-t1.wav"),
        ("Song", "t1", "https://cdn.example/a.exe", "Song-t1.mp3"),
        ("Song", "t1", "https://cdn.example/a", "Song-t1.mp3"),
        ("a" * 100, "b" * 100, "https://cdn.example/a.mp3", "a" * 80 + "-" + "b" * 80 + ".mp3"),
        # 64 three-byte characters: with "-999.mp3" exactly the 200-byte bound, kept whole.
        ("語" * 80, "", "https://cdn.example/a.mp3", "語" * 64 + ".mp3"),
        ("語" * 81, "", "https://cdn.example/a.mp3", "語" * 64 + ".mp3"),
        ("語" * 65, "", "https://cdn.example/a.mp3", "語" * 64 + ".mp3"),  # one too many
        ("Xylo X", "", "https://cdn.example/a.mp3", "Xylo_X.mp3"),
    ],
)
def test_a_download_name_is_built_from_title_id_and_audio_suffix(
    open_client, tmp_path, title, track_id, url, name
):
    track = Track(id=track_id, title=title, audio_url=url)
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        (path,) = open_client.download([track], tmp_path)
    assert path.name == name


@pytest.mark.parametrize(
    ("title", "track_id", "name"),
    [
        ("Élan " + "a" * 99, "b" * 100, "Elan_" + "a" * 75 + "-" + "b" * 80 + ".mp3"),
        ("夜の歌", "t1", "t1.mp3"),
        ("夜", "", "track.mp3"),
        ("夜", "b" * 100, "b" * 80 + ".mp3"),
        (None, "語", "track.mp3"),
        # A ligature spelt out in ASCII takes two letters: still at most 80 of them.
        (None, "ﬁ" * 80, "fi" * 40 + ".mp3"),
    ],
)
def test_a_title_the_file_system_cannot_store_falls_back_to_ascii(
    open_client, tmp_path, monkeypatch, title, track_id, name
):
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "ascii")
    track = Track(id=track_id, title=title, audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        (path,) = open_client.download([track], tmp_path)
    assert path.name == name


def test_a_track_without_title_or_id_is_named_track(open_client, tmp_path):
    track = Track(id="", title="", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        (path,) = open_client.download([track], tmp_path)
    assert path.name == "track.mp3"


@pytest.mark.parametrize(
    ("source", "directory", "message"),
    [
        (
            "task-1",
            ".",
            "source (source): must be TaskDetails, a CallbackEvent or tracks (a task id? pass "
            "client.wait(task_id) or client.get_task(task_id) instead), got 'task-1'",
        ),
        (5, ".", "source (source): must be TaskDetails, a CallbackEvent or tracks, got 5"),
        (
            [Track(id="a", title="t", audio_url="https://cdn.example/a.mp3"), "x"],
            ".",
            "source (source): must hold only Track objects, got 'x'",
        ),
        ([], 5, "directory (directory): must be a path, got 5"),
    ],
)
def test_what_cannot_be_downloaded_is_refused_before_any_request(
    open_client, source, directory, message
):
    with respx.mock() as router:
        with pytest.raises(InvalidRequestError) as caught:
            open_client.download(source, directory)
        assert router.calls.call_count == 0
    assert str(caught.value) == message
    assert caught.value.rule == "type"


def test_too_many_redirects_end_the_download_with_its_task_id(open_client, tmp_path):
    details = TaskDetails(
        task_id="task-5",
        status=TaskStatus.SUCCESS,
        tracks=(Track(id="t1", title="T", audio_url="https://cdn.example/0.mp3"),),
    )
    with respx.mock() as router:
        for n in range(6):
            router.get(f"https://cdn.example/{n}.mp3").respond(
                302, headers={"location": f"https://cdn.example/{n + 1}.mp3"}
            )
        with pytest.raises(APIError) as caught:
            open_client.download(details, tmp_path)
    assert str(caught.value) == "download: more than 5 redirects (task_id=task-5)"
    assert caught.value.task_id == "task-5"
    assert list(tmp_path.iterdir()) == []


def test_a_public_name_is_checked_without_a_noticeable_pause(make_client, tmp_path, monkeypatch):
    import socket
    import time

    def public(host: str, port: int, *args: object, **kwargs: object) -> object:
        time.sleep(0.02)  # a resolver's usual delay
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(socket, "getaddrinfo", public)
    client = make_client()  # the address check is on: every track's host is looked up
    tracks = [
        Track(id=f"t{n}", title="T", audio_url=f"https://cdn.example/{n}.mp3") for n in range(10)
    ]
    started = time.monotonic()
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        assert len(client.download(tracks, tmp_path)) == 10
    assert time.monotonic() - started < 5  # generous: ten lookups take a fifth of a second


def test_uploads_take_no_rate_limit_slot_and_report_their_request(make_client, mock_upload, clock):
    from kie_instrumental import events as ev

    seen: list[object] = []
    client = make_client(rate_limit=(1, 60), hooks=[seen.append])
    mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    for _ in range(3):
        client.upload_file(b"RIFF", file_name="a.wav")
    assert clock.sleeps == []  # the upload host is not KIE's API: its budget is not spent
    sent = [e for e in seen if isinstance(e, ev.RequestSent)]
    assert [(e.operation, e.method, e.url) for e in sent] == [
        ("upload_file", "POST", f"{UPLOAD_BASE_URL}{UPLOAD_PATH}")
    ] * 3


def test_a_file_where_the_folder_should_be_is_refused(open_client, tmp_path):
    occupied = tmp_path / "out"
    occupied.write_bytes(b"a file")
    with pytest.raises(InvalidRequestError) as caught:
        open_client.download([], occupied)
    assert (caught.value.field, caught.value.rule) == ("directory", "type")
    assert str(caught.value) == (
        f"directory (directory): must be a directory, not a file, got {str(occupied)!r}"
    )


def test_a_url_without_a_path_is_named_as_the_root(make_client, tmp_path):
    track = Track(id="t1", title="T", audio_url="https://cdn.example")
    client = make_client(allow_private_downloads=True, max_retries=0)
    with respx.mock() as router:
        router.get("https://cdn.example").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(APIConnectionError) as caught:
            client.download([track], tmp_path)
    assert str(caught.value).startswith("GET / (download): ")


def test_a_download_answered_whole_by_the_callers_transport_is_saved(make_client, tmp_path):
    # httpx.MockTransport's `Response(content=...)` arrives read already: httpx counts none of
    # its bytes as downloaded, yet nothing is missing (its Content-Length is its size).
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=MP3)

    client = make_client(allow_private_downloads=True, transport=httpx.MockTransport(answer))
    track = Track(id="t1", title="Song", audio_url="https://cdn.example/t1.mp3")
    (saved,) = client.download([track], tmp_path)
    assert saved.read_bytes() == MP3 and seen == ["https://cdn.example/t1.mp3"]


def test_a_download_creates_its_missing_directories(open_client, tmp_path):
    track = Track(id="t1", title="Song", audio_url="https://cdn.example/a.mp3")
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        (path,) = open_client.download([track], tmp_path / "new" / "nested")
    assert path == tmp_path / "new" / "nested" / "Song-t1.mp3" and path.read_bytes() == MP3


def test_a_directory_that_cannot_be_created_is_named_in_the_error(open_client, tmp_path):
    (tmp_path / "a-file").write_bytes(b"x")
    folder = tmp_path / "a-file" / "sub"
    track = Track(id="t1", title="Song", audio_url="https://cdn.example/a.mp3")
    with pytest.raises(InvalidRequestError, match="cannot be created") as caught:
        open_client.download([track], folder)
    assert (caught.value.field, caught.value.rule) == ("directory", "exists")
    assert f"got {str(folder)!r}" in str(caught.value)
