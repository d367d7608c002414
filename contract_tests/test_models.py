"""One Track type for callbacks (snake_case) and task details (camelCase); createTime as a
string or epoch milliseconds; missing optional fields are fine; wrong types are APIErrors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from _records import record, suno_track
from _support import RECORD_PATH
from kie_instrumental import APIError, Track
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
    ("field", "value"), [("duration", "long"), ("audioUrl", 5), ("createTime", True), ("id", None)]
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
