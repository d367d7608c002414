"""Builders of record-info answers for the wrapper tests."""

from __future__ import annotations

from typing import Any

import httpx


def suno_track(n: int = 0, **overrides: Any) -> dict[str, Any]:
    track = {
        "id": f"track-{n}",
        "audioUrl": f"https://cdn.example/{n}.mp3",
        "streamAudioUrl": f"https://cdn.example/{n}",
        "imageUrl": f"https://cdn.example/{n}.jpg",
        "prompt": "[Instrumental]",
        "modelName": "chirp-v4-5-plus",
        "title": "Night Drive",
        "tags": "synthwave",
        "createTime": "2025-01-01 00:00:00",
        "duration": 120.5 + n,
    }
    track.update(overrides)
    return track


def record(
    status: str,
    tracks: list[dict[str, Any]] | None = None,
    *,
    error_code: int | None = None,
    error_message: str | None = None,
    task_id: str = "task-1",
) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "code": 200,
            "msg": "success",
            "data": {
                "taskId": task_id,
                "parentMusicId": "",
                "param": "{}",
                "response": {"taskId": task_id, "sunoData": tracks} if tracks is not None else None,
                "status": status,
                "type": "GENERATE",
                "operationType": "generate",
                "errorCode": error_code,
                "errorMessage": error_message,
            },
        },
    )
