"""Suno's tracks as KIE reports them, shaped like real traffic: UUID ids, codename model
names, epoch-ms createTime, and `source*` URLs that point at Suno's copy of the generated track
(never at the user's upload). Shared by every route that reports tracks."""

from __future__ import annotations

import uuid
from typing import Any

from .. import _spec
from ._files import TrackFiles
from ._lifecycle import FakeTask

# Real records name Suno's model by codename, in `modelName` and in the record's `type`.
MODEL_CODENAMES = {"V4_5PLUS": "chirp-bluejay", "V5": "chirp-crow", "V5_5": "chirp-fenix"}
DEFAULT_MODEL = "V4_5PLUS"
# The record's `operationType` real add-instrumental tasks show.
OPERATION_TYPE = "underpainting"


def codename(model: str | None) -> str:
    """The codename of a model; a made-up `chirp-...` one for models not seen in traffic."""
    model = model or DEFAULT_MODEL
    return MODEL_CODENAMES.get(model, f"chirp-{model.lower().replace('_', '-')}")


def track_id(task_id: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-kie:{task_id}/{n}"))


def tracks(
    files: TrackFiles,
    task: FakeTask,
    base_url: str,
    *,
    model: str | None,
    title: str,
    tags: str,
    finished: int,
    listed: int,
    snake: bool,
) -> list[dict[str, Any]]:
    """The first `listed` tracks of `task`, the first `finished` of them with their files.
    `snake`: the callbacks' and Market results' snake_case (createTime stays camelCase)."""
    result = []
    for n in range(listed):
        done = n < finished
        fields = {
            "id": track_id(task.task_id, n),
            "audioUrl": files.url(base_url, task.task_id, n, "wav") if done else "",
            "streamAudioUrl": files.url(base_url, task.task_id, n, "wav", stream=True),
            "imageUrl": files.url(base_url, task.task_id, n, "png") if done else "",
            "sourceAudioUrl": files.url(base_url, task.task_id, n, "wav", source=True)
            if done
            else "",
            "sourceStreamAudioUrl": files.url(
                base_url, task.task_id, n, "wav", source=True, stream=True
            ),
            "sourceImageUrl": files.url(base_url, task.task_id, n, "png", source=True)
            if done
            else "",
            "prompt": "[Instrumental]",
            "modelName": codename(model),
            "title": title,
            "tags": tags,
            "createTime": task.created_ms,
            "duration": files.duration(task.task_id, n) if done else None,
        }
        result.append(_snake(fields) if snake else fields)
    return result


def _snake(fields: dict[str, Any]) -> dict[str, Any]:
    renamed = {_spec.snake_case(k): v for k, v in fields.items()}
    renamed["createTime"] = renamed.pop("create_time")  # KIE keeps this one camelCase
    return renamed
