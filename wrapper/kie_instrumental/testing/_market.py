"""The Market route: POST /api/v1/jobs/createTask, GET /api/v1/jobs/recordInfo, and one
callback when the task ends (only when the request names a callBackUrl).

The shared lifecycle's stages read as Market states: PENDING is `waiting`, TEXT_SUCCESS
`queuing`, FIRST_SUCCESS `generating`, SUCCESS `success`, a failure `fail` (failCode the
failure's code as a string). The result is `resultJson`, a JSON string `{"data": [song, ...]}`
with snake_case songs, as measured for Suno. An id this route did not create answers body code
422 "recordInfo is null", as KIE does.
"""

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
from ._legacy import FAILURE_MESSAGES
from ._lifecycle import FAILS_AT, FAILURE_CODES, STAGES, FakeTask

if TYPE_CHECKING:
    from ._fake import FakeKie

ROUTE_NAME = "market"
_STATES = {
    "PENDING": "waiting",
    "TEXT_SUCCESS": "queuing",
    "FIRST_SUCCESS": "generating",
    "SUCCESS": "success",
    "CALLBACK_EXCEPTION": "success",  # only the legacy route reports a failed delivery
}
_UNKNOWN = "recordInfo is null"


class MarketRoute:
    def __init__(self, fake: FakeKie) -> None:
        self.fake = fake

    def routes(self) -> list[Route]:
        return [
            Route(_spec.MARKET_CREATE_PATH, self._create, methods=["POST"]),
            Route(_spec.MARKET_RECORD_PATH, self._record_info, methods=["GET"]),
        ]

    def state_of(self, task: FakeTask) -> str:
        status = self.fake.lifecycle.status_of(task)
        return "fail" if status in FAILURE_CODES else _STATES.get(status, "generating")

    # -- endpoints ------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        refused = self.fake.gate.refuse(request, counted=True)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return envelope(422, "body: must be a JSON object, got text that is not JSON")
        violations = self.fake.request_violations(body, route=ROUTE_NAME)
        if violations:
            return envelope(422, violations[0].message(python_names=False))
        task = self.fake.lifecycle.create(body)
        if task is None:
            return envelope(402, "Insufficient credits")
        task.route = ROUTE_NAME
        url = body.get("callBackUrl")
        if url:  # "if omitted, no callback is sent"
            base_url = str(request.base_url).rstrip("/")
            self.fake.sender.start(
                task, url, lambda client: self._deliver(client, task, url, base_url)
            )
        else:
            task.callbacks.append(("all", "not sent (no callBackUrl)"))
        return envelope(200, "success", {"taskId": task.task_id, "recordId": task.task_id})

    async def _record_info(self, request: Request) -> Response:
        refused = self.fake.gate.refuse(request, counted=True)
        if refused is not None:
            return refused
        task_id = request.query_params.get("taskId")
        violation = parameter_violation(_spec.MARKET_RECORD_PATH, "get", "taskId", task_id)
        if violation is not None:
            return envelope(422, violation.message(python_names=False))
        assert task_id is not None
        task = self.fake.lifecycle.tasks.get(task_id)
        if task is None or task.route != ROUTE_NAME:
            return envelope(422, _UNKNOWN, None)
        return envelope(200, "success", self.record(task, str(request.base_url).rstrip("/")))

    # -- the record, also the callback's data ---------------------------------------------------

    def record(self, task: FakeTask, base_url: str) -> dict[str, Any]:
        state = self.state_of(task)
        status = self.fake.lifecycle.status_of(task)
        created = task.created_ms
        done = state in ("success", "fail")
        now = self._now_ms()
        body = task.request
        failure = FAILURE_CODES.get(status)
        return {
            "taskId": task.task_id,
            "model": body["model"],
            "state": state,
            # As KIE records it: the request as a JSON string whose input is a JSON string too.
            "param": json.dumps({**body, "input": json.dumps(body["input"])}),
            "resultJson": json.dumps({"data": self.songs(task, base_url)})
            if state == "success"
            else "",
            "failCode": str(failure) if failure else None,
            "failMsg": FAILURE_MESSAGES.get(status, status) if failure else None,
            "costTime": now - created if done else None,
            "completeTime": now if done else None,
            "createTime": created,
            "updateTime": now,
        }

    def songs(self, task: FakeTask, base_url: str) -> list[dict[str, Any]]:
        fields, total = task.request["input"], self.fake.files.tracks_per_task
        return _suno.tracks(
            self.fake.files,
            task,
            base_url,
            model=fields.get("model"),
            title=fields["title"],
            tags=fields["tags"],
            finished=total,
            listed=total,
            snake=True,
        )

    # -- the one callback -----------------------------------------------------------------------

    async def _deliver(
        self, client: httpx.AsyncClient, task: FakeTask, url: str, base_url: str
    ) -> None:
        lifecycle = self.fake.lifecycle
        # A failure shows from FIRST_SUCCESS on; a success at the last stage.
        await lifecycle.sleep_until_stage(task, FAILS_AT)
        if self.state_of(task) != "fail":
            await lifecycle.sleep_until_stage(task, len(STAGES) - 1)
        state = self.state_of(task)
        stage = "complete" if state == "success" else "error"
        code, msg = (
            (200, "Playground task completed successfully.")
            if state == "success"
            else (501, "Playground task failed.")
        )
        body = json.dumps({"code": code, "msg": msg, "data": self.record(task, base_url)})
        await self.fake.sender.send(client, task, url, stage, body.encode())

    def _now_ms(self) -> int:
        return int(self.fake.clock.time() * 1000)
