"""KieClient and AsyncKieClient: thin drivers of the flows in _core.

The generated `AuthenticatedClient` is not used to send: its repr prints the token,
`set_httpx_client` drops auth, base_url and timeout, `with_timeout` mutates a shared client,
and its `_build_response` crashes on statuses `http.HTTPStatus` does not know (455, 430, 531).
The wrapper sends the generated `_get_kwargs` through its own httpx client, with its own
Authorization header and a bounded timeout on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import anyio
import httpx

from . import _files, _jobs
from ._clock import SYSTEM_CLOCK, Clock
from ._core import (
    Action,
    ClientCore,
    Failure,
    Finished,
    Flow,
    Outcome,
    Progress,
    Reply,
    Resolve,
    Send,
    Sleep,
    bounded_timeout,
    failure_from,
    foreign_failure,
    overall,
)
from ._emitter import Emitter
from ._errors import ClientClosedError, ConfigurationError, KieError
from ._models import InstrumentalTask, TaskDetails
from ._polling import PollSchedule

if TYPE_CHECKING:
    from kie_instrumental_generated.models.add_instrumental_request_vocal_gender import (
        AddInstrumentalRequestVocalGender,
    )
    from kie_instrumental_generated.models.suno_model import SunoModel
from ._ratelimit import (
    Acquire,
    AnyLimiter,
    BackOff,
    Reserve,
    SlotLimiter,
    aperform,
    arelease,
    perform,
    release,
)
from ._routes import Route, call_route, client_route, route_for_call
from ._transfer import (
    ERROR_PAGE_LIMIT,
    Budget,
    Collector,
    Decoder,
    Sending,
    Watchdog,
    socket_of,
    stripped,
)
from .events import Hook
from .journal import Job, Journal
from .notify import Notifier

__all__ = ["AsyncKieClient", "KieClient"]

T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.kie.ai"
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_RATE_LIMIT = (20, 10.0)
ProgressCallback = Callable[[TaskDetails], Any]


def _configure_logging() -> None:
    """KIE_LOG=debug prints one line per attempt to stderr (never headers or bodies)."""
    if os.environ.get("KIE_LOG", "").lower() != "debug":
        return
    log = logging.getLogger("kie_instrumental")
    log.setLevel(logging.DEBUG)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        log.addHandler(handler)


def _make_core(
    api_key: str | None,
    base_url: str | None,
    upload_base_url: str | None,
    timeout: float | httpx.Timeout,
    max_retries: int,
    rate_limit: tuple[int, float] | AnyLimiter | None,
    validate_requests: bool,
    clock: Clock | None,
    poll_schedule: PollSchedule | None,
    hooks: Iterable[Hook] | None,
    http_client: object,
    http_client_type: type,
    notifier: Notifier | None,
) -> ClientCore:
    """Every configuration check, in one place: a bad argument is a ConfigurationError that
    names it, raised before anything is sent."""
    key = _checked_key(api_key)
    base = base_url or os.environ.get("KIE_BASE_URL") or DEFAULT_BASE_URL
    upload = upload_base_url or os.environ.get("KIE_UPLOAD_BASE_URL") or DEFAULT_UPLOAD_BASE_URL
    for name, url in (("base_url", base), ("upload_base_url", upload)):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            shown = repr(url[:200]) if isinstance(url, str) else f"a {type(url).__name__}"
            raise ConfigurationError(f"{name} must be an http(s) URL, got {shown}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an integer >= 0, got {_shown(max_retries)}")
    if not isinstance(validate_requests, bool):
        raise ConfigurationError(
            f"validate_requests must be True or False, got {_shown(validate_requests)}"
        )
    if http_client is not None:
        if not isinstance(http_client, http_client_type):
            raise ConfigurationError(
                f"http_client must be an {http_client_type.__module__}.{http_client_type.__name__}"
                f", got {_shown(http_client)}"
            )
        if getattr(http_client, "is_closed", False):
            raise ConfigurationError("http_client is already closed")
    limits = _checked_rate_limit(rate_limit)
    _configure_logging()
    return ClientCore(
        api_key=key,
        base_url=base,
        upload_base_url=upload,
        timeout=bounded_timeout(timeout),
        max_retries=max_retries,
        rate_limit=limits,
        validate_requests=validate_requests,
        clock=clock or SYSTEM_CLOCK,
        poll_schedule=poll_schedule or PollSchedule(),
        notifier=notifier,
        events=Emitter(hooks),
    )


def _checked_key(api_key: object) -> str:
    """The key, stripped. One that an HTTP header cannot carry is refused without showing it
    (httpx would echo it in its errors, and logs would carry it)."""
    source = "api_key" if api_key is not None else "KIE_API_KEY"
    key = api_key if api_key is not None else os.environ.get("KIE_API_KEY", "")
    if not isinstance(key, str):
        raise ConfigurationError(f"api_key must be a string, got a {type(key).__name__}")
    key = key.strip()
    if not key:
        raise ConfigurationError(
            "no API key: pass api_key=... or set the KIE_API_KEY environment variable"
        )
    for position, char in enumerate(key):
        if not "!" <= char <= "~":  # visible ASCII: what a bearer token is made of
            kind = (
                "a space"
                if char == " "
                else ("a non-ASCII character" if ord(char) > 127 else "a control character")
            )
            raise ConfigurationError(
                f"{source} contains {kind} at position {position} (CR, LF, NUL, spaces and "
                "non-ASCII characters cannot be sent in a header); the key is not shown"
            )
    return key


def _checked_rate_limit(rate_limit: object) -> tuple[int, float] | AnyLimiter | None:
    """None, a limiter object, or (requests >= 1 as an integer, seconds > 0 and finite)."""
    if rate_limit is None:
        return None
    if isinstance(rate_limit, SlotLimiter) or (
        callable(getattr(rate_limit, "reserve", None))
        and callable(getattr(rate_limit, "back_off", None))
    ):
        return cast(AnyLimiter, rate_limit)
    rule = "rate_limit must be (requests, seconds) with an integer >= 1 and a finite number > 0"
    if not isinstance(rate_limit, tuple | list) or len(rate_limit) != 2:
        raise ConfigurationError(f"{rule}, a limiter or None, got {_shown(rate_limit)}")
    limit, period = rate_limit
    limit_ok = isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1
    period_ok = (
        isinstance(period, int | float)
        and not isinstance(period, bool)
        and math.isfinite(period)
        and period > 0
    )
    if not (limit_ok and period_ok):
        raise ConfigurationError(f"{rule}, got {_shown(rate_limit)}")
    return (limit, float(period))


def _shown(value: object) -> str:
    """A configuration value in an error: short, and only simple types are shown."""
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)[:50]
    if isinstance(value, tuple | list) and len(value) <= 4:
        return "(" + ", ".join(_shown(item) for item in value) + ")"
    return f"a {type(value).__name__}"


def _reply(
    response: httpx.Response,
    body: Collector,
    started: float,
    clock: Clock,
    received: int | None = None,
) -> Reply:
    elapsed = clock.monotonic() - started
    if received is None:
        received = response.num_bytes_downloaded
    return Reply(
        response.status_code,
        response.headers,
        body.body(),
        elapsed,
        received=received,
        oversize=body.oversize,
    )


class _RawReader:
    """An async answer's raw bytes, counted. Read from the stream itself, not `aiter_raw()`:
    that closes the response when the body ends, and a cancellation (the request's budget)
    landing in that close makes httpcore lose the connection; the driver closes it shielded."""

    def __init__(self, response: httpx.Response, to_file: bool) -> None:
        self.response = response
        self.received = 0
        # A download's sink checks the length against httpx's own count: read through it.
        self._stream = response.aiter_raw() if to_file else response.stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        response = self.response
        if response.is_stream_consumed:  # a transport of the caller's own read it whole
            yield response.content
            return
        async for raw in cast(AsyncIterator[bytes], self._stream):
            self.received += len(raw)
            yield raw


_NOTHING = Collector(0)  # what is kept of an answer streamed to a file


def _limit_for(action: Send) -> int:
    # A file host's error page is kept only in part; an API answer up to the body limit.
    return ERROR_PAGE_LIMIT if action.stream_to is not None else action.body_limit


def _with_credentials(core: ClientCore, prepared: dict[str, Any], action: Send) -> dict[str, Any]:
    headers = {
        **prepared.get("headers", {}),
        # KIE's answers are small JSON and audio is compressed already: nothing is gained by
        # compression, and an uncompressed answer is bounded by its bytes on the wire.
        "Accept-Encoding": "identity",
        **core.credentials(prepared["url"], action.authenticated),
    }
    return {**prepared, "headers": headers}


class _BaseClient:
    _core: ClientCore
    _owns_http: bool
    _route: Route

    _closed = False

    def _check_open(self, http: httpx.Client | httpx.AsyncClient) -> None:
        if self._closed:
            raise ClientClosedError(
                f"this {type(self).__name__} is closed: create a new one (or use it inside "
                "its `with` block)"
            )
        if http.is_closed:
            raise ClientClosedError(
                f"the http_client given to this {type(self).__name__} was closed"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._core.base_url!r}, route={self._route.name!r}, "
            "api_key='***', "
            f"timeout={self._core.timeout!r}, max_retries={self._core.retry.max_retries}, "
            f"rate_limit={self._core.limiter!r})"
        )


class KieClient(_BaseClient):
    """Blocking client. Safe to share between threads; the rate limiter is shared with them.

    api_key: defaults to $KIE_API_KEY. base_url: $KIE_BASE_URL or https://api.kie.ai.
    upload_base_url: $KIE_UPLOAD_BASE_URL or https://kieai.redpandaai.co (file uploads).
    timeout: per request, every phase bounded. max_retries: retries after the first attempt.
    rate_limit: (requests, seconds), a shared limiter (`redis_backend.RedisRateLimit`), or None
    to switch it off. http_client: used and left open.
    validate_requests: check requests against the spec before sending (on by default).
    hooks: callables given each kie_instrumental.events event (see that module).
    clock, poll_schedule: test switches (see kie_instrumental.testing.FakeClock).
    notifier: wait() wakes on the verified callbacks your receiver publishes to it and polls
    only as a slow safety net (see kie_instrumental.notify).
    route: "market" (KIE's current route) or "legacy" (/api/v1/generate/...); default
    $KIE_ROUTE or "market". Every method that takes `route=` can override it per call.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        upload_base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        rate_limit: tuple[int, float] | AnyLimiter | None = DEFAULT_RATE_LIMIT,
        http_client: httpx.Client | None = None,
        validate_requests: bool = True,
        allow_private_downloads: bool = False,
        clock: Clock | None = None,
        poll_schedule: PollSchedule | None = None,
        notifier: Notifier | None = None,
        hooks: Iterable[Hook] | None = None,
        route: str | None = None,
    ) -> None:
        self._route = client_route(route)
        self._core = _make_core(
            api_key,
            base_url,
            upload_base_url,
            timeout,
            max_retries,
            rate_limit,
            validate_requests,
            clock,
            poll_schedule,
            hooks,
            http_client,
            httpx.Client,
            notifier,
        )
        self._downloads = _files.DownloadPolicy.of(self._core, allow_private_downloads)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self._core.timeout)
        self._watchdog = Watchdog()

    # -- public API ---------------------------------------------------------------------------

    def add_instrumental(
        self,
        *,
        upload_url: str,
        title: str,
        tags: str,
        negative_tags: str,
        callback_url: str | None = None,
        model: SunoModel | None = None,
        vocal_gender: AddInstrumentalRequestVocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        route: str | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> InstrumentalTask:
        """Create a task (costs credits). Never resent when the task may already exist.

        callback_url is optional on the Market route (no callback is sent without it) and
        required on the legacy one. model: the spec's default (V6) when None; a model KIE
        calls discontinued is sent with a DeprecationWarning. The task records its route."""
        fields = dict(
            upload_url=upload_url,
            title=title,
            tags=tags,
            negative_tags=negative_tags,
            callback_url=callback_url,
            model=model,
            vocal_gender=vocal_gender,
            style_weight=style_weight,
            weirdness_constraint=weirdness_constraint,
            audio_weight=audio_weight,
        )
        op = self._core.create_operation(fields, call_route(route, self._route))
        return self._run(self._core.call(op, request_timeout))

    def get_task(
        self,
        task: InstrumentalTask | str,
        *,
        route: str | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> TaskDetails:
        """The task's current details, read on its route (a task's own, else `route`, else
        the client's). Unknown id: NotFoundError."""
        task_id, chosen = route_for_call(route, task, self._route)
        return self._run(
            self._core.call(self._core.task_operation(task_id, chosen), request_timeout)
        )

    def wait(
        self,
        task: InstrumentalTask | str,
        *,
        route: str | None = None,
        timeout: float = 600.0,
        on_progress: ProgressCallback | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> TaskDetails:
        """Poll until success (returned), failure (TaskFailedError) or the deadline
        (WaitTimeoutError). on_progress(details) is called on every status change."""
        task_id, chosen = route_for_call(route, task, self._route)
        return self._run(self._core.wait(task_id, chosen, timeout, request_timeout), on_progress)

    def wait_all(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float = 600.0,
        on_progress: ProgressCallback | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> dict[str, TaskDetails | KieError]:
        """Wait for many tasks at once: one request at a time under the client's rate limit,
        each task on wait()'s schedule (no thread per task). Returns, per task id, its details
        or the KieError that ended its wait (TaskFailedError, WaitTimeoutError, ...)."""
        found = self._finished(task_ids, timeout, on_progress, request_timeout)
        return {done.task_id: done.result for done in found}

    def as_completed(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float = 600.0,
        on_progress: ProgressCallback | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> Iterator[TaskDetails | KieError]:
        """wait_all() one task at a time, as each ends: its details or its KieError (both
        carry `task_id`)."""
        for done in self._finished(task_ids, timeout, on_progress, request_timeout):
            yield done.result

    def get_credits(self, *, request_timeout: float | httpx.Timeout | None = None) -> float:
        """Remaining credits of the account (free; a health check)."""
        return self._run(self._core.call(self._core.credits_operation(), request_timeout))

    def upload_file(
        self,
        file: _files.UploadSource,
        *,
        file_name: str | None = None,
        upload_path: str = "kie-instrumental",
        request_timeout: float | httpx.Timeout | None = None,
    ) -> str:
        """Stream a file (path, bytes or binary file object) to KIE's upload host; return its
        public URL (kept 3 days). Stored under a new unique name unless `file_name` is given."""
        op = _files.upload_operation(self._core, file, file_name=file_name, upload_path=upload_path)
        return self._run(self._core.call(op, request_timeout))

    def download(
        self,
        source: _files.Downloadable,
        directory: str | os.PathLike[str],
        *,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> list[Path]:
        """Save each track's audio into `directory` (streamed) under new names; return them."""
        task_id = _files.task_id_of(source)
        return [
            self._run(
                _files.download_flow(
                    self._core, self._downloads, url, dest, task_id, request_timeout
                )
            )
            for url, dest in _files.download_plan(source, directory)
        ]

    def run_job(
        self,
        journal: Journal,
        *,
        job_key: str | None = None,
        download_to: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
        **fields: Any,
    ) -> Job:
        """add_instrumental(**fields), wait and download, each step journaled under `job_key`
        (default: a new one) so that `resume` finishes it after a crash. Returns the Job.
        A key already in the journal is never sent again: the job is finished instead."""
        key = job_key or _jobs.new_job_key()
        return self._drive_job(
            _jobs.run_job(journal, key, {"route": self._route.name, **fields}, download_to, timeout)
        )

    def resume(
        self,
        journal: Journal,
        *,
        download_to: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
    ) -> list[Job]:
        """Finish every unfinished job of `journal`; return them as they ended. A job whose
        create may or may not have reached KIE stays `unknown` (never sent twice)."""
        return self._drive_job(_jobs.resume(journal, download_to, timeout))

    def _drive_job(self, flow: Generator[_jobs.Step, Any, T]) -> T:
        reply: Any = None
        error: Exception | None = None
        while True:
            try:
                step = flow.send(reply) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            reply, error = None, None
            try:
                if isinstance(step, _jobs.Record):
                    reply = _jobs.perform(step)
                else:
                    kwargs = dict(step.kwargs)
                    if isinstance(kwargs.get("on_progress"), _jobs.Recording):
                        kwargs["on_progress"] = kwargs["on_progress"].sync()
                    reply = getattr(self, step.method)(*step.args, **kwargs)
            except KieError as exc:
                error = exc
            except Exception as exc:  # the journal's own failure, thrown where it was asked
                if not isinstance(step, _jobs.Record):
                    raise
                error = exc

    def close(self) -> None:
        """Close the HTTP client if this client created it (an injected one is left open).
        Any later call raises ClientClosedError."""
        self._closed = True
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the driver ----------------------------------------------------------------------------

    def _run(self, flow: Flow[T], on_progress: ProgressCallback | None = None) -> T:
        self._check_open(self._http)
        with contextlib.closing(flow):  # an interrupted flow gives back what it holds
            return self._drive(flow, on_progress)

    def _drive(self, flow: Flow[T], on_progress: ProgressCallback | None) -> T:
        outcome: Outcome = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            outcome = self._act(action, on_progress)

    def _act(self, action: Action, on_progress: ProgressCallback | None) -> Outcome:
        if isinstance(action, Sleep):
            if action.wake_on is not None and self._core.notifier is not None:
                return self._core.notifier.wait_any(action.wake_on, action.seconds)
            self._core.clock.sleep(action.seconds)
        elif isinstance(action, Progress):
            if on_progress is not None:
                on_progress(action.details)
        elif isinstance(action, Resolve):
            return _files.resolve(action)
        elif isinstance(action, Acquire | Reserve | BackOff):
            return perform(action)
        elif isinstance(action, Send):
            try:
                return self._send(action)
            finally:  # answered, failed or interrupted: the slot's period starts now
                if action.permit is not None:
                    release(action.permit)
        return None

    def _finished(
        self,
        task_ids: Iterable[str],
        timeout: float,
        on_progress: ProgressCallback | None,
        request_timeout: float | httpx.Timeout | None,
    ) -> Iterator[Finished]:
        self._check_open(self._http)
        flow = self._core.wait_many(task_ids, self._route, timeout, request_timeout)
        with contextlib.closing(flow):
            outcome: Outcome = None
            while True:
                try:
                    action = flow.send(outcome)
                except StopIteration:
                    return
                if isinstance(action, Finished):
                    outcome = None
                    yield action
                else:
                    outcome = self._act(action, on_progress)

    def _send(self, action: Send) -> Reply | Failure:
        clock, started = self._core.clock, self._core.clock.monotonic()
        budget = Budget(overall(action.timeout))
        escaping: BaseException | None = None
        try:
            return self._exchange(action, budget, started)
        except httpx.HTTPError as exc:
            failed = failure_from(exc, clock.monotonic() - started, budget)
        except KieError as exc:  # ours (a request that cannot be built): as is, bare
            escaping = exc
        except Exception as exc:  # from the caller's http_client: its transport, hooks, codecs
            failed = foreign_failure(exc, clock.monotonic() - started)
        except BaseException as exc:  # KeyboardInterrupt and the like: propagate, bare
            escaping = exc
        if escaping is not None:
            raise stripped(escaping)
        return failed

    def _exchange(self, action: Send, budget: Budget, started: float) -> Reply:
        with action.open() as prepared:
            kwargs = _with_credentials(self._core, prepared, action)
            # Watched from the moment its connection is known: the budget covers connecting,
            # the answer's headers and its body.
            watch = self._watchdog.watch(budget)
            kwargs["extensions"] = {**kwargs.get("extensions", {}), "trace": watch.trace}
            try:
                follow = kwargs.pop("follow_redirects", self._http.follow_redirects)
                request = self._http.build_request(**kwargs, timeout=action.timeout)
                response = self._http.send(request, stream=True, follow_redirects=follow)
                try:
                    watch.found(socket_of(response))  # a transport that does not trace
                    return self._read(response, action, budget, started)
                finally:
                    response.close()
            finally:
                watch.end()

    def _read(
        self, response: httpx.Response, action: Send, budget: Budget, started: float
    ) -> Reply:
        decoder = Decoder.of(response)
        raws = (response.content,) if response.is_stream_consumed else response.iter_raw()
        if action.stream_to is not None and response.is_success:
            with action.stream_to.receiving(response) as part:
                for raw in raws:
                    for chunk in decoder.pieces(raw):
                        budget.check()
                        if not part.write(chunk):
                            return _reply(response, _NOTHING, started, self._core.clock)
                budget.check()
            return _reply(response, _NOTHING, started, self._core.clock)
        body = Collector(_limit_for(action))
        for raw in raws:
            budget.check()
            if not all(body.add(chunk) for chunk in decoder.pieces(raw)):
                break
        budget.check()
        return _reply(response, body, started, self._core.clock)


class AsyncKieClient(_BaseClient):
    """The asyncio twin of KieClient: the same methods, awaited; safe to share between tasks.

    on_progress for wait() may be a plain function or a coroutine function.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        upload_base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        rate_limit: tuple[int, float] | AnyLimiter | None = DEFAULT_RATE_LIMIT,
        http_client: httpx.AsyncClient | None = None,
        validate_requests: bool = True,
        allow_private_downloads: bool = False,
        clock: Clock | None = None,
        poll_schedule: PollSchedule | None = None,
        notifier: Notifier | None = None,
        hooks: Iterable[Hook] | None = None,
        route: str | None = None,
    ) -> None:
        self._route = client_route(route)
        self._core = _make_core(
            api_key,
            base_url,
            upload_base_url,
            timeout,
            max_retries,
            rate_limit,
            validate_requests,
            clock,
            poll_schedule,
            hooks,
            http_client,
            httpx.AsyncClient,
            notifier,
        )
        self._downloads = _files.DownloadPolicy.of(self._core, allow_private_downloads)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self._core.timeout)
        self._abandoned: set[asyncio.Task[Any]] = set()  # exchanges whose callers left

    async def add_instrumental(
        self,
        *,
        upload_url: str,
        title: str,
        tags: str,
        negative_tags: str,
        callback_url: str | None = None,
        model: SunoModel | None = None,
        vocal_gender: AddInstrumentalRequestVocalGender | None = None,
        style_weight: float | None = None,
        weirdness_constraint: float | None = None,
        audio_weight: float | None = None,
        route: str | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> InstrumentalTask:
        """Create a task (costs credits). Never resent when the task may already exist.

        callback_url is optional on the Market route (no callback is sent without it) and
        required on the legacy one. model: the spec's default (V6) when None; a model KIE
        calls discontinued is sent with a DeprecationWarning. The task records its route."""
        fields = dict(
            upload_url=upload_url,
            title=title,
            tags=tags,
            negative_tags=negative_tags,
            callback_url=callback_url,
            model=model,
            vocal_gender=vocal_gender,
            style_weight=style_weight,
            weirdness_constraint=weirdness_constraint,
            audio_weight=audio_weight,
        )
        op = self._core.create_operation(fields, call_route(route, self._route))
        return await self._run(self._core.call(op, request_timeout))

    async def get_task(
        self,
        task: InstrumentalTask | str,
        *,
        route: str | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> TaskDetails:
        """The task's current details, read on its route (a task's own, else `route`, else
        the client's). Unknown id: NotFoundError."""
        task_id, chosen = route_for_call(route, task, self._route)
        op = self._core.task_operation(task_id, chosen)
        return await self._run(self._core.call(op, request_timeout))

    async def wait(
        self,
        task: InstrumentalTask | str,
        *,
        route: str | None = None,
        timeout: float = 600.0,
        on_progress: Callable[[TaskDetails], Any] | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> TaskDetails:
        """Poll until success, failure (TaskFailedError) or the deadline (WaitTimeoutError)."""
        task_id, chosen = route_for_call(route, task, self._route)
        flow = self._core.wait(task_id, chosen, timeout, request_timeout)
        return await self._run(flow, on_progress)

    async def wait_all(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float = 600.0,
        on_progress: Callable[[TaskDetails], Any] | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> dict[str, TaskDetails | KieError]:
        """Wait for many tasks at once (see KieClient.wait_all): one coroutine, one poll at a
        time under the client's rate limit."""
        found = self._finished(task_ids, timeout, on_progress, request_timeout)
        return {done.task_id: done.result async for done in found}

    async def as_completed(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float = 600.0,
        on_progress: Callable[[TaskDetails], Any] | None = None,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> AsyncIterator[TaskDetails | KieError]:
        """wait_all() one task at a time, as each ends (an async iterator)."""
        async for done in self._finished(task_ids, timeout, on_progress, request_timeout):
            yield done.result

    async def get_credits(self, *, request_timeout: float | httpx.Timeout | None = None) -> float:
        """Remaining credits of the account (free; a health check)."""
        return await self._run(self._core.call(self._core.credits_operation(), request_timeout))

    async def upload_file(
        self,
        file: _files.UploadSource,
        *,
        file_name: str | None = None,
        upload_path: str = "kie-instrumental",
        request_timeout: float | httpx.Timeout | None = None,
    ) -> str:
        """Stream a file (path, bytes or binary file object) to KIE's upload host; return its
        public URL (kept 3 days). Stored under a new unique name unless `file_name` is given."""
        op = _files.upload_operation(self._core, file, file_name=file_name, upload_path=upload_path)
        return await self._run(self._core.call(op, request_timeout))

    async def download(
        self,
        source: _files.Downloadable,
        directory: str | os.PathLike[str],
        *,
        request_timeout: float | httpx.Timeout | None = None,
    ) -> list[Path]:
        """Save each track's audio into `directory` (streamed) under new names; return them."""
        task_id = _files.task_id_of(source)
        return [
            await self._run(
                _files.download_flow(
                    self._core, self._downloads, url, dest, task_id, request_timeout
                )
            )
            for url, dest in _files.download_plan(source, directory)
        ]

    async def run_job(
        self,
        journal: Journal,
        *,
        job_key: str | None = None,
        download_to: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
        **fields: Any,
    ) -> Job:
        """KieClient.run_job, awaited (the journal is awaited too: see kie_instrumental.journal)."""
        key = job_key or _jobs.new_job_key()
        return await self._drive_job(
            _jobs.run_job(journal, key, {"route": self._route.name, **fields}, download_to, timeout)
        )

    async def resume(
        self,
        journal: Journal,
        *,
        download_to: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
    ) -> list[Job]:
        """KieClient.resume, awaited."""
        return await self._drive_job(_jobs.resume(journal, download_to, timeout))

    async def _drive_job(self, flow: Generator[_jobs.Step, Any, T]) -> T:
        reply: Any = None
        error: Exception | None = None
        while True:
            try:
                step = flow.send(reply) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            reply, error = None, None
            try:
                if isinstance(step, _jobs.Record):
                    reply = await _jobs.aperform(step)  # never a blocking call on the loop
                else:
                    kwargs = dict(step.kwargs)
                    if isinstance(kwargs.get("on_progress"), _jobs.Recording):
                        kwargs["on_progress"] = kwargs["on_progress"].async_()
                    reply = await getattr(self, step.method)(*step.args, **kwargs)
            except KieError as exc:
                error = exc
            except Exception as exc:  # the journal's own failure, thrown where it was asked
                if not isinstance(step, _jobs.Record):
                    raise
                error = exc

    async def close(self) -> None:
        """Close the HTTP client if this client created it (an injected one is left open).
        Any later call raises ClientClosedError."""
        self._closed = True
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(
        self, flow: Flow[T], on_progress: Callable[[TaskDetails], Any] | None = None
    ) -> T:
        self._check_open(self._http)
        with contextlib.closing(flow):  # a cancelled flow gives back what it holds
            return await self._drive(flow, on_progress)

    async def _drive(self, flow: Flow[T], on_progress: Callable[[TaskDetails], Any] | None) -> T:
        outcome: Outcome = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            outcome = await self._act(action, on_progress)

    async def _act(
        self, action: Action, on_progress: Callable[[TaskDetails], Any] | None
    ) -> Outcome:
        if isinstance(action, Sleep):
            if action.wake_on is not None and self._core.notifier is not None:
                return await self._core.notifier.await_any(action.wake_on, action.seconds)
            await self._core.clock.asleep(action.seconds)
        elif isinstance(action, Progress):
            if on_progress is not None:
                called = on_progress(action.details)
                if isinstance(called, Awaitable):
                    await called
        elif isinstance(action, Resolve):
            return await _files.aresolve(action)
        elif isinstance(action, Acquire | Reserve | BackOff):
            return await aperform(action)  # a shared limiter's I/O is awaited, never blocking
        elif isinstance(action, Send):
            try:
                return await self._send(action)
            finally:  # answered, failed or cancelled: the slot's period starts now
                if action.permit is not None:
                    await arelease(action.permit)
        return None

    async def _finished(
        self,
        task_ids: Iterable[str],
        timeout: float,
        on_progress: Callable[[TaskDetails], Any] | None,
        request_timeout: float | httpx.Timeout | None,
    ) -> AsyncIterator[Finished]:
        self._check_open(self._http)
        flow = self._core.wait_many(task_ids, self._route, timeout, request_timeout)
        with contextlib.closing(flow):
            outcome: Outcome = None
            while True:
                try:
                    action = flow.send(outcome)
                except StopIteration:
                    return
                if isinstance(action, Finished):
                    outcome = None
                    yield action
                else:
                    outcome = await self._act(action, on_progress)

    async def _send(self, action: Send) -> Reply | Failure:
        # The exchange runs in a task of its own that the caller's cancellation does not
        # reach: httpcore, cancelled while it hands a connection back to its pool, loses that
        # connection for good (a few hundred cancellations exhaust a pool). A cancelled caller
        # leaves an exchange whose request is being written to end by itself, within its own
        # budget; one not written yet is dropped (a create the caller gave up on is not sent).
        sending = Sending()
        exchange = asyncio.ensure_future(self._guarded(action, sending))
        try:
            outcome, escaping = await asyncio.shield(exchange)
        except asyncio.CancelledError as cancelled:
            if not exchange.done():
                if sending.started:
                    self._abandoned.add(exchange)
                    exchange.add_done_callback(self._abandoned.discard)
                else:
                    exchange.cancel()
            outcome, escaping = None, cancelled
        if escaping is not None:
            raise stripped(escaping)
        assert outcome is not None
        return outcome

    async def _guarded(
        self, action: Send, sending: Sending
    ) -> tuple[Reply | Failure | None, BaseException | None]:
        """The exchange's outcome, or what must propagate to the caller as is. Nothing is
        raised here: a KeyboardInterrupt raised in a task of its own would leave the event
        loop with every frame below the send (and the request's header) on it."""
        clock, started = self._core.clock, self._core.clock.monotonic()
        budget = Budget(overall(action.timeout))
        try:
            # An anyio scope, not asyncio.timeout: httpcore shields its clean-up (a connection
            # handed back, a failed connect) against anyio's cancellation only; an asyncio one
            # landing there loses the pool's connection for good.
            with anyio.fail_after(budget.seconds):
                return await self._exchange(action, budget, started, sending), None
        except TimeoutError:
            return failure_from(budget.exceeded(), clock.monotonic() - started, budget), None
        except httpx.HTTPError as exc:
            return failure_from(exc, clock.monotonic() - started, budget), None
        except KieError as exc:  # ours (a request that cannot be built): as is, bare
            return None, exc
        except Exception as exc:  # from the caller's http_client: its transport, hooks, codecs
            return foreign_failure(exc, clock.monotonic() - started), None
        except BaseException as exc:  # KeyboardInterrupt and the like: propagate, bare
            return None, exc

    async def _exchange(
        self, action: Send, budget: Budget, started: float, sending: Sending
    ) -> Reply:
        with action.open() as prepared:
            kwargs = _with_credentials(self._core, prepared, action)
            kwargs["extensions"] = {**kwargs.get("extensions", {}), "trace": sending.trace}
            follow = kwargs.pop("follow_redirects", self._http.follow_redirects)
            request = self._http.build_request(**kwargs, timeout=action.timeout)
            response = await self._http.send(request, stream=True, follow_redirects=follow)
            try:
                decoder = Decoder.of(response)
                to_file = action.stream_to is not None and response.is_success
                raws = _RawReader(response, to_file)
                clock = self._core.clock
                if action.stream_to is not None and to_file:
                    with action.stream_to.receiving(response) as part:
                        async for raw in raws:
                            for chunk in decoder.pieces(raw):
                                budget.check()
                                if not part.write(chunk):
                                    return _reply(response, _NOTHING, started, clock, raws.received)
                    return _reply(response, _NOTHING, started, clock, raws.received)
                body = Collector(_limit_for(action))
                async for raw in raws:
                    budget.check()
                    if not all(body.add(chunk) for chunk in decoder.pieces(raw)):
                        break
                return _reply(response, body, started, clock, raws.received)
            finally:
                # In a task of its own: a cancellation landing here must not stop httpcore
                # half-way through handing the connection back.
                await asyncio.shield(asyncio.ensure_future(response.aclose()))
