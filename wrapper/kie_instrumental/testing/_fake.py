"""FakeKie: an ASGI app that behaves like KIE for every path in the spec.

Bearer auth; request validation from the spec, answered the way KIE answers (HTTP 200, body
code 422, a message naming the field); HTTP 429 above the rate limit; the lifecycle PENDING ->
TEXT_SUCCESS -> FIRST_SUCCESS -> SUCCESS, one stage every `stage_seconds`; record-info,
credits, file upload; signed callbacks tried up to 3 times like KIE; two tracks per task with
audio it synthesises and serves itself; fault injection. Answers and callbacks are shaped like
recorded KIE traffic, not like KIE's docs (see the README). Needs the `fake` extra (starlette).

Switches: `skipped_callbacks=("text", "first")` leaves out those stages, as KIE sometimes does;
`callback_app=` delivers every callback to that ASGI app in-process (no port, no network).

In-process: `httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))`. On a loopback
port: `with fake.serve() as base_url: ...` or `kie-instrumental fake-server --port N`.

This module assembles the parts, each in its own module: `_gate` (faults, auth, rate limit),
`_lifecycle` (tasks, credits, stages), `_outgoing` (signed callbacks with retries), `_files`
(result audio and images), `_uploads` (the upload host), and one module per API route
(`_legacy`: add-instrumental and record-info; `_market`: jobs/createTask and jobs/recordInfo,
each serving only the tasks it created).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import _spec
from .._clock import SYSTEM_CLOCK, Clock
from .._validation import Violation, request_validator
from ._answers import envelope
from ._files import TrackFiles
from ._gate import Fault, Gate
from ._legacy import SKIPPABLE_CALLBACKS, LegacyRoute
from ._lifecycle import FakeTask, Lifecycle
from ._market import MarketRoute
from ._outgoing import CallbackMode, CallbackSender
from ._uploads import Uploads

CREDIT_PATH = "/api/v1/chat/credit"


class FakeKie:
    """A KIE stand-in for tests, demos and other teams' services. See the module docstring."""

    def __init__(
        self,
        *,
        api_key: str = "fake-kie-key",
        webhook_secret: str = "fake-webhook-secret",  # noqa: S107 - a test fixture
        stage_seconds: float = 0.0,
        rate_limit: tuple[int, float] | None = (20, 10.0),
        credits: float | None = 1000.0,
        task_cost: float = 12.0,
        callbacks: CallbackMode = "loopback",
        callback_retry_delay: float = 0.5,
        audio_seconds: float = 4.0,
        tracks_per_task: int = 2,
        clock: Clock | None = None,
        skipped_callbacks: Collection[str] = (),
        callback_app: Any = None,
    ) -> None:
        unknown = set(skipped_callbacks) - set(SKIPPABLE_CALLBACKS)
        if isinstance(skipped_callbacks, str) or unknown:
            raise ValueError(
                f"skipped_callbacks: must be a collection of {SKIPPABLE_CALLBACKS}, "
                f"got {skipped_callbacks!r}"
            )
        self.skipped_callbacks = frozenset(skipped_callbacks)
        self.clock = clock or SYSTEM_CLOCK
        self.gate = Gate(api_key, rate_limit, self.clock)
        self.lifecycle = Lifecycle(
            stage_seconds=stage_seconds, credits=credits, task_cost=task_cost, clock=self.clock
        )
        self.sender = CallbackSender(
            mode=callbacks,
            secret=webhook_secret,
            retry_delay=callback_retry_delay,
            clock=self.clock,
            app=callback_app,
        )
        self.files = TrackFiles(audio_seconds=audio_seconds, tracks_per_task=tracks_per_task)
        self.upload_host = Uploads(self.gate, self.clock)
        self.legacy = LegacyRoute(self)
        self.market = MarketRoute(self)
        self.app = Starlette(
            routes=[
                *self.legacy.routes(),
                *self.market.routes(),
                Route(CREDIT_PATH, self._credit, methods=["GET"]),
                *self.upload_host.routes(),
                *self.files.routes(lambda task_id: task_id in self.tasks),
            ]
        )

    # -- settings and state, kept by the parts ----------------------------------------------------

    @property
    def api_key(self) -> str:
        return self.gate.api_key

    @property
    def webhook_secret(self) -> str:
        return self.sender.secret

    @property
    def callbacks(self) -> CallbackMode:
        return self.sender.mode

    @property
    def rate_limit(self) -> tuple[int, float] | None:
        return self.gate.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: tuple[int, float] | None) -> None:
        self.gate.rate_limit = value

    @property
    def stage_seconds(self) -> float:
        return self.lifecycle.stage_seconds

    @stage_seconds.setter
    def stage_seconds(self, value: float) -> None:
        self.lifecycle.stage_seconds = value

    @property
    def credits(self) -> float | None:
        return self.lifecycle.credits

    @credits.setter
    def credits(self, value: float | None) -> None:
        self.lifecycle.credits = value

    @property
    def tasks(self) -> dict[str, FakeTask]:
        return self.lifecycle.tasks

    @property
    def uploads(self) -> dict[str, tuple[Path, str]]:
        return self.upload_host.files

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request seen."""
        return self.gate.requests

    # -- switches and fault injection -----------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        code: int | None = 500,
        http_status: int = 200,
        text: str | None = None,
        content_type: str = "text/plain",
    ) -> None:
        """The next `count` API requests answer body `code` (in the envelope) with
        `http_status`; with `text`, that raw body instead (HTML pages, "error code: 1010")."""
        self.gate.faults.append(Fault(count, http_status, code, text, content_type))

    def fail_next_task(self, status: str = "GENERATE_AUDIO_FAILED") -> None:
        """The next created task ends in `status` instead of SUCCESS."""
        self.lifecycle.next_failures.append(status)

    def request_violations(self, body: object, route: str = "legacy") -> list[Violation]:
        """The spec's rules broken by a create request of `route` (the wrapper's validator,
        shared). The Market route's fields are named `input.<field>`."""
        path = _spec.MARKET_CREATE_PATH if route == "market" else _spec.ADD_INSTRUMENTAL_PATH
        return request_validator(_spec.request_schema_name(path)).violations(body)

    def status_of(self, task: FakeTask) -> str:
        return self.lifecycle.status_of(task)

    # -- credits --------------------------------------------------------------------------------

    async def _credit(self, request: Request) -> Response:
        refused = self.gate.refuse(request, counted=True)
        if refused is not None:
            return refused
        return envelope(200, "success", 1e9 if self.credits is None else self.credits)

    # -- callbacks in flight ----------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until every callback in flight was delivered or given up."""
        await self.sender.drain()

    async def aclose(self) -> None:
        """Cancel callbacks still in flight."""
        await self.sender.aclose()

    # -- a real server on loopback ---------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on a loopback port in a background thread; yields the base URL."""
        from ._server import serve_app

        with serve_app(self.app, host, port) as base_url:
            yield base_url
