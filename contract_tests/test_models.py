"""One Track type for callbacks (snake_case) and task details (camelCase); createTime as a
string or epoch milliseconds; missing optional fields are fine; wrong types are APIErrors."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from _records import record, suno_track
from _support import RECORD_PATH
from kie_instrumental import APIError, NotFoundError, TaskFailedError, Track
from kie_instrumental.webhooks import parse_callback


def callback_body(tracks):
    return {
        "code": 200,
        "msg": "ok",
        "data": {"callbackType": "complete", "task_id": "task-1", "data": tracks},
    }


def snake(track):
    return {
        "id": track["id"],
        "audio_url": track["audioUrl"],
        "stream_audio_url": track["streamAudioUrl"],
        "image_url": track["imageUrl"],
        "prompt": track["prompt"],
        "model_name": track["modelName"],
        "title": track["title"],
        "tags": track["tags"],
        "createTime": track["createTime"],
        "duration": track["duration"],
    }


def test_the_same_track_parses_equal_from_both_spellings(client, mock_api):
    camel = suno_track(0)
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [camel]))
    from_details = client.get_task("task-1").tracks[0]
    from_callback = parse_callback(callback_body([snake(camel)])).tracks[0]
    assert isinstance(from_details, Track)
    assert from_details == from_callback
    assert from_details.duration == 120.5
    assert from_details.created_at == datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-01 00:00:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T08:00:00+08:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T00:00:00.000Z", datetime(2025, 1, 1, tzinfo=UTC)),
        (1735689600000, datetime(2025, 1, 1, tzinfo=UTC)),
        (1735689600000.0, datetime(2025, 1, 1, tzinfo=UTC)),
        (None, None),
        ("yesterday", None),
    ],
)
def test_create_time_strings_and_epoch_ms(client, mock_api, value, expected):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track(createTime=value)]))
    assert client.get_task("task-1").tracks[0].created_at == expected


def test_missing_optional_fields_are_fine(client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=record("FIRST_SUCCESS", [{"id": "only-id"}]))
    track = client.get_task("task-1").tracks[0]
    assert track == Track(id="only-id")


def test_source_fields_are_read(client, mock_api):
    track = suno_track(sourceAudioUrl="https://src/a.mp3", sourceImageUrl="https://src/a.jpg")
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [track]))
    parsed = client.get_task("task-1").tracks[0]
    assert (parsed.source_audio_url, parsed.source_image_url) == (
        "https://src/a.mp3",
        "https://src/a.jpg",
    )


@pytest.mark.parametrize(
    ("field", "value"), [("duration", "long"), ("audioUrl", 5), ("createTime", True), ("id", 5)]
)
def test_wrong_types_are_api_errors_naming_the_field(client, mock_api, field, value):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track(**{field: value})]))
    with pytest.raises(APIError) as caught:
        client.get_task("task-1")
    assert "sunoData[0]" in str(caught.value) and caught.value.task_id == "task-1"


def test_extra_fields_and_new_types_never_break_parsing(client, mock_api):
    response = record("SUCCESS", [suno_track(newField={"nested": [1]})])
    body = response.json()
    body["data"].update(type="REMIX_V9", operationType="somethingNew", shiny=True)
    body["extraTopLevel"] = 1
    mock_api.get(RECORD_PATH).respond(200, json=body)
    details = client.get_task("task-1")
    assert details.type == "REMIX_V9" and details.operation_type == "somethingNew"


# -- what real traffic sends and the spec once refused ------------------------------------------

ID_LESS = {k: v for k, v in suno_track(0).items() if k not in ("id", "createTime")}


def test_a_track_without_id_is_read_by_get_task_and_wait(client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [ID_LESS]))
    for details in (client.get_task("task-1"), client.wait("task-1", timeout=60)):
        (track,) = details.tracks
        assert track.id is None
        assert track.audio_url == ID_LESS["audioUrl"]


def test_a_callback_track_without_id_is_delivered():
    track = {k: v for k, v in snake(suno_track(0)).items() if k not in ("id", "createTime")}
    event = parse_callback(callback_body([track]))
    assert [(t.id, t.audio_url) for t in event.tracks] == [(None, ID_LESS["audioUrl"])]


@pytest.mark.parametrize(("code", "expected"), [("501", 501), ("GENERATE_FAILED", None)])
def test_a_string_error_code_still_reports_the_failure(client, mock_api, code, expected):
    mock_api.get(RECORD_PATH).mock(
        return_value=record("GENERATE_AUDIO_FAILED", error_code=code, error_message="no audio")
    )
    with pytest.raises(TaskFailedError) as caught:
        client.wait("task-1", timeout=60)
    assert (caught.value.error_code, caught.value.error_message) == (expected, "no audio")
    assert client.get_task("task-1").failed


def test_a_record_of_another_task_is_an_api_error(client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track()], task_id="other"))
    with pytest.raises(APIError) as caught:
        client.get_task("task-1")
    assert "'other'" in str(caught.value)
    assert caught.value.task_id == "task-1"


@pytest.mark.parametrize("suno_data", [None, {"0": suno_track()}, "tracks", ["not a track"]])
def test_success_without_a_list_of_tracks_is_an_api_error(client, mock_api, suno_data):
    document = {
        "code": 200,
        "msg": "success",
        "data": {"taskId": "task-1", "status": "SUCCESS", "response": {"sunoData": suno_data}},
    }
    mock_api.get(RECORD_PATH).mock(return_value=httpx.Response(200, json=document))
    with pytest.raises(APIError) as caught:
        client.wait("task-1", timeout=60)
    assert "sunoData" in str(caught.value)


def test_a_negative_duration_is_an_api_error(client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track(duration=-1.5)]))
    with pytest.raises(APIError, match=r"duration must not be negative"):
        client.get_task("task-1")


def test_negative_credits_are_an_api_error(client, mock_api):
    mock_api.get("/api/v1/chat/credit").mock(
        return_value=httpx.Response(200, json={"code": 200, "msg": "success", "data": -5})
    )
    with pytest.raises(APIError, match=r"must not be negative"):
        client.get_credits()


def _legacy_record(client_factory, mock_api, change):
    answer = record("PENDING").json()
    change(answer)
    mock_api.get(RECORD_PATH).respond(200, json=answer)
    return client_factory(max_retries=0).get_task("task-1")


def test_a_legacy_record_keeps_every_field_as_sent(make_client, mock_api):
    def change(answer):
        answer["data"].update(parentMusicId="pm-1", status="QUEUED_ON_GPU")

    details = _legacy_record(make_client, mock_api, change)
    assert (details.parent_music_id, details.raw_status, details.route) == (
        "pm-1",
        "QUEUED_ON_GPU",
        "legacy",
    )
    assert (details.type, details.operation_type, details.param) == ("GENERATE", "generate", "{}")


def test_an_unknown_legacy_task_is_not_found_with_every_field(make_client, mock_api):
    mock_api.get(RECORD_PATH).respond(200, json={"code": 200, "msg": "success", "data": None})
    with pytest.raises(NotFoundError) as caught:
        make_client(max_retries=0).get_task("task-1")
    error = caught.value
    assert (str(error), error.code, error.msg, error.http_status, error.task_id) == (
        "get_task: KIE knows no task task-1 (data is null)",
        404,
        "success",
        200,
        "task-1",
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda a: a["data"].update(errorMessage=5),
            "data.errorMessage must be a string or null, got int",
        ),
        (
            lambda a: a["data"].update(response={"taskId": "task-1", "sunoData": "x"}),
            "data.response.sunoData must be a list of tracks on PENDING",
        ),
        (
            lambda a: a["data"].update(status="SUCCESS"),
            "data.response.sunoData must be a list of tracks on SUCCESS",
        ),
        (
            lambda a: a["data"].update(status="Q" * 150, response={"sunoData": "x"}),
            f"data.response.sunoData must be a list of tracks on {'Q' * 100}"
            "... (50 more characters)",
        ),
        (lambda a: a.update(data="x"), "data is not a task record"),
        (lambda a: a["data"].update(status=5), "data.status must be a non-empty string, got int"),
        (lambda a: a["data"].update(response="x"), "data.response must be an object or null"),
        (
            lambda a: a["data"].update(errorCode=[1]),
            "data.errorCode must be an integer or null, got list",
        ),
        (lambda a: a["data"].update(type=5), "data.type must be a string or null, got int"),
        (
            lambda a: a["data"].update(operationType=5),
            "data.operationType must be a string or null, got int",
        ),
        (lambda a: a["data"].update(param=5), "data.param must be a string or null, got int"),
        (
            lambda a: a["data"].update(parentMusicId=5),
            "data.parentMusicId must be a string or null, got int",
        ),
    ],
)
def test_a_legacy_record_of_a_wrong_shape_names_the_field(make_client, mock_api, change, problem):
    with pytest.raises(APIError) as caught:
        _legacy_record(make_client, mock_api, change)
    assert str(caught.value) == (
        "GET /api/v1/generate/record-info: the success envelope lacks the expected data "
        f"({problem}) (task_id=task-1)"
    )
