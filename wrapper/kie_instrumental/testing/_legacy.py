"""The add-instrumental route: POST /api/v1/generate/add-instrumental, GET
/api/v1/generate/record-info, and the callbacks text -> first -> complete (or error)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import _spec
from .._validation import parameter_violation
from ._answers import envelope
from ._lifecycle import FAILURE_CODES, STAGES, FakeTask

if TYPE_CHECKING:
    from ._fake import FakeKie

_CALLBACK_STAGES = {"TEXT_SUCCESS": "text", "FIRST_SUCCESS": "first", "SUCCESS": "complete"}


class LegacyRoute:
    def __init__(self, fake: FakeKie) -> None:
        self.fake = fake

    def routes(self) -> list[Route]:
        return [
            Route(_spec.ADD_INSTRUMENTAL_PATH, self._create, methods=["POST"]),
            Route(_spec.RECORD_INFO_PATH, self._record_info, methods=["GET"]),
        ]

    # -- endpoints ------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        refused = self.fake.gate.refuse(request, counted=True)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return envelope(422, "body: must be a JSON object, got text that is not JSON")
        violations = self.fake.request_violations(body)
        if violations:
            return envelope(422, violations[0].message(python_names=False))
        task = self.fake.lifecycle.create(body)
        if task is None:
            return envelope(402, "Insufficient credits")
        base_url = str(request.base_url).rstrip("/")
        url = body["callBackUrl"]
        self.fake.sender.start(
            task, url, lambda client: self._deliver_all(client, task, url, base_url)
        )
        return envelope(200, "success", {"taskId": task.task_id})

    async def _record_info(self, request: Request) -> Response:
        refused = self.fake.gate.refuse(request, counted=True)
        if refused is not None:
            return refused
        task_id = request.query_params.get("taskId")
        violation = parameter_violation(_spec.RECORD_INFO_PATH, "get", "taskId", task_id)
        if violation is not None:
            return envelope(422, violation.message(python_names=False))
        assert task_id is not None
        task = self.fake.lifecycle.tasks.get(task_id)
        if task is None:
            return envelope(200, "success", None)
        status = self.fake.lifecycle.status_of(task)
        base = str(request.base_url).rstrip("/")
        tracks = self.tracks_of(task, base, snake=False)
        failure = FAILURE_CODES.get(status)
        return envelope(
            200,
            "success",
            {
                "taskId": task.task_id,
                "parentMusicId": "",
                "param": json.dumps(task.request),
                "response": {"taskId": task.task_id, "sunoData": tracks} if tracks else None,
                "status": status,
                "type": "GENERATE",
                "operationType": "generate",
                "errorCode": failure,
                "errorMessage": f"fake failure: {status}" if failure else None,
            },
        )

    # -- tracks ---------------------------------------------------------------------------------

    def tracks_of(self, task: FakeTask, base_url: str, *, snake: bool) -> list[dict[str, Any]]:
        status = self.fake.lifecycle.status_of(task)
        if status in FAILURE_CODES or status in ("PENDING", "TEXT_SUCCESS"):
            return []
        files = self.fake.files
        finished = files.tracks_per_task if status != "FIRST_SUCCESS" else 1
        request = task.request
        tracks = []
        for n in range(files.tracks_per_task):
            done = n < finished
            audio = files.audio_url(base_url, task.task_id, n)
            fields = {
                "id": f"{task.task_id}-{n}",
                "audioUrl": audio if done else "",
                "streamAudioUrl": f"{audio}?stream=1",
                "imageUrl": files.image_url(base_url, task.task_id, n) if done else "",
                "sourceAudioUrl": request["uploadUrl"],
                "prompt": "[Instrumental]",
                "modelName": f"chirp-{request.get('model', 'V4_5PLUS').lower()}",
                "title": request["title"],
                "tags": request["tags"],
                "createTime": int(task.created * 1000) if snake else "2025-01-01 00:00:00",
                "duration": files.duration(task.task_id, n) if done else None,
            }
            tracks.append(_snake(fields) if snake else fields)
        return tracks

    # -- callbacks ------------------------------------------------------------------------------

    async def _deliver_all(
        self, client: httpx.AsyncClient, task: FakeTask, url: str, base_url: str
    ) -> None:
        lifecycle = self.fake.lifecycle
        for index in (1, 2, 3):
            await lifecycle.sleep_until_stage(task, index)
            status = lifecycle.status_of(task)
            stage = "error" if status in FAILURE_CODES else _CALLBACK_STAGES[STAGES[index]]
            body = self._callback_body(task, base_url, stage, status)
            ok = await self.fake.sender.send(client, task, url, stage, body)
            if not ok and stage == "complete":
                task.status_override = "CALLBACK_EXCEPTION"  # as KIE reports it
            if stage == "error":
                return

    def _callback_body(self, task: FakeTask, base_url: str, stage: str, status: str) -> bytes:
        code = FAILURE_CODES.get(status, 200)
        tracks = (
            None
            if stage == "error"
            else ([] if stage == "text" else self.tracks_of(task, base_url, snake=True))
        )
        return json.dumps(
            {
                "code": code,
                "msg": "success" if code == 200 else f"fake failure: {status}",
                "data": {"callbackType": stage, "task_id": task.task_id, "data": tracks},
            }
        ).encode()


def _snake(fields: dict[str, Any]) -> dict[str, Any]:
    renamed = {_spec.snake_case(k): v for k, v in fields.items()}
    renamed["createTime"] = renamed.pop("create_time")  # KIE keeps this one camelCase
    return renamed
