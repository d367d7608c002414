"""The logic both clients share, written once and free of I/O.

Each public call is a generator that yields actions (`Send` a request, `Sleep`, report
`Progress`) and receives what they produced. KieClient drives it with blocking calls,
AsyncKieClient with awaits: retries, rate limiting, error mapping, polling and logging exist
once. Transport exceptions are turned into plain `Failure` values by the drivers, so errors are
raised here with no httpx exception (which holds the Authorization header) in their context.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import random
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

import attrs
import httpx

from . import _generated as gen
from ._clock import Clock
from ._emitter import NO_EVENTS, CallTrace, Emitter, safe_url
from ._errors import (
    TASK_MAY_EXIST,
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    InvalidRequestError,
    KieError,
    RateLimitError,
    ResponseTooLargeError,
    TaskFailedError,
    WaitTimeoutError,
)
from ._models import (
    InstrumentalTask,
    ShapeError,
    TaskDetails,
    optional_non_negative,
)
from ._polling import PollSchedule
from ._ratelimit import (
    Acquire,
    AnyLimiter,
    BackOff,
    Kind,
    Limiter,
    LimitStep,
    Permit,
    RateLimiter,
    Reserve,
    Slot,
    SlotLimiter,
)
from ._responses import read_envelope
from ._retry import RetryPolicy, may_have_created_task, should_retry
from ._text import shown
from ._transfer import BODY_LIMIT, Budget
from ._version import __version__
from .notify import Notifier

if TYPE_CHECKING:
    from ._files import Sink
    from ._routes import Route

logger = logging.getLogger("kie_instrumental")

T = TypeVar("T")
USER_AGENT = f"kie-instrumental/{__version__} (+python-httpx/{httpx.__version__})"


# -- actions and what they produce -------------------------------------------------------------


@attrs.frozen
class Send:
    """Send one request. `open()` gives fresh httpx keyword arguments for each attempt
    (without the Authorization header: the driver adds it per `authenticated`, see
    `ClientCore.credentials`). The whole exchange must end within `overall(timeout)`; at most
    `body_limit` bytes of the answer are read (an audio download streams to `stream_to`)."""

    open: Callable[[], AbstractContextManager[dict[str, Any]]]
    timeout: httpx.Timeout
    stream_to: Sink | None = None
    authenticated: bool | None = None
    body_limit: int = BODY_LIMIT
    permit: Permit | None = None  # the driver gives it back when the exchange ends, however


@attrs.frozen
class Sleep:
    """Sleep; with `wake_on` (task ids) the client's notifier may end it early: the outcome
    is then the id of the task whose callback arrived (else None)."""

    seconds: float
    wake_on: tuple[str, ...] | None = None


@attrs.frozen
class Resolve:
    """Look up every address of a host (downloads check them before connecting)."""

    host: str
    port: int
    timeout: float


@attrs.frozen
class Resolved:
    addresses: tuple[str, ...]
    error: str | None = None


@attrs.frozen
class Progress:
    details: TaskDetails


@attrs.frozen
class Finished:
    """One task of `wait_many` ended: its details, or the KieError that ended its wait."""

    task_id: str
    result: TaskDetails | KieError


Action = Send | Sleep | Progress | Resolve | Finished | LimitStep


@attrs.frozen
class Reply:
    status: int
    headers: Mapping[str, str]
    content: bytes
    elapsed: float
    received: int = 0  # bytes read from the network (a streamed download's size)
    oversize: bool = False  # more than the body limit arrived; `content` is cut there


@attrs.frozen
class Failure:
    """A request that got no answer. The httpx exception itself is not kept (it holds secrets)."""

    kind: Literal["timeout", "transport"]
    detail: str
    request_may_have_arrived: bool
    elapsed: float


Outcome = Reply | Failure | Resolved | Slot | float | str | None
Flow = Generator[Action, Outcome, T]

# A connection that was never made cannot have delivered the request.
_NOT_SENT: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    httpx.ProxyError,
)


def failure_from(exc: httpx.HTTPError, elapsed: float, budget: Budget | None = None) -> Failure:
    """Describe a transport exception as plain data (used by both drivers)."""
    if budget is not None and budget.passed() and not isinstance(exc, httpx.TimeoutException):
        # The watchdog shut a request that outlived its budget: that is a timeout.
        exc = budget.exceeded()
    not_sent = isinstance(exc, _NOT_SENT)
    timed_out = isinstance(exc, httpx.TimeoutException)
    kind: Literal["timeout", "transport"] = "timeout" if timed_out else "transport"
    return Failure(kind, _detail(exc), not not_sent, elapsed)


def foreign_failure(exc: Exception, elapsed: float) -> Failure:
    """An exception that is not httpx's escaped a send (the caller's transport, event hook or
    codec). It may have happened after the request left, so a create is not resent."""
    return Failure("transport", _detail(exc), True, elapsed)


def _detail(exc: Exception) -> str:
    return f"{type(exc).__name__}: {shown(str(exc))}" if str(exc) else type(exc).__name__


@attrs.frozen
class Operation(Generic[T]):
    """One API call: how to build its request and how to read its answer.

    `operation` (the public method), `method`, `url` (no query) and `route` describe it in events.
    """

    name: str
    open: Callable[[], AbstractContextManager[dict[str, Any]]]
    parse: Callable[[Reply], T]
    creates_task: bool = False
    rate_limited: bool = True
    task_id: str | None = None
    stream_to: Sink | None = None
    operation: str = ""
    method: str = ""
    url: str = ""
    route: str | None = None
    # None: the key goes to KIE's own hosts (base_url, upload_base_url) and nowhere else.
    authenticated: bool | None = None


class _Secret:
    """Holds a secret so that no repr, str or vars() of its owner shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


# The largest timeout accepted, for a request as a whole and for wait(): a day. Anything
# longer is a mistake (inf, 1e12), and a bounded number keeps every deadline computable.
MAX_TIMEOUT = 86_400.0
# The shortest request timeout of a poll inside wait(), even at the deadline.
_LAST_POLL = 1.0


def bounded_seconds(value: object, name: str) -> float:
    """A finite number of seconds in (0, MAX_TIMEOUT], or a ConfigurationError naming `name`."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    seconds = math.nan
    if ok:
        try:
            seconds = float(cast(float, value))
        except OverflowError:
            ok = False
    if not (ok and 0 < seconds <= MAX_TIMEOUT):
        raise ConfigurationError(
            f"{name} must be a bounded number of seconds, above 0 and at most {MAX_TIMEOUT:g}, "
            f"got {shown(value)}"
        )
    return seconds


def bounded_timeout(value: object, name: str = "timeout") -> httpx.Timeout:
    """A timeout with every phase bounded: an unbounded one is a configuration error."""
    if isinstance(value, httpx.Timeout):
        phases = ("connect", "read", "write", "pool")
        for phase in phases:
            bounded_seconds(getattr(value, phase), f"{name}.{phase}")
        return value
    return httpx.Timeout(bounded_seconds(value, name))


def overall(timeout: httpx.Timeout) -> float:
    """The time a request may take as a whole: its largest phase."""
    return max(cast(float, t) for t in (timeout.connect, timeout.read, timeout.write, timeout.pool))


def clipped(timeout: httpx.Timeout, left: float) -> httpx.Timeout:
    """`timeout` with no phase longer than `left` seconds."""
    left = max(left, 1e-3)
    return httpx.Timeout(
        connect=min(cast(float, timeout.connect), left),
        read=min(cast(float, timeout.read), left),
        write=min(cast(float, timeout.write), left),
        pool=min(cast(float, timeout.pool), left),
    )


def _parsed_url(url: str, params: Mapping[str, Any] | None) -> httpx.URL:
    query = tuple(params.items()) if params else ()
    try:
        return _parsed_url_cached(url, query)
    except TypeError:  # a value that cannot be a cache key
        return httpx.URL(url, params=params)


@functools.lru_cache(maxsize=256)
def _parsed_url_cached(url: str, query: tuple[tuple[str, object], ...]) -> httpx.URL:
    # httpx.URL is immutable: one parse serves every create and every poll of a task.
    return httpx.URL(url, params=dict(query) if query else None)


@functools.lru_cache(maxsize=64)
def _event_url(base: str, path: str) -> str:
    return safe_url(base + path)  # the same few per client: parsed once


def _is_slot_limiter(limiter: object) -> bool:
    # isinstance() against a Protocol walks its members on every call (Python 3.11: ~8 us);
    # the answer depends on the class only.
    if limiter is None:
        return False
    cls = type(limiter)
    known = _SLOT_LIMITER_TYPES.get(cls)
    if known is None:
        known = _SLOT_LIMITER_TYPES[cls] = issubclass(cls, SlotLimiter)
    return known


_SLOT_LIMITER_TYPES: dict[type, bool] = {}


class ClientCore:
    """Configuration and flows shared by KieClient and AsyncKieClient."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        upload_base_url: str,
        timeout: httpx.Timeout,
        max_retries: int,
        rate_limit: tuple[int, float] | AnyLimiter | None,
        validate_requests: bool,
        clock: Clock,
        poll_schedule: PollSchedule,
        notifier: Notifier | None,
        events: Emitter = NO_EVENTS,
    ) -> None:
        self._api_key = _Secret(api_key)
        self.base_url = base_url.rstrip("/")
        self.upload_base_url = upload_base_url.rstrip("/")
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries=max_retries)
        self.clock = clock
        self.limiter: AnyLimiter | None = (
            RateLimiter(*rate_limit, clock) if isinstance(rate_limit, tuple) else rate_limit
        )
        self.validate_requests = validate_requests
        self.poll_schedule = poll_schedule
        self.notifier = notifier
        self.events = events
        self._rng = random.Random()  # jitter only  # noqa: S311

    # -- building requests -----------------------------------------------------------------

    def _headers(self, authenticated: bool = False) -> dict[str, str]:
        # The key is added only by the driver, at send time (see `credentials`): operations
        # and their closures never hold it.
        return {"User-Agent": USER_AGENT}

    def credentials(self, url: object, authenticated: bool | None) -> dict[str, str]:
        """The Authorization header for a request to `url`, used by the drivers at send time.
        `authenticated=None`: only for KIE's own hosts."""
        if authenticated is None:
            target = str(url)
            authenticated = any(
                target.startswith(base + "/") for base in (self.base_url, self.upload_base_url)
            )
        return {"Authorization": f"Bearer {self._api_key.reveal()}"} if authenticated else {}

    def _api_request(self, generated: dict[str, Any], base: str) -> dict[str, Any]:
        """Generated `_get_kwargs` output, made absolute and given our own headers."""
        kwargs = dict(generated)
        # Parsed once here: httpx parses a string URL and merges its params on every send,
        # which costs more than all the rest of the wrapper's work on a call.
        kwargs["url"] = _parsed_url(base + kwargs["url"], kwargs.pop("params", None))
        kwargs["headers"] = {**kwargs.get("headers", {}), **self._headers()}
        return kwargs

    def _fixed(
        self, generated: dict[str, Any], base: str
    ) -> Callable[[], AbstractContextManager[Any]]:
        kwargs = self._api_request(generated, base)
        return lambda: contextlib.nullcontext(kwargs)

    def create_operation(
        self, fields: Mapping[str, Any], route: Route
    ) -> Operation[InstrumentalTask]:
        """The create request of `route`, built from the keyword arguments and validated
        against the spec before anything is sent. Called directly by the clients' public
        methods, so a DeprecationWarning points at the caller's line."""
        from ._validation import request_validator  # loaded on first use

        wire = route.create_body(fields)
        validator = request_validator(route.create_schema)
        if self.validate_requests:
            validator.validate(wire)
        wire = validator.normalized(wire)
        route.warn_discontinued(wire, stacklevel=3)
        generated = route.create_kwargs(wire)
        return Operation(
            name=f"POST {route.create_path}",
            # Never followed, whatever the caller's http_client does: following resends the
            # POST (307/308) or turns it into a GET that may fail and be retried.
            open=self._fixed({**generated, "follow_redirects": False}, self.base_url),
            parse=route.read_created,
            creates_task=True,
            **_described("add_instrumental", generated, self.base_url, route=route.name),
        )

    def task_operation(self, task_id: str, route: Route) -> Operation[TaskDetails]:
        from ._validation import parameter_violation  # loaded on first use

        violation = parameter_violation(route.record_path, "get", "taskId", task_id)
        if violation is not None:
            raise violation.to_error()
        generated = route.record_kwargs(task_id)
        return Operation(
            name=f"GET {route.record_path}",
            open=self._fixed(generated, self.base_url),
            parse=lambda reply: route.read_record(reply, task_id),
            task_id=task_id,
            **_described("get_task", generated, self.base_url, route=route.name),
        )

    def credits_operation(self) -> Operation[float]:
        generated = gen.get_credits._get_kwargs()
        return Operation(
            name="GET /api/v1/chat/credit",
            open=self._fixed(generated, self.base_url),
            parse=_parse_credits,
            **_described("get_credits", generated, self.base_url),
        )

    # -- flows -------------------------------------------------------------------------------

    def _attempt(
        self,
        op: Operation[T],
        timeout: httpx.Timeout,
        attempt: int,
        attempts: int,
        trace: CallTrace | None,
    ) -> Flow[tuple[T | None, KieError | None]]:
        """Send `op` once (after waiting for a rate-limit slot); its result or its error."""
        limiter = self.limiter if op.rate_limited else None
        kind: Kind = "create" if op.creates_task else "poll"
        permit: Permit | None = None
        slots = cast(SlotLimiter, limiter) if _is_slot_limiter(limiter) else None
        if slots is not None:
            while True:
                got = yield Acquire(slots, kind)
                if isinstance(got, Slot):
                    permit = Permit(slots, got)
                    break
                # Waiting holds no slot: a call cancelled here costs the others nothing.
                assert isinstance(got, float | int)
                if trace:
                    trace.rate_limited(slots, kind, got)
                yield Sleep(got)
        elif limiter is not None:
            # A limiter without slots: a send time, held while waiting.
            delay = yield Reserve(cast(Limiter, limiter), kind)
            assert isinstance(delay, float | int)
            if delay > 0:
                if trace:
                    trace.rate_limited(limiter, kind, delay)
                yield Sleep(delay)
        if trace:
            trace.sent(attempt, attempts)
        # The driver gives the permit back when the answer arrived, or when the caller gave up
        # mid-request (the request may have arrived): its period runs from then.
        outcome = yield Send(op.open, timeout, op.stream_to, op.authenticated, permit=permit)
        assert isinstance(outcome, Reply | Failure)
        result, error = _interpret(op, outcome)
        if trace:
            trace.answered(attempt, attempts, outcome, error)
        if isinstance(error, RateLimitError) and limiter is not None:
            # The server's window is fuller than ours: every call waits (shared limiters tell
            # every process), not just this one.
            yield BackOff(limiter, error.retry_after or 1.0)
        return cast(T | None, result), error

    def call(self, op: Operation[T], request_timeout: float | httpx.Timeout | None) -> Flow[T]:
        """Send `op`, retrying per policy; return its parsed result or raise a KieError."""
        timeout = self._timeout(request_timeout)
        if not self.events.on:  # nobody listens: no event is built
            return (yield from self._call(op, timeout, None))
        trace = CallTrace(self.events, op, self.clock)
        try:
            result = yield from self._call(op, timeout, trace)
        except BaseException as error:  # GeneratorExit too: a cancelled call still ends
            trace.finished(error, None)
            raise
        trace.finished(None, result)
        return result

    def _call(self, op: Operation[T], timeout: httpx.Timeout, trace: CallTrace | None) -> Flow[T]:
        waited = 0.0
        attempts = self.retry.max_retries + 1
        attempt = 0
        while True:  # the last attempt returns or raises: `attempt < attempts` ends the loop
            attempt += 1
            result, error = yield from self._attempt(op, timeout, attempt, attempts, trace)
            if error is None:
                return cast(T, result)
            retry_after = getattr(error, "retry_after", None)
            delay = self.retry.delay(attempt, retry_after, self._rng)
            if (
                attempt < attempts
                and should_retry(error, creates_task=op.creates_task)
                and waited + delay <= self.retry.max_total_wait
            ):
                waited += delay
                if trace:
                    trace.retrying(attempt, error, delay)
                yield Sleep(delay)
                continue
            if op.creates_task and may_have_created_task(error):
                error.message = f"{error.message}. {TASK_MAY_EXIST}"
            raise error

    def _timeout(self, request_timeout: float | httpx.Timeout | None) -> httpx.Timeout:
        if request_timeout is None:
            return self.timeout
        return bounded_timeout(request_timeout, "request_timeout")

    def wait(
        self,
        task_id: str,
        route: Route,
        timeout: float,
        request_timeout: float | httpx.Timeout | None,
    ) -> Flow[TaskDetails]:
        """Poll until the task ends or `timeout` seconds pass (the overall deadline)."""
        seconds = bounded_seconds(timeout, "wait(timeout=)")
        op = self.task_operation(task_id, route)
        per_request = self._timeout(request_timeout)
        if not self.events.on:
            return (yield from self._wait(op, seconds, per_request, None))
        # The polls are the wait's attempts: one call, one span, however long it takes.
        trace = CallTrace(self.events, attrs.evolve(op, operation="wait"), self.clock)
        try:
            details = yield from self._wait(op, seconds, per_request, trace)
        except BaseException as error:
            trace.task_finished(error)
            trace.finished(error, None)
            raise
        trace.task_finished(details)
        trace.finished(None, details)
        return details

    def _wait(
        self,
        op: Operation[TaskDetails],
        seconds: float,
        per_request: httpx.Timeout,
        trace: CallTrace | None,
    ) -> Flow[TaskDetails]:
        deadline = self.clock.monotonic() + seconds
        poll = _TaskPoll(cast(str, op.task_id), self.poll_schedule.intervals())
        while True:
            previous = poll.last
            details = yield from self._poll(op, poll, per_request, deadline, trace)
            if details is not None:
                if trace:
                    trace.last = details.details
                if details.changed:
                    if trace:
                        trace.status_changed(previous, details.details)
                    yield Progress(details.details)
                ended = poll.ended(details.details)
                if ended is not None:
                    if isinstance(ended, KieError):
                        raise ended
                    return ended
            left = deadline - self.clock.monotonic()
            if left <= 0:
                raise poll.timed_out(seconds)
            if self.notifier is None:
                yield Sleep(min(poll.next_delay, left))
            else:  # callbacks expected: they wake us; polling is the slow safety net
                delay = max(poll.next_delay, self.notifier.safety_poll)
                yield Sleep(min(delay, left), wake_on=(poll.task_id,))

    def wait_many(
        self,
        task_ids: Iterable[str],
        route: Route,
        timeout: float,
        request_timeout: float | httpx.Timeout | None,
    ) -> Flow[None]:
        """Poll many tasks in one flow until each ends or `timeout` seconds pass: one request
        at a time, each task on its own backoff schedule, the soonest due first, all under the
        client's rate limiter. Yields `Finished` once per task (details, or the KieError that
        ended its wait: TaskFailedError, WaitTimeoutError, or a refusal such as NotFoundError)."""
        seconds = bounded_seconds(timeout, "timeout")
        if isinstance(task_ids, str):
            raise InvalidRequestError(
                "task_ids must be a collection of task ids, not one string",
                field="task_ids",
                rule="type",
            )
        ids = list(dict.fromkeys(task_ids))  # each task once, in the order given
        ops = {task_id: self.task_operation(task_id, route) for task_id in ids}  # all checked first
        per_request = self._timeout(request_timeout)
        deadline = self.clock.monotonic() + seconds
        polls = {task_id: _TaskPoll(task_id, self.poll_schedule.intervals()) for task_id in ids}
        due = dict.fromkeys(ids, self.clock.monotonic())
        # Callbacks expected: any task's callback wakes the sleep and that task is polled at
        # once; otherwise each polls no more than once per safety_poll (as in wait()).
        floor = self.notifier.safety_poll if self.notifier is not None else 0.0
        while due:
            now = self.clock.monotonic()
            if now >= deadline:
                break
            task_id = min(due, key=due.__getitem__)
            if due[task_id] > now:
                seconds = min(due[task_id], deadline) - now
                if self.notifier is None:
                    yield Sleep(seconds)
                    continue
                woken = yield Sleep(seconds, wake_on=tuple(due))
                if isinstance(woken, str) and woken in due:
                    due[woken] = self.clock.monotonic()
                continue
            poll = polls[task_id]
            try:
                seen = yield from self._poll(ops[task_id], poll, per_request, deadline, None)
            except KieError as error:  # this task's wait ends; the others go on
                del due[task_id]
                yield Finished(task_id, error)
                continue
            if seen is not None:
                if seen.changed:
                    yield Progress(seen.details)
                ended = poll.ended(seen.details)
                if ended is not None:
                    del due[task_id]
                    yield Finished(task_id, ended)
                    continue
            due[task_id] = self.clock.monotonic() + max(poll.next_delay, floor)
        for task_id in list(due):
            yield Finished(task_id, polls[task_id].timed_out(seconds))

    def _poll(
        self,
        op: Operation[TaskDetails],
        poll: _TaskPoll,
        timeout: httpx.Timeout,
        deadline: float,
        trace: CallTrace | None,
    ) -> Flow[_Seen | None]:
        """One poll of a task inside wait(): its details, or None when the poll met an error
        worth trying again (429, 5xx, network); any other error is raised."""
        # Clipped to the time left, yet long enough for a last poll at the deadline.
        left = max(deadline - self.clock.monotonic(), _LAST_POLL)
        result, error = yield from self._attempt(op, clipped(timeout, left), 1, 1, trace)
        if error is None:
            assert isinstance(result, TaskDetails)
            return poll.seen(result)
        if not should_retry(error, creates_task=False):
            raise error
        poll.failed(error, self.retry, self._rng)
        if trace:
            trace.retrying(poll.errors_in_a_row, error, poll.next_delay)
        return None


@attrs.define
class _Seen:
    details: TaskDetails
    changed: bool


@attrs.define
class _TaskPoll:
    """One task's polling state inside wait() and wait_many()."""

    task_id: str
    intervals: Iterator[float]
    last: TaskDetails | None = None
    errors_in_a_row: int = 0
    last_error: KieError | None = None
    # The first poll goes out at once: a task that already finished answers at once.
    next_delay: float = 0.0

    def seen(self, details: TaskDetails) -> _Seen:
        changed = self.last is None or details.status != self.last.status
        self.last, self.errors_in_a_row, self.last_error = details, 0, None
        self.next_delay = next(self.intervals)
        return _Seen(details, changed)

    def failed(self, error: KieError, retry: RetryPolicy, rng: random.Random) -> None:
        self.errors_in_a_row += 1
        self.last_error = error
        retry_after = getattr(error, "retry_after", None)
        self.next_delay = retry.delay(min(self.errors_in_a_row, 8), retry_after, rng)

    def ended(self, details: TaskDetails) -> TaskDetails | KieError | None:
        if details.succeeded:
            return details
        if details.failed:
            return TaskFailedError(
                f"task {self.task_id} failed with status {shown(details.status)}"
                + (f", code {details.error_code}" if details.error_code is not None else "")
                + (f": {shown(details.error_message)}" if details.error_message else ""),
                task_id=self.task_id,
                status=str(details.status),
                error_code=details.error_code,
                error_message=details.error_message,
            )
        return None

    def timed_out(self, seconds: float) -> WaitTimeoutError:
        status = str(self.last.status) if self.last is not None else None
        since = f"still {shown(status)}" if status is not None else "no answer"
        why = f" (last poll: {shown(str(self.last_error), 200)})" if self.last_error else ""
        return WaitTimeoutError(
            f"task {self.task_id} {since} after {seconds:g} s{why}",
            task_id=self.task_id,
            last_status=status,
        )


def _described(
    operation: str, generated: dict[str, Any], base: str, route: str | None = None
) -> dict[str, Any]:
    """Operation fields for events: never the query (it may hold ids) nor any header."""
    return {
        "operation": operation,
        "method": str(generated["method"]).upper(),
        "url": _event_url(base, generated["url"]),
        "route": route,
    }


# -- reading answers ----------------------------------------------------------------------------


def _interpret(op: Operation[Any], outcome: Reply | Failure) -> tuple[Any, KieError | None]:
    if isinstance(outcome, Failure):
        cls = APITimeoutError if outcome.kind == "timeout" else APIConnectionError
        return None, cls(
            f"{op.name}: {outcome.detail}",
            request_may_have_arrived=outcome.request_may_have_arrived,
            task_id=op.task_id,
        )
    if outcome.oversize and op.stream_to is None:
        return None, ResponseTooLargeError(
            f"{op.name}: the answer (HTTP {outcome.status}) is larger than "
            f"{len(outcome.content)} bytes, far above any real answer; reading stopped there",
            code=outcome.status,
            http_status=outcome.status,
            task_id=op.task_id,
        )
    try:
        return op.parse(outcome), None
    except KieError as error:
        if error.task_id is None:
            error.task_id = op.task_id
        return None, error
    except ShapeError as shape:
        return None, APIError(
            f"{op.name}: the success envelope lacks the expected data ({shape})",
            code=200,
            http_status=outcome.status,
            task_id=op.task_id,
        )


def _envelope(reply: Reply, operation: str) -> dict[str, Any]:
    return read_envelope(reply.status, reply.content, reply.headers, operation=operation)


def _parse_credits(reply: Reply) -> float:
    envelope = _envelope(reply, "get_credits")
    credits = optional_non_negative(_from_dict(gen.CreditsResponse, envelope).data, "data")
    if credits is None:
        raise ShapeError("data (the remaining credits) is missing")
    return credits


def _from_dict(model: Any, envelope: dict[str, Any]) -> Any:
    """Generated from_dict, with its KeyError/TypeError turned into a ShapeError."""
    try:
        return model.from_dict(envelope)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ShapeError(f"{type(exc).__name__}: {shown(str(exc), 200)}") from None
