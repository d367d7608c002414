"""`kie-instrumental demo --batch`: a 20-item batch against the embedded fake, interrupted with
SIGKILL part way and run again with the same arguments, offline.

FakeKie and a callback receiver run on loopback ports; 20 synthetic vocal files are written to
a folder; `kie-instrumental batch` runs in a child process and is killed once 8 tasks exist,
then the same command runs again here and finishes: 20 creates in all, 40 files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import webhooks
from ._batch import JOURNAL_NAME
from .journal import SQLiteJournal, job_key_from, record_callback
from .testing import FakeKie
from .testing._audio import synth_wav
from .testing._server import serve_app

ITEMS = 20
KILL_AFTER = 8


def _receiver(journal_path: Path, secret: str) -> object:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def callback(request: Request) -> Response:
        event = webhooks.unwrap(await request.body(), request.headers, secret)
        # A create cut off by the kill learns its task id from its callback's job key.
        record_callback(SQLiteJournal(journal_path), event, job_key_from(str(request.url)))
        return Response("ok")

    return Starlette(routes=[Route("/kie/callback", callback, methods=["POST"])])


def run_demo_batch(out: Path, *, stage_seconds: float = 1.0) -> int:
    from ._cli import main

    vocals, result = out / "vocals", out / "result"
    vocals.mkdir(parents=True, exist_ok=True)
    for i in range(ITEMS):
        (vocals / f"vocal-{i:02d}.wav").write_bytes(synth_wav(0.5, seed=i))
    result.mkdir(parents=True, exist_ok=True)
    fake = FakeKie(stage_seconds=stage_seconds, callbacks="loopback", audio_seconds=0.5)
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(fake.serve())
        hook = stack.enter_context(serve_app(_receiver(result / JOURNAL_NAME, fake.webhook_secret)))
        SQLiteJournal(result / JOURNAL_NAME)  # the receiver may write before the first run
        argv = [
            "--base-url", api, "--upload-base-url", api,
            "batch", str(vocals), "--out", str(result), "--concurrency", "6",
            "--callback-url", f"{hook}/kie/callback",
            "--tags", "warm piano, soft strings", "--negative-tags", "heavy drums",
        ]  # fmt: skip
        env = {**os.environ, "KIE_API_KEY": fake.api_key}
        print(f"FakeKie on {api} (KIE's 20 requests / 10 s limit), {ITEMS} vocals in {vocals}")
        print(f"$ kie-instrumental {' '.join(argv)}", flush=True)
        command = [sys.executable, "-m", "kie_instrumental", *argv]
        child = subprocess.Popen(command, env=env)  # noqa: S603 - our own CLI
        deadline = time.monotonic() + 120
        while len(fake.tasks) < KILL_AFTER and child.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            child.wait()
            print(f"\n*** killed with SIGKILL after {len(fake.tasks)} creates; running again ***")
        os.environ["KIE_API_KEY"] = fake.api_key
        print(f"$ kie-instrumental {' '.join(argv)}", flush=True)
        code = main(argv)
        if code != 0:
            # A create cut off by the kill is `unknown` until its callback (carrying the job
            # key) reaches the receiver; then one more run finishes it.
            print("\n*** waiting for the callbacks of unknown creates; running again ***")
            time.sleep(3 * stage_seconds + 1)
            code = main(argv)
        files = list(result.glob("*/*.wav"))
        print(f"\nFakeKie received {len(fake.tasks)} creates for {ITEMS} items; {len(files)} files")
    return code
