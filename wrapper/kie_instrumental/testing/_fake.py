"""FakeKie: an ASGI app that behaves like KIE for every path in the spec.

Bearer auth; request validation from the spec, answered the way KIE answers (HTTP 200, body
code 422, a message naming the field); HTTP 429 above the rate limit; the lifecycle PENDING ->
TEXT_SUCCESS -> FIRST_SUCCESS -> SUCCESS, one stage every `stage_seconds`; record-info,
credits, file upload; signed callbacks tried up to 3 times like KIE; two tracks per task with
audio it synthesises and serves itself; fault injection. Needs the `fake` extra (starlette).

In-process: `httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))`. On a loopback
port: `with fake.serve() as base_url: ...` or `kie-instrumental fake-server --port N`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import json
import secrets
import threading
import zlib
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _spec, webhooks
from .._clock import SYSTEM_CLOCK, Clock
from .._validation import Violation, parameter_violation, request_validator
from ._audio import synth_png, synth_wav, wav_duration

CallbackMode = Literal["off", "loopback", "any"]
STAGES = ("PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS")
FAILURE_CODES = {
    "GENERATE_AUDIO_FAILED": 501,
    "SENSITIVE_WORD_ERROR": 400,
    "CREATE_TASK_FAILED": 500,
}
CALLBACK_ATTEMPTS = 3
_CALLBACK_STAGES = {"TEXT_SUCCESS": "text", "FIRST_SUCCESS": "first", "SUCCESS": "complete"}


@attrs.define
class Fault:
    """The next `remaining` requests answer this instead of their normal answer."""

    remaining: int
    http_status: int
    code: int | None
    text: str | None
    content_type: str


@attrs.define
class FakeTask:
    task_id: str
    request: dict[str, Any]
    created: float
    fail_with: str | None = None
    status_override: str | None = None
    callbacks: list[tuple[str, str]] = attrs.Factory(list)  # (stage, outcome)


class FakeKie:
    """A KIE stand-in for tests, demos and other teams' services. See the module docstring."""

    def __init__(
        self,
        *,
        api_key: str = "fake-kie-key",
        webhook_secret: str = "fake-webhook-secret",  # noqa: S107 - a test fixture
        stage_seconds: float = 0.0,
        rate_limit: tuple[int, float] | None = (20, 10.0),
        credits: float | None = 1000.0,
        task_cost: float = 12.0,
        callbacks: CallbackMode = "loopback",
        callback_retry_delay: float = 0.5,
        audio_seconds: float = 4.0,
        tracks_per_task: int = 2,
        clock: Clock | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.stage_seconds = stage_seconds
        self.rate_limit = rate_limit
        self.credits = credits
        self.task_cost = task_cost
        self.callbacks = callbacks
        self.callback_retry_delay = callback_retry_delay
        self.audio_seconds = audio_seconds
        self.tracks_per_task = tracks_per_task
        self.clock = clock or SYSTEM_CLOCK
        self.tasks: dict[str, FakeTask] = {}
        self.uploads: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path), every request seen
        self._faults: collections.deque[Fault] = collections.deque()
        self._next_failure: collections.deque[str] = collections.deque()
        self._window: collections.deque[float] = collections.deque()
        self._audio: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self.app = Starlette(
            routes=[
                Route(_spec.ADD_INSTRUMENTAL_PATH, self._create, methods=["POST"]),
                Route(_spec.RECORD_INFO_PATH, self._record_info, methods=["GET"]),
                Route("/api/v1/chat/credit", self._credit, methods=["GET"]),
                Route("/api/file-stream-upload", self._upload, methods=["POST"]),
                Route("/files/{task_id}/{name}", self._file, methods=["GET"]),
                Route("/uploads/{path:path}", self._uploaded, methods=["GET"]),
            ]
        )

    # -- switches and fault injection -----------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        code: int | None = 500,
        http_status: int = 200,
        text: str | None = None,
        content_type: str = "text/plain",
    ) -> None:
        """The next `count` API requests answer body `code` (in the envelope) with
        `http_status`; with `text`, that raw body instead (HTML pages, "error code: 1010")."""
        self._faults.append(Fault(count, http_status, code, text, content_type))

    def fail_next_task(self, status: str = "GENERATE_AUDIO_FAILED") -> None:
        """The next created task ends in `status` instead of SUCCESS."""
        self._next_failure.append(status)

    def request_violations(self, body: object) -> list[Violation]:
        """The spec's rules broken by a create request (the wrapper's validator, shared)."""
        schema_name = _spec.request_schema_name(_spec.ADD_INSTRUMENTAL_PATH)
        return request_validator(schema_name).violations(body)

    # -- lifecycle ------------------------------------------------------------------------------

    def status_of(self, task: FakeTask) -> str:
        if task.status_override is not None:
            return task.status_override
        stage = self._stage_index(task)
        if task.fail_with is not None and stage >= 2:
            return task.fail_with
        return STAGES[stage]

    def _stage_index(self, task: FakeTask) -> int:
        if self.stage_seconds <= 0:
            return len(STAGES) - 1
        elapsed = self.clock.monotonic() - task.created
        return min(len(STAGES) - 1, int(elapsed // self.stage_seconds))

    def tracks_of(self, task: FakeTask, base_url: str, *, snake: bool) -> list[dict[str, Any]]:
        status = self.status_of(task)
        if status in FAILURE_CODES or status in ("PENDING", "TEXT_SUCCESS"):
            return []
        finished = self.tracks_per_task if status != "FIRST_SUCCESS" else 1
        request = task.request
        tracks = []
        for n in range(self.tracks_per_task):
            done = n < finished
            audio = f"{base_url}/files/{task.task_id}/{n}.wav"
            fields = {
                "id": f"{task.task_id}-{n}",
                "audioUrl": audio if done else "",
                "streamAudioUrl": f"{audio}?stream=1",
                "imageUrl": f"{base_url}/files/{task.task_id}/{n}.png" if done else "",
                "sourceAudioUrl": request["uploadUrl"],
                "prompt": "[Instrumental]",
                "modelName": f"chirp-{request.get('model', 'V4_5PLUS').lower()}",
                "title": request["title"],
                "tags": request["tags"],
                "createTime": int(task.created * 1000) if snake else "2025-01-01 00:00:00",
                "duration": self._duration(task.task_id, n) if done else None,
            }
            tracks.append(_snake(fields) if snake else fields)
        return tracks

    def _duration(self, task_id: str, n: int) -> float:
        return round(wav_duration(self._audio_bytes(task_id, n)), 2)

    def _audio_bytes(self, task_id: str, n: int) -> bytes:
        key = (task_id, n)
        with self._lock:
            if key not in self._audio:
                self._audio[key] = synth_wav(
                    self.audio_seconds, seed=zlib.crc32(f"{task_id}/{n}".encode())
                )
            return self._audio[key]

    # -- the gate every API request passes ------------------------------------------------------

    def _gate(self, request: Request, *, counted: bool) -> Response | None:
        self.requests.append((request.method, request.url.path))
        if self._faults:
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.popleft()
            if fault.text is not None:
                return Response(fault.text, fault.http_status, media_type=fault.content_type)
            return _envelope(
                fault.code or fault.http_status, "injected fault", status=fault.http_status
            )
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            return _envelope(401, "You do not have access permissions", status=401)
        if counted and self.rate_limit is not None:
            limit, period = self.rate_limit
            now = self.clock.monotonic()
            with self._lock:
                while self._window and self._window[0] <= now - period:
                    self._window.popleft()
                if len(self._window) >= limit:
                    wait = max(1, int(self._window[0] + period - now + 0.999))
                    return _envelope(
                        429,
                        f"Rate limit exceeded: {limit} requests per {period:g} seconds",
                        status=429,
                        headers={"Retry-After": str(wait)},
                    )
                self._window.append(now)
        return None

    # -- endpoints ------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        refused = self._gate(request, counted=True)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _envelope(422, "body: must be a JSON object, got text that is not JSON")
        violations = self.request_violations(body)
        if violations:
            return _envelope(422, violations[0].message(python_names=False))
        with self._lock:
            if self.credits is not None:
                if self.credits < self.task_cost:
                    return _envelope(402, "Insufficient credits")
                self.credits -= self.task_cost
            task = FakeTask(
                task_id=secrets.token_hex(16),
                request=body,
                created=self.clock.monotonic(),
                fail_with=self._next_failure.popleft() if self._next_failure else None,
            )
            self.tasks[task.task_id] = task
        self._start_callbacks(task, str(request.base_url).rstrip("/"))
        return _envelope(200, "success", {"taskId": task.task_id})

    async def _record_info(self, request: Request) -> Response:
        refused = self._gate(request, counted=True)
        if refused is not None:
            return refused
        task_id = request.query_params.get("taskId")
        violation = parameter_violation(_spec.RECORD_INFO_PATH, "get", "taskId", task_id)
        if violation is not None:
            return _envelope(422, violation.message(python_names=False))
        assert task_id is not None
        task = self.tasks.get(task_id)
        if task is None:
            return _envelope(200, "success", None)
        status = self.status_of(task)
        base = str(request.base_url).rstrip("/")
        tracks = self.tracks_of(task, base, snake=False)
        failure = FAILURE_CODES.get(status)
        return _envelope(
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

    async def _credit(self, request: Request) -> Response:
        refused = self._gate(request, counted=True)
        if refused is not None:
            return refused
        return _envelope(200, "success", 1e9 if self.credits is None else self.credits)

    async def _upload(self, request: Request) -> Response:
        refused = self._gate(request, counted=False)
        if refused is not None:
            return refused
        try:
            form = await request.form()
        except Exception:
            return _upload_envelope(422, "The body is not multipart/form-data.")
        upload = form.get("file")
        folder = form.get("uploadPath")
        if upload is None or isinstance(upload, str):
            return _upload_envelope(422, "file: is required")
        if not isinstance(folder, str) or not folder.strip("/"):
            return _upload_envelope(422, "uploadPath: is required")
        name = form.get("fileName")
        name = name if isinstance(name, str) and name else upload.filename or "upload.bin"
        data = await upload.read()
        path = f"{folder.strip('/')}/{name.replace('/', '_')}"
        content_type = upload.content_type or "application/octet-stream"
        self.uploads[path] = (data, content_type)
        base = str(request.base_url).rstrip("/")
        return _upload_envelope(
            200,
            "File uploaded successfully",
            {
                "fileName": name,
                "filePath": path,
                "downloadUrl": f"{base}/uploads/{path}",
                "fileSize": len(data),
                "mimeType": content_type,
                "uploadedAt": None,
            },
        )

    async def _file(self, request: Request) -> Response:
        task = self.tasks.get(request.path_params["task_id"])
        stem, _, kind = request.path_params["name"].partition(".")
        if task is None or not stem.isdigit() or int(stem) >= self.tracks_per_task:
            return Response("not found", 404, media_type="text/plain")
        if kind == "png":
            return Response(synth_png(int(stem)), media_type="image/png")
        if kind != "wav":
            return Response("not found", 404, media_type="text/plain")
        return Response(self._audio_bytes(task.task_id, int(stem)), media_type="audio/wav")

    async def _uploaded(self, request: Request) -> Response:
        found = self.uploads.get(request.path_params["path"])
        if found is None:
            return Response("not found", 404, media_type="text/plain")
        return Response(found[0], media_type=found[1])

    # -- callbacks ------------------------------------------------------------------------------

    def _start_callbacks(self, task: FakeTask, base_url: str) -> None:
        url = task.request["callBackUrl"]
        if self.callbacks == "off" or (self.callbacks == "loopback" and not _is_loopback(url)):
            task.callbacks.append(("all", f"not sent ({self.callbacks} mode)"))
            return
        job = asyncio.get_running_loop().create_task(self._deliver_all(task, url, base_url))
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def _deliver_all(self, task: FakeTask, url: str, base_url: str) -> None:
        async with httpx.AsyncClient(timeout=15.0) as client:
            for index in (1, 2, 3):
                await self.clock.asleep(
                    task.created + index * self.stage_seconds - self.clock.monotonic()
                )
                status = self.status_of(task)
                stage = "error" if status in FAILURE_CODES else _CALLBACK_STAGES[STAGES[index]]
                ok = await self._deliver(client, task, url, base_url, stage, status)
                if not ok and stage == "complete":
                    task.status_override = "CALLBACK_EXCEPTION"  # as KIE reports it
                if stage == "error":
                    return

    async def _deliver(
        self,
        client: httpx.AsyncClient,
        task: FakeTask,
        url: str,
        base_url: str,
        stage: str,
        status: str,
    ) -> bool:
        code = FAILURE_CODES.get(status, 200)
        body = json.dumps(
            {
                "code": code,
                "msg": "success" if code == 200 else f"fake failure: {status}",
                "data": {
                    "callbackType": stage,
                    "task_id": task.task_id,
                    "data": None
                    if stage == "error"
                    else ([] if stage == "text" else self.tracks_of(task, base_url, snake=True)),
                },
            }
        ).encode()
        for attempt in range(1, CALLBACK_ATTEMPTS + 1):
            stamp = str(int(self.clock.time()))
            headers = {
                "Content-Type": "application/json",
                webhooks.TIMESTAMP_HEADER: stamp,
                webhooks.SIGNATURE_HEADER: webhooks.sign(task.task_id, stamp, self.webhook_secret),
            }
            try:
                answer = await client.post(url, content=body, headers=headers)
                outcome = f"HTTP {answer.status_code}"
                delivered = answer.status_code == 200
            except httpx.HTTPError as exc:
                outcome, delivered = type(exc).__name__, False
            task.callbacks.append((stage, f"attempt {attempt}: {outcome}"))
            if delivered:
                return True
            await self.clock.asleep(self.callback_retry_delay * attempt)
        return False

    async def drain(self) -> None:
        """Wait until every callback in flight was delivered or given up."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel callbacks still in flight."""
        for job in list(self._background):
            job.cancel()
        await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- a real server on loopback ---------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on a loopback port in a background thread; yields the base URL."""
        from ._server import serve_in_thread

        with serve_in_thread(self.app, host, port) as base_url:
            yield base_url


def _snake(fields: dict[str, Any]) -> dict[str, Any]:
    renamed = {_spec.snake_case(k): v for k, v in fields.items()}
    renamed["createTime"] = renamed.pop("create_time")  # KIE keeps this one camelCase
    return renamed


def _envelope(
    code: int,
    msg: str,
    data: Any = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "msg": msg, "data": data}, status_code=status, headers=headers
    )


def _upload_envelope(code: int, msg: str, data: Any = None) -> JSONResponse:
    return JSONResponse({"success": code == 200, "code": code, "msg": msg, "data": data})


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost is never resolved: no network traffic
