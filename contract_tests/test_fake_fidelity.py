"""FakeKie answers the way real KIE traffic looks (recordings in `recordings/`): content types,
upload answers and errors, epoch-ms createTime from the wall clock, codename model names, the
`source*` URLs of Suno's copy, KIE's callback messages, a `first` callback with only the
finished track, skippable stages, a failure's lone callback; uploads spooled to disk. And the
helpers users get for their own tests: callbacks into an in-process ASGI app, any ASGI app on a
loopback port, correctly signed callbacks."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from _callbacks import stdlib_signature
from _support import errors
from kie_instrumental import AsyncKieClient, KieClient, WebhookVerificationError, webhooks
from kie_instrumental.receivers import CALLBACK_PATH, starlette_app
from kie_instrumental.testing import FakeClock, FakeKie, serve_app, signed_callback

RECORDINGS = Path(__file__).parent / "recordings"
WALL = 1_750_000_000.0
CREATE = "/api/v1/generate/add-instrumental"
BODY = {
    "uploadUrl": "https://example.com/vocals.mp3",
    "title": "Night Drive",
    "tags": "synthwave",
    "negativeTags": "",
    "callBackUrl": "https://hooks.example.com/kie?job=42",
}
CALLBACK_MESSAGES = {
    "text": "Text generation completed successfully.",
    "first": "First track generated successfully.",
    "complete": "All generated successfully.",
}


def recording(name: str) -> dict[str, Any]:
    (path,) = RECORDINGS.glob(f"{name}_*.json")
    return json.loads(path.read_text())


def run(coro_factory: Any) -> Any:
    return asyncio.run(coro_factory())


def http_to(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake.kie")


def auth(fake: FakeKie) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}"}


class Recorder:
    """An ASGI app that answers 200 and keeps each request: (path, query, body, headers)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes, dict[str, str]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.calls.append((scope["path"], scope["query_string"].decode(), body, headers))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body, _ in self.calls]


def callbacks_of(fake: FakeKie, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Create one task on `fake` (its callback_app a Recorder) and return the callbacks sent."""

    async def scenario() -> None:
        async with http_to(fake.app) as http:
            created = await http.post(CREATE, headers=auth(fake), json=body or BODY)
            assert created.json()["code"] == 200
            await fake.drain()

    run(scenario)
    recorder = fake.sender.app
    assert isinstance(recorder, Recorder)
    return recorder.bodies()


# -- content types ------------------------------------------------------------------------------


def test_answers_carry_the_recorded_content_types():
    fake = FakeKie()

    async def scenario() -> list[httpx.Response]:
        async with http_to(fake.app) as http:
            return [
                await http.get("/api/v1/chat/credit", headers=auth(fake)),
                await http.get("/api/v1/generate/record-info?taskId=nope", headers=auth(fake)),
                await http.get("/api/v1/chat/credit"),  # 401
                await http.post(
                    "/api/file-stream-upload",
                    headers=auth(fake),
                    files={"file": ("a.wav", b"RIFF")},
                    data={"uploadPath": "x"},
                ),
            ]

    credits, unknown, refused, upload = run(scenario)
    api_type = recording("005")["headers"]["content-type"]
    assert api_type == "application/json;charset=UTF-8"
    assert credits.headers["content-type"] == api_type
    assert refused.headers["content-type"] == api_type
    assert unknown.headers["content-type"] == recording("015")["headers"]["content-type"]
    assert unknown.content == recording("015")["body"].encode()  # byte for byte
    assert upload.headers["content-type"] == recording("001")["headers"]["content-type"]


# -- uploads ------------------------------------------------------------------------------------


def test_upload_answers_have_the_recorded_shape():
    fake = FakeKie(clock=FakeClock(wall_start=WALL))
    real = json.loads(recording("001")["body"])

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with http_to(fake.app) as http:
            named = await http.post(
                "/api/file-stream-upload",
                headers=auth(fake),
                files={"file": ("vocals.wav", b"RIFF-vocals", "audio/wav")},
                data={"uploadPath": "kie-instrumental", "fileName": "vocals.wav"},
            )
            unnamed = await http.post(
                "/api/file-stream-upload",
                headers=auth(fake),
                files={"file": ("cat1.jpg", b"jpeg", "image/jpeg")},
                data={"uploadPath": "images/test-uploads"},
            )
            return named, unnamed

    named, unnamed = run(scenario)
    for answer in (named, unnamed):
        document = answer.json()
        assert document.keys() == real.keys() and document["data"].keys() == real["data"].keys()
        assert document["success"] is document["data"]["success"] is True
        data = document["data"]
        assert data["filePath"].startswith("kieai/")
        assert data["downloadUrl"].endswith("/" + data["filePath"])
        uploaded = datetime.fromisoformat(data["uploadedAt"].replace("Z", "+00:00"))
        assert uploaded == datetime.fromtimestamp(WALL, UTC) and data["uploadedAt"].endswith("Z")
    named_data, unnamed_data = named.json()["data"], unnamed.json()["data"]
    assert named_data["filePath"].endswith("/kie-instrumental/vocals.wav")
    assert named_data["fileSize"] == len(b"RIFF-vocals")
    # Without fileName the host picks "<epoch ms>-<random>.<ext>", as in the recording.
    stem, dash, rest = unnamed_data["fileName"].partition("-")
    assert (stem, dash) == (str(int(WALL * 1000)), "-") and rest.endswith(".jpg")
    assert unnamed_data["filePath"].endswith("/images/test-uploads/" + unnamed_data["fileName"])


@pytest.mark.parametrize(
    ("files", "data"),
    [
        ({"file": ("a.wav", b"RIFF")}, {}),  # no uploadPath
        (None, {"uploadPath": "x"}),  # no file
    ],
)
def test_upload_errors_are_code_400_without_data_and_http_200(files, data):
    fake = FakeKie()

    async def scenario() -> httpx.Response:
        async with http_to(fake.app) as http:
            if files is None:
                return await http.post(
                    "/api/file-stream-upload",
                    headers=auth(fake),
                    files={"other": ("b", b"x")},
                    data=data,
                )
            return await http.post(
                "/api/file-stream-upload", headers=auth(fake), files=files, data=data
            )

    answer = run(scenario)
    assert answer.status_code == 200
    document = answer.json()
    assert document["code"] == 400 and document["success"] is False and "data" not in document
    assert ("uploadPath" if files else "file") in document["msg"]


def test_uploads_are_spooled_to_disk_not_held_in_memory(tmp_path):
    size = 24 * 1024 * 1024
    source = tmp_path / "big.wav"
    with source.open("wb") as out:
        for _ in range(size // (1 << 20)):
            out.write(b"\x01" * (1 << 20))
    fake = FakeKie()

    async def scenario() -> dict[str, Any]:
        async with http_to(fake.app) as http:
            with source.open("rb") as handle:
                answer = await http.post(
                    "/api/file-stream-upload",
                    headers=auth(fake),
                    files={"file": ("big.wav", handle, "audio/wav")},
                    data={"uploadPath": "big", "fileName": "big.wav"},
                )
        return answer.json()["data"]

    tracemalloc.start()
    try:
        data = run(scenario)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data["fileSize"] == size
    assert peak < size / 3, f"{peak / 2**20:.1f} MiB held while uploading 24 MiB"
    stored, _ = fake.uploads[data["filePath"]]
    assert stored.stat().st_size == size and stored.is_relative_to(fake.upload_host.directory)


# -- records and tracks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "codename"),
    [
        (None, "chirp-bluejay"),
        ("V4_5PLUS", "chirp-bluejay"),
        ("V5", "chirp-crow"),
        ("V5_5", "chirp-fenix"),
    ],
)
def test_records_and_tracks_look_like_real_traffic(model, codename):
    clock = FakeClock(wall_start=WALL)
    fake = FakeKie(clock=clock, callbacks="off")
    body = {**BODY, **({"model": model} if model else {})}

    async def scenario() -> tuple[dict[str, Any], bytes, bytes, Any]:
        async with http_to(fake.app) as http:
            task_id = (await http.post(CREATE, headers=auth(fake), json=body)).json()["data"][
                "taskId"
            ]
            clock.advance(30)  # the record's time is the creation's, not the poll's
            record = (
                await http.get(f"/api/v1/generate/record-info?taskId={task_id}", headers=auth(fake))
            ).json()["data"]
            track = record["response"]["sunoData"][0]
            audio = (await http.get(track["audioUrl"])).content
            source = (await http.get(track["sourceAudioUrl"])).content
            client = AsyncKieClient(
                fake.api_key,
                base_url="http://fake.kie",
                http_client=http,
                rate_limit=None,
                route="legacy",
            )
            return record, audio, source, await client.get_task(task_id)

    record, audio, source, details = run(scenario)
    created_ms = int(WALL * 1000)
    assert record["createTime"] == created_ms
    assert (record["type"], record["operationType"]) == (codename, "underpainting")
    tracks = record["response"]["sunoData"]
    assert len(tracks) == 2
    for track in tracks:
        uuid.UUID(track["id"])
        assert track["createTime"] == created_ms and track["modelName"] == codename
        assert track["sourceAudioUrl"] not in ("", body["uploadUrl"], track["audioUrl"])
        assert track["sourceStreamAudioUrl"] and track["sourceImageUrl"]
    assert source == audio and audio.startswith(b"RIFF")  # Suno's copy of the generated track
    assert details.tracks[0].created_at == datetime.fromtimestamp(WALL, UTC)
    assert details.tracks[0].model_name == codename


# -- callbacks ----------------------------------------------------------------------------------


def test_callbacks_can_go_to_an_in_process_asgi_app():
    recorder = Recorder()
    fake = FakeKie(callback_app=recorder, stage_seconds=5, clock=FakeClock(wall_start=WALL))
    bodies = callbacks_of(fake)  # callBackUrl is not loopback: no network, the app gets them
    assert [b["data"]["callbackType"] for b in bodies] == ["text", "first", "complete"]
    for path, query, body, headers in recorder.calls:
        assert (path, query) == ("/kie", "job=42")
        assert (
            webhooks.verify_signature(body, headers, fake.webhook_secret, now=WALL)
            == bodies[0]["data"]["task_id"]
        )


def test_a_receiver_app_in_process_gets_verified_events():
    events: list[str] = []
    fake = FakeKie(
        callback_app=starlette_app("whsec-x", lambda event: events.append(event.stage)),
        webhook_secret="whsec-x",
        stage_seconds=0.01,
    )

    async def scenario() -> None:
        async with http_to(fake.app) as http:
            hook = f"https://service.example{CALLBACK_PATH}"
            await http.post(CREATE, headers=auth(fake), json={**BODY, "callBackUrl": hook})
            await fake.drain()

    run(scenario)
    assert events == ["text", "first", "complete"]


def test_callbacks_carry_kies_messages_and_first_lists_only_the_finished_track():
    fake = FakeKie(callback_app=Recorder(), stage_seconds=5, clock=FakeClock(wall_start=WALL))
    text, first, complete = callbacks_of(fake, {**BODY, "model": "V5"})
    assert {b["data"]["callbackType"]: b["msg"] for b in (text, first, complete)} == (
        CALLBACK_MESSAGES
    )
    assert text["data"]["data"] == []
    (finished,) = first["data"]["data"]
    assert finished["audio_url"] and finished["duration"]
    assert len(complete["data"]["data"]) == 2 and all(
        t["audio_url"] for t in complete["data"]["data"]
    )
    for track in (finished, *complete["data"]["data"]):
        assert track["createTime"] == int(WALL * 1000) and track["model_name"] == "chirp-crow"
        assert track["source_audio_url"] != BODY["uploadUrl"]
        assert track["source_stream_audio_url"] and track["source_image_url"]


def test_a_failure_sends_only_the_failure_callback():
    fake = FakeKie(callback_app=Recorder(), stage_seconds=5, clock=FakeClock())
    fake.fail_next_task("GENERATE_AUDIO_FAILED")
    (only,) = callbacks_of(fake)
    assert only["code"] == 501 and only["msg"] == "Audio generation failed"
    assert only["data"]["callbackType"] == "error" and only["data"]["data"] is None


@pytest.mark.parametrize(
    ("skipped", "sent"),
    [
        ((), ["text", "first", "complete"]),
        (("text",), ["first", "complete"]),
        (("first",), ["text", "complete"]),
        (("text", "first"), ["complete"]),
    ],
)
def test_text_and_first_callbacks_can_be_skipped(skipped, sent):
    fake = FakeKie(
        callback_app=Recorder(), stage_seconds=5, clock=FakeClock(), skipped_callbacks=skipped
    )
    assert [b["data"]["callbackType"] for b in callbacks_of(fake)] == sent


@pytest.mark.parametrize("bad", [("complete",), ("txt",), "text"])
def test_only_text_and_first_can_be_skipped(bad):
    with pytest.raises(ValueError, match="skipped_callbacks"):
        FakeKie(skipped_callbacks=bad)


# -- helpers for users' own tests ---------------------------------------------------------------


def test_signed_callback_builds_what_the_receivers_accept():
    payload = {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {"callbackType": "complete", "task_id": "task-7", "data": []},
    }
    body, headers = signed_callback(payload, "whsec-y", timestamp=WALL)
    assert json.loads(body) == payload
    stamp = headers[webhooks.TIMESTAMP_HEADER]
    assert stamp == str(int(WALL))
    assert headers[webhooks.SIGNATURE_HEADER] == stdlib_signature("task-7", stamp, "whsec-y")
    assert webhooks.verify_signature(body, headers, "whsec-y", now=WALL) == "task-7"
    forged = signed_callback(payload, "whsec-y", timestamp=WALL, task_id="task-8")
    with pytest.raises(WebhookVerificationError):
        webhooks.verify_signature(forged.body, forged.headers, "whsec-y", now=WALL)

    events: list[str] = []

    async def scenario() -> int:
        now = signed_callback(payload, "whsec-y")  # now, by default
        async with http_to(starlette_app("whsec-y", lambda e: events.append(e.task_id))) as http:
            return (
                await http.post(CALLBACK_PATH, content=now.body, headers=now.headers)
            ).status_code

    assert run(scenario) == 200 and events == ["task-7"]


def test_serve_app_runs_any_asgi_app_on_a_loopback_port():
    recorder = Recorder()
    with serve_app(recorder) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        answer = httpx.post(f"{base_url}/anything?x=1", content=b"hi", timeout=10)
        port = int(base_url.rsplit(":", 1)[1])
    assert answer.status_code == 200 and recorder.calls[0][:3] == ("/anything", "x=1", b"hi")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # stopped, port free


def test_callback_app_works_with_a_served_fake_and_the_sync_client():
    events: list[str] = []
    fake = FakeKie(
        callback_app=starlette_app("whsec-z", lambda event: events.append(event.stage)),
        webhook_secret="whsec-z",
        stage_seconds=0.05,
    )
    with (
        fake.serve() as api,
        KieClient(fake.api_key, base_url=api, rate_limit=None, route="legacy") as client,
    ):
        task = client.add_instrumental(
            upload_url=BODY["uploadUrl"],
            title="t",
            tags="x",
            negative_tags="",
            callback_url=f"https://service.example{CALLBACK_PATH}",
        )
        client.wait(task.task_id, timeout=30)
        deadline = time.monotonic() + 10
        while len(events) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert events == ["text", "first", "complete"]


def schema_of(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_what_the_fake_sends_is_declared_in_the_spec_key_for_key():
    # Real traffic widened the fake; the spec must declare every key it now sends (strictly:
    # an undeclared key is an error here), in callbacks, records at every stage and uploads.
    clock = FakeClock(wall_start=WALL)
    recorder = Recorder()
    fake = FakeKie(callback_app=recorder, stage_seconds=5, clock=clock)
    records: list[Any] = []

    async def scenario() -> list[Any]:
        async with http_to(fake.app) as http:
            fake.fail_next_task()
            for body in (BODY, {**BODY, "model": "V5_5"}):
                created = await http.post(CREATE, headers=auth(fake), json=body)
                task_id = created.json()["data"]["taskId"]
                for _ in range(4):
                    path = f"/api/v1/generate/record-info?taskId={task_id}"
                    records.append((await http.get(path, headers=auth(fake))).json())
                    clock.advance(5)
            await fake.drain()
            uploads = [
                await http.post(
                    "/api/file-stream-upload",
                    headers=auth(fake),
                    files={"file": ("a.wav", b"RIFF")},
                    data=data,
                )
                for data in ({"uploadPath": "x"}, {})
            ]
            return [u.json() for u in uploads]

    uploads = run(scenario)
    stages = [b["data"]["callbackType"] for b in recorder.bodies()]
    assert stages == ["error", "text", "first", "complete"]
    checked = [
        *[("AudioGeneratedCallback", body) for body in recorder.bodies()],
        *[("RecordInfoResponse", record) for record in records],
        *[("FileUploadResponse", upload) for upload in uploads],
    ]
    for name, document in checked:
        assert errors(schema_of(name), document, undeclared_keys=False) == [], (name, document)
    statuses = {r["data"]["status"] for r in records}
    assert statuses == {
        "PENDING",
        "TEXT_SUCCESS",
        "GENERATE_AUDIO_FAILED",
        "FIRST_SUCCESS",
        "SUCCESS",
    }


def test_a_create_without_callback_url_gets_kies_own_answer() -> None:
    """Recorded from KIE (legacy route): HTTP 200, code 422, KIE's message, data null."""
    fake = FakeKie(rate_limit=None, callbacks="off")

    async def scenario() -> list[httpx.Response]:
        async with http_to(fake.app) as http:
            bodies = [
                {k: v for k, v in BODY.items() if k != "callBackUrl"},
                {**BODY, "callBackUrl": None},
            ]
            return [await http.post(CREATE, headers=auth(fake), json=body) for body in bodies]

    for answer in run(scenario):
        assert answer.status_code == 200
        assert answer.json() == {"code": 422, "msg": "Please enter callBackUrl.", "data": None}
    assert fake.tasks == {}
