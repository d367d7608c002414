"""OpenTelemetry spans and metrics from the events (pip install 'kie-instrumental[otel]').

    from kie_instrumental import KieClient
    from kie_instrumental.otel import OpenTelemetryHook

    client = KieClient(hooks=[OpenTelemetryHook()])   # the global tracer and meter providers

Spans: one INTERNAL span per public call, named `kie <operation>` (`kie add_instrumental`,
`kie wait`, ...), a child of the span current when the call began; each HTTP attempt (each
poll of `wait()`) is a CLIENT child span named after its method, with
OpenTelemetry's HTTP client attributes (`http.request.method`, `url.full` without its query,
`server.address`, `server.port`, `http.response.status_code`, `http.request.resend_count`,
`error.type`) and `kie.body_code`. Retries, rate-limit waits and task status changes are span
events of the call's span; callbacks are span events of the span current in the receiver (your
web framework's server span, when it is instrumented).

Metrics (names, units, attributes): `kie.client.requests` {request} and
`kie.client.request.duration` s per HTTP attempt (`kie.operation`, `kie.route`, `kie.outcome`
ok|error, `error.type`, `http.response.status_code`); `kie.client.call.duration` s per public
call (same but the status); `kie.client.retries` {retry} (`kie.operation`, `kie.retry.reason`);
`kie.client.rate_limit.wait` s (`kie.operation`, `kie.rate_limit.kind` create|poll);
`kie.tasks.finished` {task} and
`kie.task.duration` s (`kie.task.status`, `kie.task.outcome` succeeded|failed|timed_out);
`kie.credits.remaining` {credit} (a gauge, set by each `get_credits()`) and `kie.credits.spent`
{credit} (the fall between two `get_credits()` readings seen by this hook: KIE reports no
price per task); `kie.downloads.size` By; `kie.callbacks` {callback} (`kie.callback.result`
received|verified|refused, `kie.callback.stage`: one KIE sends, else `other`; the refusal's
reason is an attribute of the span event, not a label).

No attribute or label holds the API key, the webhook secret, a header or a query string; task
ids appear on spans, never as metric labels (unbounded cardinality).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ._version import __version__
from .events import (
    CallbackReceived,
    CallbackRefused,
    CallbackVerified,
    CallFinished,
    CallStarted,
    DownloadFinished,
    Event,
    RateLimitWait,
    RequestAnswered,
    RequestSent,
    RetryScheduled,
    TaskFinished,
    TaskStatusChanged,
)

__all__ = ["OpenTelemetryHook"]

_SCOPE = "kie_instrumental"


class OpenTelemetryHook:
    """A hook (pass it in `hooks=[...]`) that records spans and metrics. One instance may
    serve several clients and receivers; it is safe to share between threads and tasks."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider)
        self._requests = meter.create_counter(
            "kie.client.requests", "{request}", "HTTP attempts sent to KIE"
        )
        self._request_duration = meter.create_histogram(
            "kie.client.request.duration", "s", "Duration of one HTTP attempt"
        )
        self._call_duration = meter.create_histogram(
            "kie.client.call.duration", "s", "Duration of one public call, retries included"
        )
        self._retries = meter.create_counter("kie.client.retries", "{retry}", "Retries scheduled")
        self._rate_wait = meter.create_histogram(
            "kie.client.rate_limit.wait", "s", "Time held back by the client-side rate limiter"
        )
        self._tasks = meter.create_counter("kie.tasks.finished", "{task}", "Tasks by final status")
        self._task_duration = meter.create_histogram(
            "kie.task.duration", "s", "How long wait() took until the task ended"
        )
        self._credits_remaining = meter.create_gauge(
            "kie.credits.remaining", "{credit}", "Credits left, per the last get_credits()"
        )
        self._credits_spent = meter.create_counter(
            "kie.credits.spent", "{credit}", "Fall of the balance between get_credits() readings"
        )
        self._download_size = meter.create_counter(
            "kie.downloads.size", "By", "Bytes of audio downloaded"
        )
        self._callbacks = meter.create_counter(
            "kie.callbacks", "{callback}", "Callbacks received, verified and refused"
        )
        self._calls: dict[int, Span] = {}
        self._attempts: dict[tuple[int, int], Span] = {}
        self._last_credits: float | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def __repr__(self) -> str:
        return "OpenTelemetryHook()"

    # -- calls -------------------------------------------------------------------------------

    def _call_started(self, event: CallStarted) -> None:
        attributes: dict[str, Any] = {"kie.operation": event.operation}
        if event.route:
            attributes["kie.route"] = event.route
        if event.task_id:
            attributes["kie.task_id"] = event.task_id
        # No context given: a child of the span current in the caller.
        span = self._tracer.start_span(
            f"kie {event.operation}", None, SpanKind.INTERNAL, attributes
        )
        self._calls[event.call_id] = span

    def _call_finished(self, event: CallFinished) -> None:
        span = self._calls.pop(event.call_id, None)
        labels = _labels(event.operation, event.route, event.error)
        self._call_duration.record(event.elapsed, labels)
        if event.credits is not None:
            self._record_credits(event.credits)
        if span is None:
            return
        if event.task_id:
            span.set_attribute("kie.task_id", event.task_id)
        if event.credits is not None:
            span.set_attribute("kie.credits.remaining", event.credits)
        if event.error is not None:
            span.set_attribute("error.type", event.error)
            if event.error_code is not None:
                span.set_attribute("kie.body_code", event.error_code)
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end()

    def _record_credits(self, remaining: float) -> None:
        with self._lock:
            previous, self._last_credits = self._last_credits, remaining
        self._credits_remaining.set(remaining)
        if previous is not None and remaining < previous:
            self._credits_spent.add(previous - remaining)

    # -- attempts ----------------------------------------------------------------------------

    def _request_sent(self, event: RequestSent) -> None:
        parent = self._calls.get(event.call_id)
        context = trace.set_span_in_context(parent) if parent is not None else None
        url = urlsplit(event.url)
        attributes: dict[str, Any] = {
            "http.request.method": event.method,
            "url.full": event.url,  # built without query or credentials (events.safe_url)
            "server.address": url.hostname or "",
            "kie.operation": event.operation,
            "kie.attempt": event.attempt,
        }
        port = url.port or {"https": 443, "http": 80}.get(url.scheme)
        if port is not None:
            attributes["server.port"] = port
        if event.attempt > 1:
            attributes["http.request.resend_count"] = event.attempt - 1
        if event.route:
            attributes["kie.route"] = event.route
        span = self._tracer.start_span(event.method, context, SpanKind.CLIENT, attributes)
        self._attempts[(event.call_id, event.attempt)] = span

    def _request_answered(self, event: RequestAnswered) -> None:
        labels = _labels(event.operation, event.route, event.error)
        labels["http.request.method"] = event.method
        if event.status is not None:
            labels["http.response.status_code"] = event.status
        self._requests.add(1, labels)
        self._request_duration.record(event.elapsed, labels)
        span = self._attempts.pop((event.call_id, event.attempt), None)
        if span is None:
            return
        if event.status is not None:
            span.set_attribute("http.response.status_code", event.status)
        if event.code is not None:
            span.set_attribute("kie.body_code", event.code)
        if event.error is not None:
            span.set_attribute("error.type", event.error)
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end()

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        self._retries.add(1, {"kie.operation": event.operation, "kie.retry.reason": event.reason})
        span = self._calls.get(event.call_id)
        if span is not None:
            attributes: dict[str, Any] = {
                "kie.attempt": event.attempt,
                "kie.retry.reason": event.reason,
                "kie.retry.delay": event.delay,
            }
            if event.code is not None:
                attributes["kie.body_code"] = event.code
            span.add_event("kie.retry", attributes)

    def _rate_limit_wait(self, event: RateLimitWait) -> None:
        labels = {"kie.operation": event.operation, "kie.rate_limit.kind": event.kind}
        self._rate_wait.record(event.delay, labels)
        span = self._calls.get(event.call_id)
        if span is not None:
            attributes: dict[str, Any] = {**labels, "kie.rate_limit.delay": event.delay}
            if event.budget is not None:
                attributes["kie.rate_limit.requests"] = event.budget[0]
                attributes["kie.rate_limit.period"] = event.budget[1]
            span.add_event("kie.rate_limit.wait", attributes)

    # -- tasks -------------------------------------------------------------------------------

    def _task_status_changed(self, event: TaskStatusChanged) -> None:
        span = self._calls.get(event.call_id)
        if span is not None:
            attributes = {"kie.task.status": event.status}
            if event.previous is not None:
                attributes["kie.task.previous_status"] = event.previous
            span.add_event("kie.task.status_changed", attributes)

    def _task_finished(self, event: TaskFinished) -> None:
        labels = {"kie.task.status": event.status, "kie.task.outcome": event.outcome}
        if event.route:
            labels["kie.route"] = event.route
        self._tasks.add(1, labels)
        self._task_duration.record(event.duration, labels)
        span = self._calls.get(event.call_id)
        if span is not None:
            span.set_attributes(
                {
                    "kie.task.status": event.status,
                    "kie.task.outcome": event.outcome,
                    "kie.task.tracks": event.tracks,
                }
            )

    def _download_finished(self, event: DownloadFinished) -> None:
        self._download_size.add(event.bytes)
        span = self._calls.get(event.call_id)
        if span is not None:
            span.set_attribute("kie.download.size", event.bytes)

    # -- callbacks ---------------------------------------------------------------------------

    def _callback(self, event: CallbackReceived | CallbackVerified | CallbackRefused) -> None:
        result = {
            CallbackReceived: "received",
            CallbackVerified: "verified",
            CallbackRefused: "refused",
        }[type(event)]
        # The stage is unsigned: a label only when it is one KIE sends (bounded cardinality).
        stage = event.stage if event.stage in _known_stages() else "other"
        labels = {"kie.callback.result": result, "kie.callback.stage": stage}
        self._callbacks.add(1, labels)
        attributes: dict[str, Any] = dict(labels)
        if event.stage is not None:
            attributes["kie.callback.stage"] = event.stage
        if isinstance(event, CallbackRefused):
            attributes["kie.callback.reason"] = event.reason
        if event.task_id is not None:
            attributes["kie.task_id"] = event.task_id
        trace.get_current_span().add_event(f"kie.callback.{result}", attributes)


def _known_stages() -> frozenset[str]:
    from .webhooks import known_stages

    return known_stages()


def _labels(operation: str, route: str | None, error: str | None) -> dict[str, Any]:
    labels: dict[str, Any] = {
        "kie.operation": operation,
        "kie.outcome": "ok" if error is None else "error",
    }
    if route:
        labels["kie.route"] = route
    if error is not None:
        labels["error.type"] = error
    return labels


_HANDLERS: dict[type[Any], Any] = {
    CallStarted: OpenTelemetryHook._call_started,
    CallFinished: OpenTelemetryHook._call_finished,
    RequestSent: OpenTelemetryHook._request_sent,
    RequestAnswered: OpenTelemetryHook._request_answered,
    RetryScheduled: OpenTelemetryHook._retry_scheduled,
    RateLimitWait: OpenTelemetryHook._rate_limit_wait,
    TaskStatusChanged: OpenTelemetryHook._task_status_changed,
    TaskFinished: OpenTelemetryHook._task_finished,
    DownloadFinished: OpenTelemetryHook._download_finished,
    CallbackReceived: OpenTelemetryHook._callback,
    CallbackVerified: OpenTelemetryHook._callback,
    CallbackRefused: OpenTelemetryHook._callback,
}
