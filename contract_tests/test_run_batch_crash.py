"""A batch SIGKILLed at random moments (fixed seed) and run again each time with the same
arguments: in the end every item was created exactly once and has its two files; nothing is
lost, nothing paid twice.

A create cut off mid-flight leaves its job unresolved. If its POST reached KIE, FakeKie's signed
callback, carrying the job key in its URL, resolves it (the receiver records it in the journal)
and the run finishes it. If the kill came between the journal's mark and the POST, nothing ever
resolves it: with the opt-in `resubmit_unknown_after`, it is sent again once that grace period
passed with no callback. Hence exactly one create per item.

`make test` kills once in a 10-item batch; `make test-batch-crash` kills 5 times in 50 items."""

from __future__ import annotations

import asyncio
import collections
import json
import multiprocessing
import os
import random
import signal
from pathlib import Path
from typing import Any

from _batch_workers import open_journal, run, write_manifest
from kie_instrumental import webhooks
from kie_instrumental._spec import ADD_INSTRUMENTAL_PATH, MARKET_CREATE_PATH
from kie_instrumental.journal import job_key_from, record_callback
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._server import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FULL = os.environ.get("KIE_BATCH_CRASH") == "full"
ITEMS, KILLS = (50, 5) if FULL else (10, 1)
SEED = 14
# FakeKie's first callback comes about a second after the journal's mark: eight is a wide
# margin on a loaded machine, and what an item killed before its POST waits to be sent again.
GRACE = 8.0
CREATE_PATHS = (ADD_INSTRUMENTAL_PATH, MARKET_CREATE_PATH)
HOLD = 0.3  # seconds before a create's POST, and before its answer
SPAWN = multiprocessing.get_context("spawn")


def receiver(spec: tuple[str, ...], secret: str) -> Starlette:
    """Hands each verified callback and its URL's job key to the journal."""

    async def callback(request: Request) -> Response:
        event = webhooks.unwrap(await request.body(), request.headers, secret)
        record_callback(open_journal(spec), event, job_key_from(str(request.url)))
        return Response("ok")

    return Starlette(routes=[Route("/kie/callback", callback, methods=["POST"])])


def answering_late(app: Any, seconds: float) -> Any:
    """FakeKie, answering each create `seconds` after it created the task: a kill lands more
    often between the create reaching KIE and its answer."""

    async def late(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in CREATE_PATHS:
            return await app(scope, receive, send)

        async def delayed(message: Any) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(seconds)
            await send(message)

        return await app(scope, receive, delayed)

    return late


def test_killed_at_random_moments_then_resumed_creates_each_item_exactly_once(
    tmp_path: Path,
) -> None:
    kie = FakeKie(rate_limit=None, stage_seconds=0.3, callbacks="loopback", audio_seconds=0.2)
    manifest = write_manifest(tmp_path / "batch.csv", ITEMS)
    out = tmp_path / "out"
    spec = ("sqlite", str(tmp_path / "journal.sqlite3"))
    rng = random.Random(SEED)
    with (
        serve_in_thread(answering_late(kie.app, HOLD)) as base_url,
        serve_in_thread(receiver(spec, kie.webhook_secret)) as hook,
    ):
        args = (spec, base_url, kie.api_key, str(manifest), str(out), f"{hook}/kie/callback")
        options = {"resubmit_unknown_after": GRACE, "hold_creates": HOLD}
        killed = 0
        for _ in range(KILLS):
            worker = SPAWN.Process(target=run, args=args, kwargs=options)
            worker.start()
            worker.join(timeout=rng.uniform(0.8, 3.0))  # a random moment of the run
            if worker.is_alive():
                os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
                killed += 1
            worker.join(timeout=30)
        assert killed >= 1, "every run ended before its kill: the test proved nothing"
        report = run(*args, **options)  # the same arguments, to the end this time

    rows = json.loads(report.json_path.read_text())
    assert report.counts == {"done": ITEMS} and not report.unknown
    titles = collections.Counter(task.request["title"] for task in kie.tasks.values())
    assert len(kie.tasks) == ITEMS and set(titles.values()) == {1}, "an item created twice"
    assert {r["task_id"] for r in rows} == set(kie.tasks)
    files = sorted(out.glob("*/*.wav"))
    assert len(files) == 2 * ITEMS and not list(out.glob("*/.part-*"))
    assert {f.parent.name for f in files} == {r["job_key"] for r in rows}
