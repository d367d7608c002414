"""A batch SIGKILLed at random moments (fixed seed) and run again each time with the same
arguments: in the end every item was created exactly once and has its two files; nothing is
lost, nothing paid twice. A create cut off mid-flight leaves its job `unknown`; FakeKie's signed
callback, carrying the job key in its URL, resolves it and the next run finishes it.

`make test` kills once in a 10-item batch; `make test-batch-crash` kills 5 times in 50 items."""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

from _batch_workers import open_journal, run, write_manifest
from kie_instrumental import webhooks
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
SPAWN = multiprocessing.get_context("spawn")


def receiver(spec: tuple[str, ...], secret: str) -> Starlette:
    """Hands each verified callback and its URL's job key to the journal."""

    async def callback(request: Request) -> Response:
        event = webhooks.unwrap(await request.body(), request.headers, secret)
        record_callback(open_journal(spec), event, job_key_from(str(request.url)))
        return Response("ok")

    return Starlette(routes=[Route("/kie/callback", callback, methods=["POST"])])


def test_killed_at_random_moments_then_resumed_creates_each_item_once(tmp_path: Path) -> None:
    kie = FakeKie(rate_limit=None, stage_seconds=0.3, callbacks="loopback", audio_seconds=0.2)
    manifest = write_manifest(tmp_path / "batch.csv", ITEMS)
    out = tmp_path / "out"
    spec = ("sqlite", str(tmp_path / "journal.sqlite3"))
    rng = random.Random(SEED)
    with (
        serve_in_thread(kie.app) as base_url,
        serve_in_thread(receiver(spec, kie.webhook_secret)) as hook,
    ):
        args = (spec, base_url, kie.api_key, str(manifest), str(out), f"{hook}/kie/callback")
        killed = 0
        for _ in range(KILLS):
            worker = SPAWN.Process(target=run, args=args)
            worker.start()
            worker.join(timeout=rng.uniform(0.8, 3.0))  # a random moment of the run
            if worker.is_alive():
                os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
                killed += 1
            worker.join(timeout=30)
        assert killed >= 1, "every run ended before its kill: the test proved nothing"
        report = run(*args)
        deadline = time.monotonic() + 15
        while report.unknown and time.monotonic() < deadline:
            time.sleep(0.5)  # the callback of a create cut off mid-flight resolves its job
            report = run(*args)

    rows = json.loads(report.json_path.read_text())
    titles = collections.Counter(task.request["title"] for task in kie.tasks.values())
    assert set(titles.values()) == {1}, "an item was created twice"
    never_sent = [r for r in rows if r["status"] == "unknown"]
    # Only a create killed between its journal mark and its send stays unknown: never sent.
    assert all(r["task_id"] is None for r in never_sent)
    assert len(kie.tasks) + len(never_sent) == ITEMS
    done = [r for r in rows if r["status"] == "done"]
    assert len(done) == len(kie.tasks) and {r["task_id"] for r in done} == set(kie.tasks)
    files = sorted(out.glob("*/*.wav"))
    assert len(files) == 2 * len(done) and not list(out.glob("*/.part-*"))
    assert {f.parent.name for f in files} == {r["job_key"] for r in done}
