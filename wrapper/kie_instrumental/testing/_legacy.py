"""The add-instrumental route: POST /api/v1/generate/add-instrumental, GET
/api/v1/generate/record-info, and the callbacks text -> first -> complete, or only error."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import _spec
from .._validation import parameter_violation
from . import _suno
from ._answers import envelope
from ._lifecycle import FAILS_AT, FAILURE_CODES, FakeTask

if TYPE_CHECKING:
    from ._fake import FakeKie

# The `msg` of KIE's callbacks, as recorded; the failure one is also the record's errorMessage.
CALLBACK_MESSAGES = {
    "text": "Text generation completed successfully.",
    "first": "First track generated successfully.",
    "complete": "All generated successfully.",
}
FAILURE_MESSAGES = {
    "GENERATE_AUDIO_FAILED": "Audio generation failed",
    "SENSITIVE_WORD_ERROR": "Sensitive word error",
    "CREATE_TASK_FAILED": "Create task failed",
}
SKIPPABLE_CALLBACKS = ("text", "first")
_STAGE_INDEX = {"text": 1, "first": 2, "complete": 3}

# What KIE answers a create without callBackUrl (recorded: HTTP 200, data null).
MISSING_CALLBACK = "Please enter callBackUrl."


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
        if isinstance(body, dict) and body.get("callBackUrl") is None:
            return envelope(422, MISSING_CALLBACK)  # KIE's own words, before any other rule
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
        if task is None or task.route != "legacy":
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
                "type": _suno.codename(task.request.get("model")),
                "operationType": _suno.OPERATION_TYPE,
                "errorCode": failure,
                "errorMessage": FAILURE_MESSAGES.get(status, status) if failure else None,
                "createTime": task.created_ms,
            },
        )

    # -- tracks ---------------------------------------------------------------------------------

    def tracks_of(
        self, task: FakeTask, base_url: str, *, snake: bool, first_only: bool = False
    ) -> list[dict[str, Any]]:
        """Record-info lists every track of a task from FIRST_SUCCESS on, the unfinished one
        without files; a `first` callback lists only the finished track (`first_only`)."""
        status = self.fake.lifecycle.status_of(task)
        if status in FAILURE_CODES or status in ("PENDING", "TEXT_SUCCESS"):
            return []
        total = self.fake.files.tracks_per_task
        finished = 1 if status == "FIRST_SUCCESS" or first_only else total
        return _suno.tracks(
            self.fake.files,
            task,
            base_url,
            model=task.request.get("model"),
            title=task.request["title"],
            tags=task.request["tags"],
            finished=finished,
            listed=1 if first_only else total,
            snake=snake,
        )

    # -- callbacks ------------------------------------------------------------------------------

    async def _deliver_all(
        self, client: httpx.AsyncClient, task: FakeTask, url: str, base_url: str
    ) -> None:
        lifecycle, sender = self.fake.lifecycle, self.fake.sender
        if task.fail_with is not None:  # a failure sends only the failure callback
            await lifecycle.sleep_until_stage(task, FAILS_AT)
            await sender.send(client, task, url, "error", self._failure_body(task))
            return
        for stage, index in _STAGE_INDEX.items():
            if stage in self.fake.skipped_callbacks:
                continue
            await lifecycle.sleep_until_stage(task, index)
            tracks = (
                []
                if stage == "text"
                else self.tracks_of(task, base_url, snake=True, first_only=stage == "first")
            )
            body = _callback(200, CALLBACK_MESSAGES[stage], stage, task.task_id, tracks)
            ok = await sender.send(client, task, url, stage, body)
            if not ok and stage == "complete":
                task.status_override = "CALLBACK_EXCEPTION"  # as KIE reports it

    def _failure_body(self, task: FakeTask) -> bytes:
        status = task.fail_with or "GENERATE_AUDIO_FAILED"
        code, msg = FAILURE_CODES.get(status, 500), FAILURE_MESSAGES.get(status, status)
        return _callback(code, msg, "error", task.task_id, None)


def _callback(
    code: int, msg: str, stage: str, task_id: str, tracks: list[dict[str, Any]] | None
) -> bytes:
    document = {
        "code": code,
        "msg": msg,
        "data": {"callbackType": stage, "task_id": task_id, "data": tracks},
    }
    return json.dumps(document).encode()
