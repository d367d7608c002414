"""FakeKie behaves like KIE: auth, validation answered in the envelope, rate limit, the
lifecycle on a configurable clock, credits, uploads, audio it serves, signed callbacks tried
3 times, fault injection, loopback-only callbacks by default; in-process and on a real port."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import wave
from typing import Any

import httpx
import pytest
from _callbacks import stdlib_signature
from kie_instrumental import (
    AsyncKieClient,
    InsufficientCreditsError,
    InvalidRequestError,
    KieClient,
    RateLimitError,
    ServiceUnavailableError,
    TaskFailedError,
)
from kie_instrumental.receivers import CALLBACK_PATH, starlette_app
from kie_instrumental.testing import FakeClock, FakeKie
from kie_instrumental.testing._server import serve_app

FIELDS = {
    "upload_url": "https://example.com/v.mp3",
    "title": "T",
    "tags": "x",
    "negative_tags": "",
    "callback_url": "https://example.com/cb",
}


def run(coro_factory):
    """Run an async scenario against a fresh in-process fake; returns what it returns."""
    return asyncio.run(coro_factory())


def in_process(fake: FakeKie, **options: Any) -> AsyncKieClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    options.setdefault("rate_limit", None)
    options.setdefault("clock", FakeClock())
    options.setdefault("route", "legacy")  # this module covers the legacy route's behaviour
    return AsyncKieClient(
        fake.api_key,
        base_url="http://fake.kie",
        upload_base_url="http://fake.kie",
        http_client=http,
        **options,
    )


def test_auth_is_required():
    fake = FakeKie()

    async def scenario():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake.app), base_url="http://fake.kie"
        ) as http:
            return [
                await http.get("/api/v1/chat/credit", headers=h)
                for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"})
            ]

    for response in run(scenario):
        assert response.status_code == 401 and response.json()["code"] == 401


def test_validation_is_answered_like_kie_with_http_200_and_code_422():
    fake = FakeKie(rate_limit=None, credits=None, callbacks="off")

    async def scenario():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake.app), base_url="http://fake.kie"
        ) as http:
            auth = {"Authorization": f"Bearer {fake.api_key}"}
            body = {
                "uploadUrl": "https://a.b/c",
                "title": "t",
                "tags": "x",
                "negativeTags": "",
                "callBackUrl": "https://a.b/cb",
            }
            bad = await http.post(
                "/api/v1/generate/add-instrumental",
                headers=auth,
                json={**body, "styleWeight": 0.615},
            )
            missing = await http.post(
                "/api/v1/generate/add-instrumental",
                headers=auth,
                json={k: v for k, v in body.items() if k != "callBackUrl"},
            )
            good = [
                await http.post(
                    "/api/v1/generate/add-instrumental",
                    headers=auth,
                    json={**body, "styleWeight": n / 100},
                )
                for n in range(101)
            ]
            return bad, missing, good

    bad, missing, good = run(scenario)
    assert bad.status_code == 200 and bad.json()["code"] == 422
    assert bad.json()["msg"].startswith("styleWeight: must be a multiple of 0.01")
    assert missing.json()["code"] == 422 and "callBackUrl" in missing.json()["msg"]
    assert [r.json()["msg"] for r in good] == ["success"] * 101  # every 2-decimal weight


def test_rate_limit_answers_http_429_above_20_per_10_seconds():
    clock = FakeClock()
    fake = FakeKie(clock=clock)

    async def scenario():
        client = in_process(fake, max_retries=0)
        for _ in range(20):
            await client.get_credits()
        with pytest.raises(RateLimitError) as caught:
            await client.get_credits()
        clock.advance(10)
        return caught.value, await client.get_credits()

    error, after = run(scenario)
    assert error.http_status == 429 and error.retry_after is not None and error.retry_after > 0
    assert after == 1000.0


def test_the_lifecycle_follows_the_clock_and_credits_go_down():
    clock = FakeClock()
    fake = FakeKie(clock=clock, stage_seconds=5, callbacks="off")

    async def scenario():
        client = in_process(fake)
        task = await client.add_instrumental(**FIELDS)
        statuses = []
        for _ in range(4):
            details = await client.get_task(task.task_id)
            statuses.append(
                (
                    str(details.status),
                    len(details.tracks),
                    [t.audio_url != "" for t in details.tracks],
                )
            )
            clock.advance(5)
        return statuses, await client.get_credits()

    statuses, credits = run(scenario)
    assert statuses == [
        ("PENDING", 0, []),
        ("TEXT_SUCCESS", 0, []),
        ("FIRST_SUCCESS", 2, [True, False]),
        ("SUCCESS", 2, [True, True]),
    ]
    assert credits == 1000 - 12


def test_credits_run_out_with_code_402():
    fake = FakeKie(credits=20, task_cost=12, callbacks="off")

    async def scenario():
        client = in_process(fake)
        await client.add_instrumental(**FIELDS)
        with pytest.raises(InsufficientCreditsError):
            await client.add_instrumental(**FIELDS)

    run(scenario)


def test_tracks_are_real_playable_audio_served_by_the_fake(tmp_path):
    fake = FakeKie(callbacks="off", audio_seconds=2.0)

    async def scenario():
        client = in_process(fake)
        task = await client.add_instrumental(**FIELDS)
        details = await client.wait(task.task_id)
        return details, await client.download(details, tmp_path)

    details, paths = run(scenario)
    assert len(details.tracks) == 2 and len(paths) == 2
    for track, path in zip(details.tracks, paths, strict=True):
        with wave.open(io.BytesIO(path.read_bytes())) as audio:
            assert audio.getnchannels() == 1 and audio.getframerate() == 22_050
            frames = audio.readframes(audio.getnframes())
            assert audio.getnframes() / audio.getframerate() == track.duration == 2.0
        assert max(frames) > 0  # not silence
    assert paths[0].read_bytes() != paths[1].read_bytes()  # two different takes


def test_file_upload_is_served_back(tmp_path):
    fake = FakeKie()
    vocals = tmp_path / "vocals.wav"
    vocals.write_bytes(b"RIFF-vocals")

    async def scenario():
        client = in_process(fake)
        url = await client.upload_file(vocals, file_name="vocals.wav")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app)) as http:
            return url, (await http.get(url)).content

    url, content = run(scenario)
    assert "/uploads/kieai/" in url and url.endswith("/kie-instrumental/vocals.wav")
    assert content == b"RIFF-vocals"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"code": 455}, ServiceUnavailableError), ({"code": 422}, InvalidRequestError)],
)
def test_fault_injection_answers_the_next_requests(kwargs, error):
    fake = FakeKie()

    async def scenario():
        client = in_process(fake, max_retries=0)
        fake.fail_next(2, **kwargs)
        for _ in range(2):
            with pytest.raises(error):
                await client.get_credits()
        return await client.get_credits()

    assert run(scenario) == 1000.0


def test_raw_fault_bodies():
    fake = FakeKie()

    async def scenario():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake.app), base_url="http://fake.kie"
        ) as http:
            fake.fail_next(1, http_status=403, text="error code: 1010")
            return await http.get("/api/v1/chat/credit")

    response = run(scenario)
    assert (response.status_code, response.text) == (403, "error code: 1010")


@pytest.mark.parametrize("status", ["GENERATE_AUDIO_FAILED", "SENSITIVE_WORD_ERROR"])
def test_a_task_can_be_made_to_fail(status):
    fake = FakeKie(callbacks="off")
    fake.fail_next_task(status)

    async def scenario():
        client = in_process(fake)
        task = await client.add_instrumental(**FIELDS)
        with pytest.raises(TaskFailedError) as caught:
            await client.wait(task.task_id)
        return caught.value

    error = run(scenario)
    assert error.status == status and error.error_code in (400, 501)


# -- callbacks, on real loopback servers ------------------------------------------------------


class Receiver:
    """A loopback webhook receiver recording what it got; `fail` answers 500 instead."""

    def __init__(self, secret: str, fail: bool = False) -> None:
        self.events: list[str] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []
        self.fail = fail
        self.lock = threading.Lock()
        inner = starlette_app(secret, lambda e: self.events.append(e.stage))

        async def app(scope, receive, send):
            if scope["type"] == "http" and self.fail:
                await send({"type": "http.response.start", "status": 500, "headers": []})
                await send({"type": "http.response.body", "body": b"down"})
                return
            if scope["type"] == "http":
                messages = []

                async def replay():
                    return messages.pop(0) if messages else await receive()

                body = (await receive())["body"]
                headers = {k.decode(): v.decode() for k, v in scope["headers"]}
                self.raw.append((body, headers))
                messages.append({"type": "http.request", "body": body, "more_body": False})
                await inner(scope, replay, send)
                return
            await inner(scope, receive, send)

        self.app = app


def run_flow(fake: FakeKie, receiver: Receiver, *, fail_task: str | None = None) -> Any:
    with fake.serve() as api, serve_app(receiver.app) as hook:
        client = KieClient(
            fake.api_key, base_url=api, upload_base_url=api, rate_limit=None, route="legacy"
        )
        if fail_task:
            fake.fail_next_task(fail_task)
        task = client.add_instrumental(**{**FIELDS, "callback_url": hook + CALLBACK_PATH})
        try:
            details = (
                client.wait(task.task_id, timeout=30, request_timeout=5) if not fail_task else None
            )
        except TaskFailedError:
            details = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _finished(fake, task.task_id):
            time.sleep(0.05)
        return task, details


def _finished(fake: FakeKie, task_id: str) -> bool:
    stages = [stage for stage, _ in fake.tasks[task_id].callbacks]
    return (
        bool(stages)
        and stages[-1] in ("complete", "error")
        and (
            "HTTP 200" in fake.tasks[task_id].callbacks[-1][1]
            or sum(1 for s in stages if s == stages[-1]) == 3
        )
    )


def test_signed_callbacks_for_every_stage_reach_a_loopback_receiver():
    fake = FakeKie(stage_seconds=0.2, webhook_secret="whsec-fake")
    receiver = Receiver("whsec-fake")
    task, _ = run_flow(fake, receiver)
    assert receiver.events == ["text", "first", "complete"]
    body, headers = receiver.raw[-1]
    assert json.loads(body)["data"]["task_id"] == task.task_id
    assert headers["x-webhook-signature"] == stdlib_signature(
        task.task_id, headers["x-webhook-timestamp"], "whsec-fake"
    )


def test_a_failed_task_sends_an_error_callback():
    fake = FakeKie(stage_seconds=0.2, webhook_secret="whsec-fake")
    receiver = Receiver("whsec-fake")
    run_flow(fake, receiver, fail_task="GENERATE_AUDIO_FAILED")
    assert receiver.events == ["error"]  # a failure sends only the failure callback


def test_failed_deliveries_are_tried_3_times_then_callback_exception():
    fake = FakeKie(stage_seconds=0.1, callback_retry_delay=0.05)
    receiver = Receiver(fake.webhook_secret, fail=True)
    task, _ = run_flow(fake, receiver)
    attempts = [
        outcome for stage, outcome in fake.tasks[task.task_id].callbacks if stage == "complete"
    ]
    assert len(attempts) == 3 and all("HTTP 500" in a for a in attempts)
    with fake.serve() as api:
        details = KieClient(fake.api_key, base_url=api, route="legacy").get_task(task.task_id)
    assert details.status == "CALLBACK_EXCEPTION" and details.succeeded  # tracks exist


def test_callbacks_go_only_to_loopback_by_default_and_can_be_switched_off():
    for mode, url in (("loopback", "https://example.com/cb"), ("off", "http://127.0.0.1:9/cb")):
        fake = FakeKie(callbacks=mode)

        async def scenario(fake=fake, url=url):
            client = in_process(fake)
            task = await client.add_instrumental(**{**FIELDS, "callback_url": url})
            await fake.drain()
            return fake.tasks[task.task_id].callbacks

        assert run(scenario) == [("all", f"not sent ({mode} mode)")]


def test_the_fake_serves_on_a_real_loopback_port():
    fake = FakeKie()
    with fake.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with KieClient(fake.api_key, base_url=base_url, route="legacy") as client:
            assert client.get_credits() == 1000.0
    assert ("GET", "/api/v1/chat/credit") in fake.requests
