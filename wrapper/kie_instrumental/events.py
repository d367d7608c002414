"""What the clients and receivers do, as typed events for your own hooks.

    from kie_instrumental import KieClient
    from kie_instrumental.events import Event, RetryScheduled

    def on_event(event: Event) -> None:
        if isinstance(event, RetryScheduled):
            print(f"retrying {event.operation} in {event.delay:.1f}s: {event.reason}")

    client = KieClient(hooks=[on_event])

A hook is any callable taking one `Event`. It runs inline, on the thread or task making the
call, so keep it quick. A hook that raises never changes the call's result: the exception is
logged once per hook (on the `kie_instrumental` logger) and later ones are dropped. Events hold
no API key, no webhook secret, no headers and no request bodies; URLs carry no query string.
With no hooks (and the `kie_instrumental` logger below INFO), no event object is built.

Every event of one public call carries its `call_id`. `wait()` is one call: its polls are its
attempts (`RequestSent`/`RequestAnswered`, operation `wait`, attempt 1 of 1 each; a failed poll
that is tried again is a `RetryScheduled`). `operation` is the public method's name
(`add_instrumental`, `get_task`, `wait`, `get_credits`, `upload_file`, `download`), `route` the
KIE route that served it (`"legacy"` or `"market"`; None when the call is not routed, such as
uploads and downloads). Times are seconds on the client's clock.

`kie_instrumental.otel` turns these events into OpenTelemetry spans and metrics.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = [
    "CallFinished",
    "CallStarted",
    "CallbackReceived",
    "CallbackRefused",
    "CallbackVerified",
    "DownloadFinished",
    "Event",
    "Hook",
    "RateLimitWait",
    "RequestAnswered",
    "RequestSent",
    "RetryScheduled",
    "TaskFinished",
    "TaskStatusChanged",
]


@attrs.frozen(kw_only=True)
class CallStarted:
    """A public call began (its arguments passed validation)."""

    call_id: int
    operation: str
    route: str | None
    task_id: str | None


@attrs.frozen(kw_only=True)
class CallFinished:
    """A public call returned (`error` None) or raised (`error`: the exception's class name).

    `credits` is the remaining balance when the call was `get_credits`; `error_code` the body
    code (or HTTP status) of an API error; `task_id` is set whenever one is known.
    """

    call_id: int
    operation: str
    route: str | None
    task_id: str | None
    elapsed: float
    error: str | None
    error_code: int | None = None
    credits: float | None = None


@attrs.frozen(kw_only=True)
class RequestSent:
    """One HTTP attempt is about to be sent: `attempt` counts from 1 up to at most `attempts`."""

    call_id: int
    operation: str
    route: str | None
    attempt: int
    attempts: int
    method: str
    url: str
    task_id: str | None


@attrs.frozen(kw_only=True)
class RequestAnswered:
    """One HTTP attempt ended. `status` is None when no answer came (`error` says why, e.g.
    `APITimeoutError`); `code` is the body code (KIE's envelope), or None without one."""

    call_id: int
    operation: str
    route: str | None
    attempt: int
    attempts: int
    method: str
    url: str
    task_id: str | None
    status: int | None
    code: int | None
    elapsed: float
    error: str | None


@attrs.frozen(kw_only=True)
class RetryScheduled:
    """Attempt `attempt` failed with a retryable error; the next one follows after `delay`.
    `reason` is the error's class name, `code` its body code or HTTP status when known."""

    call_id: int
    operation: str
    route: str | None
    attempt: int
    reason: str
    code: int | None
    delay: float
    task_id: str | None


@attrs.frozen(kw_only=True)
class RateLimitWait:
    """The client-side limiter holds a request back for `delay` seconds. `kind` is the budget
    it draws on (`create` or `poll`); `budget` is (requests, per seconds) when the limiter
    tells (the local one and `RedisRateLimit` do)."""

    call_id: int
    operation: str
    route: str | None
    kind: str
    budget: tuple[int, float] | None
    delay: float


@attrs.frozen(kw_only=True)
class TaskStatusChanged:
    """A poll of `wait()` saw a new status (`previous` None on the first poll)."""

    call_id: int
    task_id: str
    route: str | None
    previous: str | None
    status: str


@attrs.frozen(kw_only=True)
class TaskFinished:
    """`wait()` ended: `outcome` is `succeeded`, `failed` or `timed_out`; `duration` the
    seconds the wait took; `tracks` the number of tracks on the last details."""

    call_id: int
    task_id: str
    route: str | None
    status: str
    outcome: str
    duration: float
    tracks: int
    error_code: int | None = None


@attrs.frozen(kw_only=True)
class CallbackReceived:
    """A receiver got a callback (before any check; `stage` and `task_id` only as claimed)."""

    task_id: str | None
    stage: str | None


@attrs.frozen(kw_only=True)
class CallbackVerified:
    """The callback passed the signature check (and the confirmation, when configured)."""

    task_id: str
    stage: str


@attrs.frozen(kw_only=True)
class CallbackRefused:
    """The callback was refused: `reason` says which check failed; `stage` as claimed."""

    task_id: str | None
    stage: str | None
    reason: str


@attrs.frozen(kw_only=True)
class DownloadFinished:
    """One track's audio is saved: `bytes` received from the network in `seconds`."""

    call_id: int
    task_id: str | None
    bytes: int
    seconds: float


Event = (
    CallStarted
    | CallFinished
    | RequestSent
    | RequestAnswered
    | RetryScheduled
    | RateLimitWait
    | TaskStatusChanged
    | TaskFinished
    | CallbackReceived
    | CallbackVerified
    | CallbackRefused
    | DownloadFinished
)
Hook = Callable[[Event], object]
