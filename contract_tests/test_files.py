"""upload_file streams a local file through KIE's upload API and returns its URL; download
streams each track to a safe file name, without the API key, and returns the paths."""

from __future__ import annotations

import httpx
import pytest
import respx
from _records import record, suno_track
from _support import RECORD_PATH, UPLOAD_BASE_URL, UPLOAD_PATH
from kie_instrumental import NotFoundError, TaskDetails, TaskStatus, Track

UPLOADED = {
    "success": True,
    "code": 200,
    "msg": "ok",
    "data": {"fileName": "vocals.wav", "downloadUrl": "https://tmp.example/vocals.wav"},
}


@pytest.fixture
def mock_upload():
    with respx.mock(base_url=UPLOAD_BASE_URL, assert_all_called=False) as router:
        yield router


def test_upload_sends_the_file_as_multipart_and_returns_its_url(client, mock_upload, tmp_path):
    audio = tmp_path / "vocals.wav"
    audio.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    route = mock_upload.post(UPLOAD_PATH).respond(200, json=UPLOADED)
    assert client.upload_file(audio) == "https://tmp.example/vocals.wav"
    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert sent.headers["authorization"].startswith("Bearer ")
    assert audio.read_bytes() in sent.content
    assert b'name="uploadPath"' in sent.content and b"kie-instrumental" in sent.content


def test_an_upload_retry_resends_the_whole_file(client, mock_upload, tmp_path):
    audio = tmp_path / "vocals.wav"
    audio.write_bytes(b"0123456789" * 100)
    route = mock_upload.post(UPLOAD_PATH).mock(
        side_effect=[httpx.Response(503, text="busy"), httpx.Response(200, json=UPLOADED)]
    )
    client.upload_file(audio)
    assert route.call_count == 2
    assert audio.read_bytes() in route.calls.last.request.content


def test_upload_failure_with_success_false_is_an_error(client, mock_upload, tmp_path):
    audio = tmp_path / "v.wav"
    audio.write_bytes(b"x")
    mock_upload.post(UPLOAD_PATH).respond(
        200, json={"success": False, "code": 401, "msg": "bad key", "data": None}
    )
    with pytest.raises(Exception, match="bad key"):
        client.upload_file(audio)


def test_uploading_a_missing_file_fails_before_any_request(client, mock_upload, tmp_path):
    route = mock_upload.post(UPLOAD_PATH)
    with pytest.raises(Exception, match="no such file"):
        client.upload_file(tmp_path / "absent.wav")
    assert route.call_count == 0


def details_with(*tracks: Track) -> TaskDetails:
    return TaskDetails(task_id="task-1", status=TaskStatus.SUCCESS, tracks=tracks)


def test_download_streams_each_track_to_a_safe_name_without_the_key(client, tmp_path):
    hostile = Track(
        id="../../etc/passwd",
        title="../../Night Drive: part 1/2",
        audio_url="https://cdn.example/a/one.mp3",
    )
    normal = Track(id="t2", title="Night Drive", audio_url="https://cdn.example/two.wav?x=1")
    unfinished = Track(id="t3", title="Night Drive", audio_url="")
    with respx.mock(assert_all_called=True) as router:
        one = router.get("https://cdn.example/a/one.mp3").respond(200, content=b"A" * 100_000)
        router.get("https://cdn.example/two.wav").respond(200, content=b"B" * 10)
        paths = client.download(details_with(hostile, normal, unfinished), tmp_path / "out")
    assert [p.name for p in paths] == ["Night_Drive_part_1_2-etc_passwd.mp3", "Night_Drive-t2.wav"]
    assert all(p.parent == tmp_path / "out" for p in paths)
    assert paths[0].read_bytes() == b"A" * 100_000 and paths[1].read_bytes() == b"B" * 10
    assert "authorization" not in one.calls.last.request.headers
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def test_same_names_are_made_unique(client, tmp_path):
    tracks = [
        Track(id="same", title="T", audio_url=f"https://cdn.example/{n}.mp3") for n in range(3)
    ]
    with respx.mock() as router:
        router.get(url__startswith="https://cdn.example/").respond(200, content=b"x")
        paths = client.download(tracks, tmp_path)
    assert [p.name for p in paths] == ["T-same.mp3", "T-same-2.mp3", "T-same-3.mp3"]


def test_a_failed_download_raises_with_the_task_id_and_leaves_no_file(client, tmp_path):
    track = Track(id="t1", title="T", audio_url="https://cdn.example/gone.mp3")
    with respx.mock() as router:
        router.get("https://cdn.example/gone.mp3").respond(404, text="Not Found")
        with pytest.raises(NotFoundError) as caught:
            client.download(details_with(track), tmp_path)
    assert caught.value.task_id == "task-1"
    assert list(tmp_path.iterdir()) == []


def test_download_of_get_task_result(client, mock_api, tmp_path):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track(0)]))
    details = client.get_task("task-1")
    with respx.mock() as router:
        router.get("https://cdn.example/0.mp3").respond(200, content=b"mp3")
        (path,) = client.download(details, tmp_path)
    assert path.read_bytes() == b"mp3"
