"""Delivers events (kie_instrumental.events) to the user's hooks and to the logger, once.

The core holds one Emitter per client and asks `on` once per call: with no hooks and the
`kie_instrumental` logger below INFO it builds no event at all. A hook that raises is logged
once (WARNING) and never breaks the call. Log records carry the event's fields as `extra`
(`kie_event`, `kie_operation`, `kie_attempt`, ...) so JSON formatters pick them up.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from ._errors import ConfigurationError, TaskFailedError, WaitTimeoutError
from .events import (
    CallbackRefused,
    CallFinished,
    CallStarted,
    DownloadFinished,
    Event,
    Hook,
    RateLimitWait,
    RequestAnswered,
    RequestSent,
    RetryScheduled,
    TaskFinished,
    TaskStatusChanged,
)

if TYPE_CHECKING:
    from ._core import Failure, Operation, Reply
    from ._models import TaskDetails
    from ._ratelimit import Limiter, SlotLimiter

logger = logging.getLogger("kie_instrumental")

_call_ids = itertools.count(1)


def new_call_id() -> int:
    return next(_call_ids)  # atomic under the GIL: ids stay unique across threads


def safe_url(url: str) -> str:
    """The URL without credentials, query or fragment (signed CDN links keep theirs there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path


class Emitter:
    """The hooks of one client (or receiver) and the logger."""

    __slots__ = ("_failed", "_hooks", "_lock")

    def __init__(self, hooks: Iterable[Hook] | None = ()) -> None:
        if hooks is None:
            hooks = ()
        if isinstance(hooks, str | bytes) or not isinstance(hooks, Iterable):
            raise ConfigurationError(
                f"hooks must be a list of callables taking one event, got {type(hooks).__name__}"
            )
        self._hooks = tuple(hooks)
        for hook in self._hooks:
            if not callable(hook):
                raise ConfigurationError(
                    f"hooks must be callables taking one event, got {type(hook).__name__}"
                )
        self._failed: set[int] = set()
        self._lock = threading.Lock()

    @property
    def on(self) -> bool:
        """Whether anyone listens: hooks, or the logger at INFO or below."""
        return bool(self._hooks) or logger.isEnabledFor(logging.INFO)

    def emit(self, event: Event) -> None:
        log_event(event)
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                self._report(hook)

    def _report(self, hook: Hook) -> None:
        with self._lock:
            if id(hook) in self._failed:
                return
            self._failed.add(id(hook))
        logger.warning(
            "event hook %r raised; the call goes on, and later failures of this hook are not "
            "logged",
            hook,
            exc_info=True,
            extra={"kie_event": "hook_failed"},
        )


NO_EVENTS = Emitter()


class CallTrace:
    """The events of one public call, built by the core only when someone listens."""

    __slots__ = ("_clock", "call_id", "emit", "last", "op", "started")

    def __init__(self, emitter: Emitter, op: Operation[Any], clock: Any) -> None:
        self.emit = emitter.emit
        self.op = op
        self.call_id = new_call_id()
        self._clock = clock
        self.started: float = clock.monotonic()
        self.last: TaskDetails | None = None
        self.emit(
            CallStarted(
                call_id=self.call_id,
                operation=op.operation,
                route=op.route,
                task_id=op.task_id,
            )
        )

    def _attempt_fields(self, attempt: int, attempts: int) -> dict[str, Any]:
        op = self.op
        return {
            "call_id": self.call_id,
            "operation": op.operation,
            "route": op.route,
            "attempt": attempt,
            "attempts": attempts,
            "method": op.method,
            "url": op.url,
            "task_id": op.task_id,
        }

    def rate_limited(self, limiter: Limiter | SlotLimiter, kind: str, delay: float) -> None:
        budgets = getattr(limiter, "budgets", None)  # a shared limiter keeps one per kind
        if isinstance(budgets, dict):
            budget = budgets.get(kind)
        else:
            limit, period = getattr(limiter, "limit", None), getattr(limiter, "period", None)
            budget = (limit, period) if limit is not None and period is not None else None
        self.emit(
            RateLimitWait(
                call_id=self.call_id,
                operation=self.op.operation,
                route=self.op.route,
                kind=kind,
                budget=budget,
                delay=delay,
            )
        )

    def sent(self, attempt: int, attempts: int) -> None:
        self.emit(RequestSent(**self._attempt_fields(attempt, attempts)))

    def answered(
        self, attempt: int, attempts: int, outcome: Reply | Failure, error: BaseException | None
    ) -> None:
        status: int | None = getattr(outcome, "status", None)
        if error is not None:
            code: int | None = getattr(error, "code", None)
        else:
            code = None if self.op.stream_to is not None else 200
        self.emit(
            RequestAnswered(
                **self._attempt_fields(attempt, attempts),
                status=status,
                code=code,
                elapsed=outcome.elapsed,
                error=None if error is None else type(error).__name__,
            )
        )
        streamed = self.op.stream_to is not None
        if error is None and status is not None and 200 <= status <= 299 and streamed:
            self.emit(
                DownloadFinished(
                    call_id=self.call_id,
                    task_id=self.op.task_id,
                    bytes=getattr(outcome, "received", 0),
                    seconds=outcome.elapsed,
                )
            )

    def retrying(self, attempt: int, error: BaseException, delay: float) -> None:
        self.emit(
            RetryScheduled(
                call_id=self.call_id,
                operation=self.op.operation,
                route=self.op.route,
                attempt=attempt,
                reason=type(error).__name__,
                code=getattr(error, "code", None),
                delay=delay,
                task_id=self.op.task_id,
            )
        )

    def status_changed(self, previous: TaskDetails | None, details: TaskDetails) -> None:
        self.emit(
            TaskStatusChanged(
                call_id=self.call_id,
                task_id=details.task_id,
                route=self.op.route,
                previous=None if previous is None else str(previous.status),
                status=str(details.status),
            )
        )

    def task_finished(self, result: TaskDetails | BaseException) -> None:
        """The end of wait(): only a success, a failed task or a passed deadline end a task."""
        status: str | None
        if isinstance(result, TaskFailedError):
            outcome, status = "failed", result.status
        elif isinstance(result, WaitTimeoutError):
            outcome, status = "timed_out", result.last_status
        elif isinstance(result, BaseException):
            return
        else:
            outcome, status = "succeeded", str(result.status)
        last = self.last
        self.emit(
            TaskFinished(
                call_id=self.call_id,
                task_id=self.op.task_id or "",
                route=self.op.route,
                status=str(status),
                outcome=outcome,
                duration=self._clock.monotonic() - self.started,
                tracks=len(last.tracks) if last is not None else 0,
                error_code=last.error_code if last is not None else None,
            )
        )

    def finished(self, error: BaseException | None, result: object) -> None:
        self.emit(
            CallFinished(
                call_id=self.call_id,
                operation=self.op.operation,
                route=self.op.route,
                # A create's task id is known only from its result (or its error).
                task_id=getattr(error or result, "task_id", None) or self.op.task_id,
                elapsed=self._clock.monotonic() - self.started,
                error=None if error is None else _error_name(error),
                error_code=getattr(error, "code", None),
                credits=result if isinstance(result, float | int) else None,
            )
        )


def _error_name(error: BaseException) -> str:
    return "Cancelled" if isinstance(error, GeneratorExit) else type(error).__name__


# -- logging ------------------------------------------------------------------------------------

_NAMES: dict[type[Any], str] = {}


def _event_name(event: Event) -> str:
    kind = type(event)
    name = _NAMES.get(kind)
    if name is None:
        name = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind.__name__).lstrip("_")
        _NAMES[kind] = name
    return name


def _level(event: Event) -> int:
    if isinstance(event, RetryScheduled | RateLimitWait | CallbackRefused):
        return logging.INFO
    if isinstance(event, TaskFinished) and event.outcome != "succeeded":
        return logging.INFO
    return logging.DEBUG


def _message(event: Event) -> str | None:
    task_id = getattr(event, "task_id", None)
    task = f" task_id={task_id}" if task_id else ""
    match event:
        case RequestAnswered():
            if event.status is None:
                result = event.error or "no answer"
            else:
                result = f"HTTP {event.status} code {event.code}"
            return (
                f"{event.method} {urlsplit(event.url).path or '/'} -> {result} in "
                f"{event.elapsed:.3f}s (attempt {event.attempt}/{event.attempts}){task}"
            )
        case RetryScheduled():
            code = f" (code {event.code})" if event.code is not None else ""
            return (
                f"{event.operation}: attempt {event.attempt} failed with {event.reason}{code}; "
                f"retrying in {event.delay:.1f}s{task}"
            )
        case RateLimitWait():
            budget = ""
            if event.budget is not None:
                budget = f" ({event.budget[0]} {event.kind}s per {event.budget[1]:g}s)"
            return f"{event.operation}: waiting {event.delay:.1f}s for the rate limit{budget}"
        case TaskStatusChanged():
            return f"task {event.task_id}: {event.previous or 'submitted'} -> {event.status}"
        case TaskFinished():
            return (
                f"task {event.task_id} {event.outcome.replace('_', ' ')} with status "
                f"{event.status} after {event.duration:.1f}s ({event.tracks} tracks)"
            )
        case CallbackRefused():
            return f"callback refused ({event.reason}){task}"
        case CallFinished():
            result = f"failed with {event.error}" if event.error else "done"
            return f"{event.operation} {result} in {event.elapsed:.3f}s{task}"
        case DownloadFinished():
            return f"downloaded {event.bytes} bytes in {event.seconds:.3f}s{task}"
        case _:
            return None


def log_event(event: Event) -> None:
    level = _level(event)
    if not logger.isEnabledFor(level):
        return
    message = _message(event)
    if message is None:
        return
    extra: dict[str, Any] = {"kie_event": _event_name(event)}
    for field, value in attrs.asdict(event, recurse=False).items():
        extra[f"kie_{field}"] = value
    logger.log(level, "%s", message, extra=extra)
