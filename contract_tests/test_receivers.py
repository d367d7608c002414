"""The example receivers, Starlette and plain WSGI, as users deploy them: signed callbacks in,
200 / 401 / 500 out, duplicates processed once, failures processed again on redelivery. The
README shows the very files imported here."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from types import ModuleType
from typing import Any

import httpx
import pytest
from _callbacks import SECRET, callback, signed
from _records import record, suno_track
from _support import API_KEY, ROOT
from kie_instrumental import AsyncKieClient, CallbackEvent, KieClient
from kie_instrumental.receivers import CALLBACK_PATH, starlette_app, wsgi_app
from kie_instrumental.testing import FakeClock

EXAMPLES = {
    "starlette": ROOT / "examples" / "starlette_receiver.py",
    "wsgi": ROOT / "examples" / "wsgi_receiver.py",
}


def load_example(kind: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("KIE_WEBHOOK_SECRET", SECRET)
    spec = importlib.util.spec_from_file_location(f"example_{kind}", EXAMPLES[kind])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Poster:
    """POSTs to an ASGI or WSGI app through httpx's in-process transports."""

    def __init__(self, kind: str, app: Any) -> None:
        self.kind = kind
        self.app = app

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        if self.kind == "wsgi":
            with httpx.Client(
                transport=httpx.WSGITransport(app=self.app), base_url="http://receiver"
            ) as http:
                return http.post(CALLBACK_PATH, content=body, headers=headers)

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://receiver"
            ) as http:
                return await http.post(CALLBACK_PATH, content=body, headers=headers)

        return asyncio.run(go())


@pytest.fixture(params=["starlette", "wsgi"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_example_receivers(kind, monkeypatch):
    example = load_example(kind, monkeypatch)
    poster = Poster(kind, example.app)
    body, headers = signed(callback("complete"))
    assert poster.post(body, headers).status_code == 200
    assert poster.post(body, headers).json() == {"detail": "duplicate"}
    text_body, text_headers = signed(callback("text"))
    assert poster.post(text_body, text_headers).status_code == 200
    forged_headers = {**headers, "X-Webhook-Signature": "AAAA" + headers["X-Webhook-Signature"][4:]}
    assert poster.post(body, forged_headers).status_code == 401
    stale_body, stale_headers = signed(callback("first"), at=1_000_000_000)
    assert poster.post(stale_body, stale_headers).status_code == 401
    assert [(e.task_id, e.stage) for e in example.received] == [
        ("task-1", "complete"),
        ("task-1", "text"),
    ]


def test_a_failed_handler_answers_500_and_the_redelivery_is_processed(kind):
    processed: list[CallbackEvent] = []

    def flaky(event: CallbackEvent) -> None:
        if not processed and not getattr(flaky, "failed", False):
            flaky.failed = True  # type: ignore[attr-defined]
            raise RuntimeError("database down")
        processed.append(event)

    app = starlette_app(SECRET, flaky) if kind == "starlette" else wsgi_app(SECRET, flaky)
    poster = Poster(kind, app)
    body, headers = signed(callback("complete"))
    assert poster.post(body, headers).status_code == 500
    assert poster.post(body, headers).status_code == 200
    assert poster.post(body, headers).json() == {"detail": "duplicate"}
    assert len(processed) == 1


def test_wrong_path_and_method_on_the_wsgi_receiver():
    app = wsgi_app(SECRET, lambda e: None)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://r") as http:
        assert http.get(CALLBACK_PATH).status_code == 405
        assert http.post("/elsewhere").status_code == 404


def confirmed_details() -> httpx.Response:
    return record(
        "SUCCESS",
        [
            suno_track(n, id=f"task-1-{n}", audioUrl=f"https://cdn.example/task-1/{n}.mp3")
            for n in range(2)
        ],
        task_id="task-1",
    )


def test_receivers_with_confirmation_refuse_a_forged_body_under_a_replayed_signature(kind):
    transport = httpx.MockTransport(lambda request: confirmed_details())
    processed: list[CallbackEvent] = []
    if kind == "starlette":
        client: Any = AsyncKieClient(
            API_KEY, clock=FakeClock(), http_client=httpx.AsyncClient(transport=transport)
        )
        app = starlette_app(SECRET, processed.append, confirm_with=client)
    else:
        client = KieClient(
            API_KEY, clock=FakeClock(), http_client=httpx.Client(transport=transport)
        )
        app = wsgi_app(SECRET, processed.append, confirm_with=client)
    poster = Poster(kind, app)
    genuine_body, captured = signed(callback("complete"))
    forged = callback(
        "complete", tracks=[{"id": "task-1-0", "audio_url": "https://evil.example/x.mp3"}]
    )
    answer = poster.post(json.dumps(forged).encode(), captured)
    assert answer.status_code == 401 and "do not match" in answer.json()["detail"]
    assert poster.post(genuine_body, captured).status_code == 200
    assert [t.audio_url for t in processed[0].tracks] == [
        "https://cdn.example/task-1/0.mp3",
        "https://cdn.example/task-1/1.mp3",
    ]


@pytest.mark.parametrize("kind", ["starlette", "wsgi"])
def test_the_readme_shows_the_files_the_tests_import(kind):
    readme = (ROOT / "README.md").read_text()
    assert EXAMPLES[kind].read_text().strip() in readme
