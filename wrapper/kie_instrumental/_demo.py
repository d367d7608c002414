"""`kie-instrumental demo`: the whole flow against the embedded fake, no key, no network.

Starts FakeKie and a webhook receiver on loopback ports, submits KIE's documented request
example (read from the packaged spec, on the chosen route: market by default, or legacy) with
callBackUrl pointed at the receiver, shows each signed callback as it is verified (legacy: text,
first, complete; market: one when the task ends), waits listening: the receiver publishes each
verified callback to a notifier that wakes the wait (polling is only its safety net), downloads
the tracks, prints a summary.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from . import _spec
from ._cli import shown_status
from ._client import AsyncKieClient, KieClient
from ._models import CallbackEvent, TaskDetails
from ._routes import client_route
from ._validation import python_name
from .events import Event, RequestSent
from .notify import LocalNotifier
from .receivers import CALLBACK_PATH, starlette_app
from .testing import FakeKie
from .testing._server import serve_app

_EXAMPLES = {  # route -> (create path, name of its documented request example in the spec)
    "legacy": (_spec.ADD_INSTRUMENTAL_PATH, "documented"),
    "market": (_spec.MARKET_CREATE_PATH, "documentedFields"),
}


def documented_example(route: str = "legacy") -> dict[str, Any]:
    """KIE's documented request example on `route`, as the spec records it."""
    path, name = _EXAMPLES[route]
    operation = _spec.load_spec()["paths"][path]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    return dict(examples[name]["value"])


def documented_keywords(route: str, callback_url: str) -> dict[str, Any]:
    """The documented example as add_instrumental's keyword arguments, with callback_url."""
    request = documented_example(route)
    fields = request.get("input", request)
    keywords = {python_name(k): v for k, v in fields.items() if k != "callBackUrl"}
    return {**keywords, "callback_url": callback_url}


class _Console:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            print(f"[{time.monotonic() - self.started:5.1f}s] {text}", flush=True)


def run_demo(out: Path, *, stage_seconds: float = 1.5, route: str | None = None) -> int:
    route = client_route(route).name  # the argument, else $KIE_ROUTE, else market
    console = _Console()
    fake = FakeKie(stage_seconds=stage_seconds, callbacks="loopback")
    complete = threading.Event()
    notifier = LocalNotifier()  # the receiver wakes the client's wait()
    polls: list[RequestSent] = []  # the client's requests about a task: its status polls

    def count_polls(event: Event) -> None:
        if isinstance(event, RequestSent) and event.task_id is not None:
            polls.append(event)

    def on_callback(event: CallbackEvent) -> None:
        console.say(
            f"callback '{event.stage}' received, signature verified, confirmed with KIE "
            f"({len(event.tracks)} tracks)"
        )
        notifier.publish(event.task_id, event.stage)
        if event.is_final:
            complete.set()

    with contextlib.ExitStack() as stack:
        api = stack.enter_context(fake.serve())
        # The receiver asks KIE (here the fake) before trusting a callback's unsigned body.
        confirmer = AsyncKieClient(api_key=fake.api_key, base_url=api)
        receiver = starlette_app(fake.webhook_secret, on_callback, confirm_with=confirmer)
        hook = stack.enter_context(serve_app(receiver))
        console.say(f"FakeKie on {api}, webhook receiver on {hook}{CALLBACK_PATH}")
        client = stack.enter_context(
            KieClient(
                api_key=fake.api_key,
                base_url=api,
                upload_base_url=api,
                route=route,
                notifier=notifier,
                hooks=[count_polls],
            )
        )
        console.say(f"credits before: {client.get_credits():g}")
        keywords = documented_keywords(route, hook + CALLBACK_PATH)
        console.say(
            f"submitting KIE's documented example on the {route} route: "
            f"'{keywords['title']}', tags '{keywords['tags']}'"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the example's model is old
            task = client.add_instrumental(**keywords)
        console.say(f"task {task.task_id} created")

        def on_progress(details: TaskDetails) -> None:
            console.say(f"poll: status {shown_status(details)}")

        console.say("waiting: woken by the final callback, a safety poll a minute meanwhile")
        details = client.wait(task, timeout=120, on_progress=on_progress)
        console.say(f"done after {len(polls)} status polls")
        if not complete.wait(timeout=10):
            console.say("the final callback did not arrive; the polled result stands")
        files = client.download(details, out)
        console.say(f"credits after: {client.get_credits():g}")
    print()
    print(f"Task      {details.task_id}  ({details.status})")
    for track, path in zip(details.tracks, files, strict=True):
        print(f"Track     {track.id}  {track.duration or 0:.1f} s  -> {path}")
    print(f"Callbacks {', '.join(stage for stage, _ in fake.tasks[task.task_id].callbacks)}")
    return 0
