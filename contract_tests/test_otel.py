"""kie_instrumental.otel: spans per public call with one CLIENT child span per HTTP attempt
(OpenTelemetry's HTTP attribute names), retries and status changes as span events, and the
metrics, read back through the OpenTelemetry SDK's in-memory exporter and reader."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx
from _callbacks import SECRET, callback, signed
from _records import record, suno_track
from _support import API_KEY, CREATE_PATH, CREDIT_PATH, RECORD_PATH, ROOT, VALID_FIELDS
from kie_instrumental import APIConnectionError, ServerError, TaskFailedError, webhooks
from kie_instrumental.otel import OpenTelemetryHook
from kie_instrumental.webhooks import Deduplicator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
CREATED = {"code": 200, "msg": "success", "data": {"taskId": "task-1"}}
SERVER_ERROR = httpx.Response(200, json={"code": 500, "msg": "busy"})


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.hook = OpenTelemetryHook(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[self.reader]),
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name == name]

    def points(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


def test_a_task_becomes_a_tree_of_spans_with_http_attributes(
    make_client, mock_api, telemetry, tmp_path
):
    client = make_client(hooks=[telemetry.hook], allow_private_downloads=True)
    mock_api.post(CREATE_PATH).respond(200, json=CREATED)
    mock_api.get(RECORD_PATH).mock(
        side_effect=[
            SERVER_ERROR,
            record("PENDING"),
            record("SUCCESS", [suno_track(0), suno_track(1)]),
        ]
    )
    task = client.add_instrumental(**VALID_FIELDS)
    details = client.wait(task.task_id)
    with respx.mock() as cdn:
        cdn.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
        client.download(details, tmp_path)

    (create,) = telemetry.named("kie add_instrumental")
    assert create.kind == SpanKind.INTERNAL and create.parent is None
    assert create.attributes["kie.route"] == "legacy"
    assert create.attributes["kie.task_id"] == "task-1"
    (post,) = [s for s in telemetry.named("POST") if s.parent.span_id == create.context.span_id]
    assert post.kind == SpanKind.CLIENT
    assert dict(post.attributes) == {
        "http.request.method": "POST",
        "url.full": "https://api.kie.ai/api/v1/generate/add-instrumental",
        "server.address": "api.kie.ai",
        "server.port": 443,
        "kie.operation": "add_instrumental",
        "kie.attempt": 1,
        "kie.route": "legacy",
        "http.response.status_code": 200,
        "kie.body_code": 200,
    }

    (wait,) = telemetry.named("kie wait")
    polls = [s for s in telemetry.named("GET") if s.parent.span_id == wait.context.span_id]
    assert len(polls) == 3
    failed, *answered = sorted(polls, key=lambda s: s.start_time)
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "ServerError"
    assert failed.attributes["kie.body_code"] == 500
    assert failed.attributes["url.full"] == "https://api.kie.ai/api/v1/generate/record-info"
    assert "http.request.resend_count" not in failed.attributes  # a poll is no resend
    assert all(s.status.status_code == StatusCode.UNSET for s in answered)
    (retry,) = [e for e in wait.events if e.name == "kie.retry"]
    assert retry.attributes["kie.retry.reason"] == "ServerError"
    assert retry.attributes["kie.retry.delay"] > 0
    changes = [
        e.attributes["kie.task.status"] for e in wait.events if e.name == "kie.task.status_changed"
    ]
    assert changes == ["PENDING", "SUCCESS"]
    assert wait.attributes["kie.task.outcome"] == "succeeded"
    assert wait.attributes["kie.task.tracks"] == 2
    downloads = telemetry.named("kie download")
    assert [s.attributes["kie.download.size"] for s in downloads] == [len(MP3)] * 2
    assert all(s.status.status_code == StatusCode.UNSET for s in (create, wait, *downloads))

    points = telemetry.points()
    requests = {
        (p.attributes["kie.operation"], p.attributes["kie.outcome"]): p.value
        for p in points["kie.client.requests"]
    }
    assert requests == {
        ("add_instrumental", "ok"): 1,
        ("wait", "error"): 1,
        ("wait", "ok"): 2,
        ("download", "ok"): 2,
    }
    durations = {p.attributes["kie.operation"]: p.count for p in points["kie.client.call.duration"]}
    assert durations == {"add_instrumental": 1, "wait": 1, "download": 2}
    (retries,) = points["kie.client.retries"]
    assert retries.value == 1 and retries.attributes["kie.retry.reason"] == "ServerError"
    (tasks,) = points["kie.tasks.finished"]
    assert tasks.value == 1
    assert tasks.attributes == {
        "kie.task.status": "SUCCESS",
        "kie.task.outcome": "succeeded",
        "kie.route": "legacy",
    }
    (task_duration,) = points["kie.task.duration"]
    assert task_duration.count == 1 and task_duration.sum > 0
    assert points["kie.downloads.size"][0].value == 2 * len(MP3)


def test_failures_rate_limits_and_credits_become_metrics(make_client, mock_api, telemetry):
    client = make_client(hooks=[telemetry.hook], rate_limit=(1, 10.0), max_retries=0)
    balances = iter([100.0, 88.0, 76.0])
    mock_api.get(CREDIT_PATH).mock(
        side_effect=lambda r: httpx.Response(
            200, json={"code": 200, "msg": "success", "data": next(balances)}
        )
    )
    mock_api.get(RECORD_PATH).mock(
        side_effect=[SERVER_ERROR, record("GENERATE_AUDIO_FAILED", error_code=501)]
    )
    for _ in range(3):
        client.get_credits()
    with pytest.raises(ServerError):
        client.get_task("task-1")
    with pytest.raises(TaskFailedError):
        client.wait("task-1")

    points = telemetry.points()
    assert points["kie.credits.remaining"][0].value == 76.0
    assert points["kie.credits.spent"][0].value == 24.0
    waits = points["kie.client.rate_limit.wait"]
    assert sum(p.count for p in waits) == 4
    assert 30.0 <= sum(p.sum for p in waits) <= 40.0  # each 10 s, less the time between
    (failed_task,) = points["kie.tasks.finished"]
    assert failed_task.attributes["kie.task.outcome"] == "failed"
    assert failed_task.attributes["kie.task.status"] == "GENERATE_AUDIO_FAILED"
    errors = [
        p for p in points["kie.client.call.duration"] if p.attributes["kie.outcome"] == "error"
    ]
    assert {p.attributes["error.type"] for p in errors} == {"ServerError", "TaskFailedError"}

    (get_task,) = [s for s in telemetry.named("kie get_task") if s.parent is None]
    assert get_task.status.status_code == StatusCode.ERROR
    assert get_task.attributes["error.type"] == "ServerError"
    (wait,) = telemetry.named("kie wait")
    assert wait.status.status_code == StatusCode.ERROR
    assert wait.attributes["kie.task.outcome"] == "failed"
    credits = telemetry.named("kie get_credits")
    assert [s.attributes["kie.credits.remaining"] for s in credits] == [100.0, 88.0, 76.0]
    rate_events = [e for s in telemetry.finished() for e in s.events if "rate_limit" in e.name]
    assert len(rate_events) == 4
    assert rate_events[0].attributes["kie.rate_limit.requests"] == 1


def test_a_call_span_is_a_child_of_the_callers_span(make_client, mock_api, telemetry):
    tracer = telemetry.hook._tracer
    mock_api.get(CREDIT_PATH).respond(200, json={"code": 200, "msg": "success", "data": 1})
    client = make_client(hooks=[telemetry.hook])
    with tracer.start_as_current_span("my service") as outer:
        client.get_credits()
    (call,) = telemetry.named("kie get_credits")
    assert call.parent.span_id == outer.get_span_context().span_id
    assert call.context.trace_id == outer.get_span_context().trace_id


def test_the_key_and_signed_urls_appear_in_no_event_span_metric_or_log(
    make_client, mock_api, telemetry, caplog, tmp_path
):
    """Searched, not assumed: every event's repr, every span's name, attributes, events and
    status, every metric label, every log record's message and fields (extra included)."""
    signature = "sig-0123456789-SIGNED"
    events: list[Any] = []
    client = make_client(
        hooks=[events.append, telemetry.hook], max_retries=1, allow_private_downloads=True
    )
    mock_api.post(CREATE_PATH).respond(200, json=CREATED)
    mock_api.get(RECORD_PATH).mock(
        side_effect=[
            # A transport error that echoes the request's headers in its message.
            httpx.ConnectError(f"refused: Authorization: Bearer {API_KEY}"),
            record(
                "SUCCESS",
                [
                    suno_track(
                        0, audioUrl=f"https://u:{signature}@cdn.example/0.mp3?sig={signature}"
                    )
                ],
            ),
        ]
    )
    mock_api.get(CREDIT_PATH).mock(side_effect=httpx.ConnectError(f"Bearer {API_KEY}"))
    with caplog.at_level(logging.DEBUG, logger="kie_instrumental"):
        task = client.add_instrumental(**VALID_FIELDS)
        details = client.wait(task.task_id)
        with respx.mock() as cdn:
            cdn.get(url__startswith="https://cdn.example/").respond(200, content=MP3)
            client.download(details, tmp_path)
        with pytest.raises(APIConnectionError):
            client.get_credits()

    texts = [repr(event) for event in events]
    for span in telemetry.finished():
        texts += [span.name, repr(dict(span.attributes)), repr(span.status.description)]
        texts += [f"{e.name} {dict(e.attributes)}" for e in span.events]
    texts += [repr(dict(p.attributes)) for ps in telemetry.points().values() for p in ps]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(vars(record)) for record in caplog.records]
    assert len(events) > 20 and caplog.records and telemetry.finished()
    assert any("cdn.example/0.mp3" in text for text in texts)  # the URL is there, unsigned
    for secret in (API_KEY, signature):
        assert [text for text in texts if secret in text] == []


def test_the_console_example_prints_the_spans_and_metrics_of_a_whole_task():
    done = subprocess.run(
        [sys.executable, "-m", "examples.otel_console"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = done.stdout
    for name in ("kie add_instrumental", "kie wait", "kie download", "kie get_credits", "GET"):
        assert f'"name": "{name}"' in out
    for metric in ("kie.client.requests", "kie.tasks.finished", "kie.credits.spent"):
        assert f'"name": "{metric}"' in out
    assert '"kie.task.outcome": "succeeded"' in out
    assert "fake-kie-key" not in out and "fake-kie-key" not in done.stderr


def test_callbacks_become_span_events_and_a_bounded_counter(telemetry):
    tracer = telemetry.hook._tracer
    seen = Deduplicator()
    genuine, headers = signed(callback("complete"))
    _, wrong = signed(callback("complete"), secret="not-the-secret")
    flood = [signed(callback(f"stage-{n}")) for n in range(5)]
    with tracer.start_as_current_span("POST /kie/callback") as server:
        for body, head in [(genuine, headers), (genuine, wrong), *flood]:
            webhooks.receive(body, head, SECRET, lambda e: None, dedup=seen, hooks=[telemetry.hook])
    (span,) = telemetry.named("POST /kie/callback")
    assert span.context.span_id == server.get_span_context().span_id
    names = [e.name for e in span.events]
    assert names[:4] == [
        "kie.callback.received",
        "kie.callback.verified",
        "kie.callback.received",
        "kie.callback.refused",
    ]
    refused = span.events[3].attributes
    assert refused["kie.callback.reason"] == "signature does not match"
    assert refused["kie.task_id"] == "task-1"
    counts = {
        (p.attributes["kie.callback.result"], p.attributes["kie.callback.stage"]): p.value
        for p in telemetry.points()["kie.callbacks"]
    }
    assert counts == {
        ("received", "complete"): 2,
        ("verified", "complete"): 1,
        ("refused", "complete"): 1,
        ("received", "other"): 5,  # unknown stages share one label
        ("refused", "other"): 5,
    }
    texts = [repr(dict(e.attributes)) for e in span.events]
    texts += [repr(dict(p.attributes)) for ps in telemetry.points().values() for p in ps]
    assert [text for text in texts if SECRET in text] == []
