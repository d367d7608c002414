"""The example receivers, Starlette and plain WSGI, as users deploy them: signed callbacks in,
200 / 401 / 500 / 503 out, duplicates processed once, failures processed again on redelivery. The
README shows the very files imported here."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from types import ModuleType
from typing import Any

import httpx
import pytest
from _callbacks import SECRET, callback, signed
from _records import record, suno_track
from _support import API_KEY, ROOT
from kie_instrumental import AsyncKieClient, CallbackEvent, ConfigurationError, KieClient
from kie_instrumental.receivers import CALLBACK_PATH, MAX_BODY, starlette_app, wsgi_app
from kie_instrumental.testing import FakeClock, FakeKie

FIELDS = {
    "upload_url": "https://me.example/vocals.mp3",
    "title": "Night Drive",
    "tags": "synthwave",
    "negative_tags": "metal",
    "callback_url": "https://me.example/kie/callback",
}
EXAMPLES = {
    "starlette": ROOT / "examples" / "starlette_receiver.py",
    "wsgi": ROOT / "examples" / "wsgi_receiver.py",
}


def load_example(kind: str, monkeypatch: pytest.MonkeyPatch, api: str, key: str) -> ModuleType:
    monkeypatch.setenv("KIE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("KIE_API_KEY", key)
    monkeypatch.setenv("KIE_BASE_URL", api)
    spec = importlib.util.spec_from_file_location(f"example_{kind}", EXAMPLES[kind])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Poster:
    """POSTs to an ASGI or WSGI app through httpx's in-process transports (one event loop for
    all the ASGI posts, as in a server)."""

    def __init__(self, kind: str, app: Any) -> None:
        self.kind = kind
        self.app = app
        self.runner = asyncio.Runner()

    def post(
        self, body: bytes, headers: dict[str, str], path: str = CALLBACK_PATH
    ) -> httpx.Response:
        if self.kind == "wsgi":
            with httpx.Client(
                transport=httpx.WSGITransport(app=self.app), base_url="http://receiver"
            ) as http:
                return http.post(path, content=body, headers=headers)

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://receiver"
            ) as http:
                return await http.post(path, content=body, headers=headers)

        return self.runner.run(go())


@pytest.fixture(params=["starlette", "wsgi"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_example_receivers(kind, monkeypatch):
    fake = FakeKie(callbacks="off")
    # The legacy route: the callbacks below are its stage callbacks.
    with fake.serve() as api, KieClient(api_key=fake.api_key, base_url=api, route="legacy") as kie:
        task_id = kie.add_instrumental(**FIELDS).task_id
        truth = kie.get_task(task_id).tracks
        example = load_example(kind, monkeypatch, api, fake.api_key)
        poster = Poster(kind, example.app)
        body, headers = signed(callback("complete", task_id=task_id))
        assert poster.post(body, headers).json() == {"detail": "ok"}
        assert poster.post(body, headers).json() == {"detail": "duplicate"}
        text_body, text_headers = signed(callback("text", task_id=task_id))
        assert poster.post(text_body, text_headers).status_code == 200
        forged = {**headers, "X-Webhook-Signature": "AAAA" + headers["X-Webhook-Signature"][4:]}
        assert poster.post(body, forged).status_code == 401
        stale_body, stale_headers = signed(callback("first", task_id=task_id), at=1_000_000_000)
        assert poster.post(stale_body, stale_headers).status_code == 401
        poster.runner.close()
    assert [(e.task_id, e.stage, e.confirmed) for e in example.received] == [
        (task_id, "complete", True),
        (task_id, "text", True),
    ]
    assert example.received[0].tracks == truth  # KIE's own, not the body's cdn.example URLs


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


def confirming_app(kind: str, handler: Any, transport: httpx.MockTransport, **options: Any) -> Any:
    if kind == "starlette":
        client: Any = AsyncKieClient(
            API_KEY, clock=FakeClock(), http_client=httpx.AsyncClient(transport=transport)
        )
        return starlette_app(SECRET, handler, confirm_with=client, **options)
    client = KieClient(API_KEY, clock=FakeClock(), http_client=httpx.Client(transport=transport))
    return wsgi_app(SECRET, handler, confirm_with=client, **options)


def test_receivers_with_confirmation_hand_over_kies_tracks_not_a_forged_body(kind):
    transport = httpx.MockTransport(lambda request: confirmed_details())
    processed: list[CallbackEvent] = []
    poster = Poster(kind, confirming_app(kind, processed.append, transport))
    genuine_body, captured = signed(callback("complete"))
    forged = callback(
        "complete", tracks=[{"id": "task-1-0", "audio_url": "https://evil.example/x.mp3"}]
    )
    assert poster.post(json.dumps(forged).encode(), captured).status_code == 200
    assert poster.post(genuine_body, captured).json() == {"detail": "duplicate"}
    assert [t.audio_url for t in processed[0].tracks] == [
        "https://cdn.example/task-1/0.mp3",
        "https://cdn.example/task-1/1.mp3",
    ]


def rate_limited() -> httpx.Response:
    return httpx.Response(429, json={"code": 429, "msg": "Too many requests", "data": None})


def maintenance() -> httpx.Response:
    return httpx.Response(200, json={"code": 455, "msg": "maintenance", "data": None})


def unreachable() -> httpx.Response:
    raise httpx.ConnectError("unreachable")


@pytest.mark.parametrize("failure", [rate_limited, maintenance, unreachable])
def test_a_confirmation_kie_cannot_answer_is_a_json_503_and_the_redelivery_is_processed(
    kind, failure
):
    failing = [True]

    def kie(request: httpx.Request) -> httpx.Response:
        return failure() if failing else confirmed_details()

    processed: list[CallbackEvent] = []
    poster = Poster(kind, confirming_app(kind, processed.append, httpx.MockTransport(kie)))
    body, headers = signed(callback("complete"))
    refused = poster.post(body, headers)
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/json")
    assert "could not confirm" in refused.json()["detail"]
    failing.clear()
    assert poster.post(body, headers).json() == {"detail": "ok"}
    assert len(processed) == 1 and processed[0].confirmed


def test_the_handler_reads_the_query_string_on_a_configured_path(kind):
    seen: list[CallbackEvent] = []
    path = "/hooks/kie"
    app = (
        starlette_app(SECRET, seen.append, path=path)
        if kind == "starlette"
        else wsgi_app(SECRET, seen.append, path=path)
    )
    poster = Poster(kind, app)
    body, headers = signed(callback("complete"))
    assert poster.post(body, headers, path=f"{path}?job=job-42&tenant=a%20b").status_code == 200
    assert poster.post(body, headers, path=CALLBACK_PATH).status_code == 404
    assert seen[0].query_params == {"job": "job-42", "tenant": "a b"}
    assert seen[0].query == "job=job-42&tenant=a%20b"


@pytest.mark.parametrize("secret", ["", "   ", None])
def test_an_empty_secret_refuses_to_start(kind, secret):
    factory = starlette_app if kind == "starlette" else wsgi_app
    with pytest.raises(ConfigurationError, match="secret"):
        factory(secret, lambda event: None)


@pytest.mark.parametrize("kind", ["starlette", "wsgi"])
def test_the_readme_shows_the_files_the_tests_import(kind):
    readme = (ROOT / "README.md").read_text()
    assert EXAMPLES[kind].read_text().strip() in readme


class RecordingStream:
    """A wsgi.input that counts what the app read from it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = len(self.data) - self.read_bytes if size < 0 else size
        chunk = self.data[self.read_bytes : self.read_bytes + size]
        self.read_bytes += len(chunk)
        return chunk


def call_wsgi(app: Any, body: bytes, headers: dict[str, str], **environ: Any) -> tuple[str, Any]:
    stream = RecordingStream(body)
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": CALLBACK_PATH,
        "QUERY_STRING": "",
        "wsgi.input": stream,
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
        **environ,
    }
    statuses: list[str] = []
    payload = b"".join(app(env, lambda status, headers: statuses.append(status)))
    return statuses[0], (json.loads(payload), stream.read_bytes)


def test_a_wsgi_body_is_bounded_before_anything_else_whatever_its_framing():
    handled: list[CallbackEvent] = []
    app = wsgi_app(SECRET, handled.append)
    body, headers = signed(callback("complete"))
    huge = b"x" * (MAX_BODY * 3)
    # A declared length above the limit: refused unread, before the signature is looked at.
    status, (answer, read) = call_wsgi(app, huge, {}, CONTENT_LENGTH=str(len(huge)))
    assert status.startswith("413") and read == 0, answer
    # No length, the server marks the stream's end (gunicorn, chunked): read up to the limit.
    status, (answer, read) = call_wsgi(app, huge, headers, **{"wsgi.input_terminated": True})
    assert status.startswith("413") and read <= MAX_BODY + 64 * 1024
    status, (answer, read) = call_wsgi(app, body, headers, **{"wsgi.input_terminated": True})
    assert status.startswith("200") and answer == {"detail": "ok"}
    # A length that lies low: only that many bytes are read.
    status, (answer, read) = call_wsgi(app, body + huge, headers, CONTENT_LENGTH=str(len(body)))
    assert answer == {"detail": "duplicate"} and read == len(body)
    assert len(handled) == 1


def test_the_receivers_need_only_their_framework():
    """The `starlette` extra carries Starlette alone: the receivers work with the fake server's
    other packages (uvicorn, python-multipart) impossible to import."""
    script = """
import asyncio, sys, httpx
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("uvicorn", "multipart", "python_multipart"):
            raise ModuleNotFoundError(name + " is not installed", name=name)
sys.meta_path.insert(0, Absent())
sys.path.insert(0, sys.argv[1])
from _callbacks import SECRET, callback, signed
from kie_instrumental.receivers import CALLBACK_PATH, starlette_app, wsgi_app
body, headers = signed(callback("complete"))
async def post():
    transport = httpx.ASGITransport(app=starlette_app(SECRET, print))
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        return (await http.post(CALLBACK_PATH, content=body, headers=headers)).status_code
wsgi = httpx.Client(transport=httpx.WSGITransport(app=wsgi_app(SECRET, print)), base_url="http://r")
print(asyncio.run(post()), wsgi.post(CALLBACK_PATH, content=body, headers=headers).status_code)
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "contract_tests")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["200", "200"]
