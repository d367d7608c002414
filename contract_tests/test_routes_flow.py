"""One flow suite, run on both routes (market and legacy), sync and async, against FakeKie on a
real loopback port: create, wait, failure, download, and callbacks verified by a receiver on
its own port and de-duplicated. The routes differ only in the parameters below."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _callbacks import stdlib_signature
from kie_instrumental import (
    AsyncKieClient,
    InvalidRequestError,
    KieClient,
    NotFoundError,
    PollSchedule,
    TaskFailedError,
)
from kie_instrumental.receivers import CALLBACK_PATH, starlette_app
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread

SECRET = "whsec-routes"
FIELDS = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "Night Drive",
    "tags": "synthwave",
    "negative_tags": "",
}
FAST = PollSchedule(first=0.05, factor=1.0, cap=0.05)
# What each route's callbacks look like for one task (KIE documents stages only on legacy).
STAGES = {"legacy": ["text", "first", "complete"], "market": ["complete"]}
FAILED_STAGES = {"legacy": ["error"], "market": ["error"]}  # a failure sends only `error`
TASK_ID_FIELD = {"legacy": "task_id", "market": "taskId"}


class Facade:
    """Sync and async clients behind one interface (the async one runs on its own loop)."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.kind = kind
        if kind == "sync":
            self.client: Any = KieClient(**options)
        else:
            self.loop = asyncio.new_event_loop()
            self.client = AsyncKieClient(**options)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if self.kind == "sync":
            return method
        return lambda *a, **k: self.loop.run_until_complete(method(*a, **k))

    def close(self) -> None:
        if self.kind == "sync":
            self.client.close()
        else:
            self.loop.run_until_complete(self.client.close())
            self.loop.close()


class Receiver:
    """A Starlette receiver on a loopback port, confirming each event with KIE (so that it
    de-duplicates per task and stage, whatever the delivery); the handler records
    (task id, stage)."""

    def __init__(self, confirm_with: AsyncKieClient) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

        def handler(event: Any) -> None:
            with self.lock:
                self.events.append((event.task_id, event.stage))

        inner = starlette_app(SECRET, handler, confirm_with=confirm_with)
        self.raw: list[bytes] = []  # every body received, as KIE's stand-in sent it

        async def app(scope: Any, receive: Any, send: Any) -> None:
            chunks: list[bytes] = []

            async def recording() -> Any:
                message = await receive()
                if message["type"] == "http.request":
                    chunks.append(message.get("body", b""))
                return message

            await inner(scope, recording if scope["type"] == "http" else receive, send)
            if scope["type"] == "http":
                with self.lock:
                    self.raw.append(b"".join(chunks))

        self.app = app

    def stages(self, task_id: str) -> list[str]:
        with self.lock:
            return [stage for tid, stage in self.events if tid == task_id]

    def wait_for(self, task_id: str, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.stages(task_id)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.stages(task_id)


@pytest.fixture(params=["market", "legacy"])
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(route: str, kind: str) -> Iterator[tuple[FakeKie, Facade, Receiver, str]]:
    fake = FakeKie(stage_seconds=0.15, webhook_secret=SECRET, rate_limit=None)
    with fake.serve() as api:
        # The receiver confirms on the route the event came from (CallbackEvent.route). Its
        # client runs on the receiver's own event loop: no pooled connections to leave behind.
        unpooled = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
        confirmer = AsyncKieClient(
            fake.api_key, base_url=api, rate_limit=None, http_client=unpooled
        )
        receiver = Receiver(confirmer)
        client = Facade(
            kind,
            api_key=fake.api_key,
            base_url=api,
            upload_base_url=api,
            route=route,
            rate_limit=None,
            poll_schedule=FAST,
        )
        try:
            with serve_in_thread(receiver.app) as hook:
                yield fake, client, receiver, hook + CALLBACK_PATH
        finally:
            client.close()


def test_create_wait_download(world, route, tmp_path):
    fake, client, _, hook = world
    task = client.add_instrumental(**FIELDS, callback_url=hook, model="V6")
    assert task.route == route and fake.tasks[task.task_id].route == route
    seen: list[str] = []
    details = client.wait(task, timeout=20, on_progress=lambda d: seen.append(d.raw_status))
    assert (details.task_id, details.route, details.status) == (task.task_id, route, "SUCCESS")
    assert details.succeeded and len(details.tracks) == 2
    assert seen[-1] == ("success" if route == "market" else "SUCCESS")
    files = client.download(details, tmp_path)
    assert len(files) == 2
    for path, track in zip(files, details.tracks, strict=True):
        with wave.open(io.BytesIO(path.read_bytes())) as audio:
            assert audio.getnframes() > 0
        assert track.duration and track.duration > 0
    # The V6 request reached the fake on this route.
    sent = fake.tasks[task.task_id].request
    assert (sent["input"] if route == "market" else sent)["model"] == "V6"


def test_a_failed_task_raises_with_its_id(world, route):
    fake, client, receiver, hook = world
    fake.fail_next_task("GENERATE_AUDIO_FAILED")
    task = client.add_instrumental(**FIELDS, callback_url=hook)
    with pytest.raises(TaskFailedError) as caught:
        client.wait(task, timeout=20)
    error = caught.value
    assert (error.task_id, error.status, error.error_code) == (
        task.task_id,
        "GENERATE_AUDIO_FAILED",
        501,
    )
    assert receiver.wait_for(task.task_id, len(FAILED_STAGES[route])) == FAILED_STAGES[route]


def test_callbacks_are_verified_and_deduplicated(world, route):
    _, client, receiver, hook = world
    task = client.add_instrumental(**FIELDS, callback_url=hook)
    client.wait(task, timeout=20)
    assert receiver.wait_for(task.task_id, len(STAGES[route])) == STAGES[route]
    # KIE may deliver again: the same signed callback is answered 200 and handled once.
    # The final callback exactly as delivered, once its delivery was answered (the handler's
    # run is then complete, so a redelivery is a duplicate rather than one still running).
    deadline = time.monotonic() + 10
    while len(receiver.raw) < len(STAGES[route]) and time.monotonic() < deadline:
        time.sleep(0.02)
    body = receiver.raw[-1]
    assert json.loads(body)["data"][TASK_ID_FIELD[route]] == task.task_id
    stamp = str(int(time.time()))
    headers = {
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": stdlib_signature(task.task_id, stamp, SECRET),
        "Content-Type": "application/json",
    }
    again = httpx.post(hook, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["detail"] == "duplicate"
    forged = httpx.post(
        hook, content=body, headers={**headers, "X-Webhook-Signature": "AAAA" + "=" * 40}
    )
    assert forged.status_code == 401
    assert receiver.stages(task.task_id) == STAGES[route]


def test_a_task_is_read_on_its_own_route(world, route):
    fake, client, _, hook = world
    task = client.add_instrumental(**FIELDS, callback_url=hook)
    other = "legacy" if route == "market" else "market"
    by_task = client.get_task(task)
    by_id = client.get_task(task.task_id, route=route)
    assert (by_task.task_id, by_task.route) == (by_id.task_id, by_id.route) == (task.task_id, route)
    with pytest.raises(NotFoundError) as caught:
        client.get_task(task.task_id, route=other)
    assert caught.value.task_id == task.task_id
    before = len(fake.requests)
    with pytest.raises(InvalidRequestError, match="created on the") as refused:
        client.get_task(task, route=other)
    assert refused.value.field == "route" and len(fake.requests) == before


def test_events_name_the_route_that_served_each_call(route, kind, tmp_path):
    """Observability on both routes: every routed call, request and status change is named
    after the route that served it, with that route's own paths and states."""
    from kie_instrumental import events as ev

    seen: list[Any] = []
    fake = FakeKie(stage_seconds=0.15, rate_limit=None)
    with fake.serve() as api:
        client = Facade(
            kind,
            api_key=fake.api_key,
            base_url=api,
            upload_base_url=api,
            route=route,
            rate_limit=None,
            poll_schedule=FAST,
            hooks=[seen.append],
        )
        try:
            task = client.add_instrumental(**FIELDS, callback_url=api + "/nowhere", model="V6")
            client.wait(task, timeout=20)
        finally:
            client.close()
    started = [(e.operation, e.route) for e in seen if isinstance(e, ev.CallStarted)]
    assert started == [("add_instrumental", route), ("wait", route)]
    paths = {
        "market": ("/api/v1/jobs/createTask", "/api/v1/jobs/recordInfo"),
        "legacy": ("/api/v1/generate/add-instrumental", "/api/v1/generate/record-info"),
    }[route]
    answered = [e for e in seen if isinstance(e, ev.RequestAnswered)]
    assert answered[0].url == api + paths[0] and answered[0].route == route
    assert {e.url for e in answered[1:]} == {api + paths[1]}
    assert {e.route for e in answered} == {route}
    changes = [e for e in seen if isinstance(e, ev.TaskStatusChanged)]
    assert changes and {(e.task_id, e.route) for e in changes} == {(task.task_id, route)}
    (finished,) = [e for e in seen if isinstance(e, ev.TaskFinished)]
    assert (finished.task_id, finished.status, finished.outcome) == (
        task.task_id,
        "SUCCESS",
        "succeeded",
    )
