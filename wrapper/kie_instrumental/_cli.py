"""The `kie-instrumental` command. Expected errors print one line and exit with a code below;
only a bug shows a traceback.

Exit codes: 0 done · 2 usage · 3 configuration (no KIE_API_KEY) · 4 invalid request ·
5 authentication or permission · 6 insufficient credits · 7 rate limited or unavailable ·
8 server, connection or timeout error · 9 the task failed · 10 wait deadline passed ·
11 any other KIE error · 12 `resume` left jobs unfinished (unknown or still running) ·
130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from ._client import KieClient
from ._errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    InsufficientCreditsError,
    InvalidRequestError,
    KieError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    TaskFailedError,
    WaitTimeoutError,
)
from ._models import TaskDetails
from ._version import __version__

EXIT_CODES: tuple[tuple[type[KieError], int], ...] = (
    (ConfigurationError, 3),
    (InvalidRequestError, 4),
    (AuthenticationError, 5),
    (PermissionDeniedError, 5),
    (InsufficientCreditsError, 6),
    (RateLimitError, 7),
    (ServiceUnavailableError, 7),
    (ServerError, 8),
    (APIConnectionError, 8),
    (TaskFailedError, 9),
    (WaitTimeoutError, 10),
)


def exit_code_for(error: KieError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 11


class LiveStatus:
    """Shows the current stage and the elapsed time while waiting: one line redrawn on a
    terminal, one line per change otherwise (logs, CI)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.stage = "submitted"
        self.started = time.monotonic()
        self._tty = stream.isatty()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> LiveStatus:
        if self._tty:
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._tty:
            self._ticker.join()
            self.stream.write("\n")

    def update(self, details: TaskDetails) -> None:
        self.stage = str(details.status)
        if not self._tty:
            self.stream.write(f"{self._line()}\n")
            self.stream.flush()

    def _line(self) -> str:
        return f"  stage {self.stage:<16} elapsed {time.monotonic() - self.started:6.1f} s"

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            self.stream.write(f"\r{self._line()}")
            self.stream.flush()


def _print_details(details: TaskDetails, files: Sequence[Path], as_json: bool) -> None:
    if as_json:
        document: dict[str, Any] = attrs.asdict(details, recurse=True, value_serializer=_json_value)
        document["files"] = [str(path) for path in files]
        print(json.dumps(document, indent=2))
        return
    print(f"task {details.task_id}: {details.status}")
    for track in details.tracks:
        duration = f"{track.duration:.1f} s" if track.duration is not None else "unfinished"
        print(f"  track {track.id or '-'} ({duration}): {track.audio_url or '-'}")
    for path in files:
        print(f"  saved {path}")


def _json_value(_instance: Any, _field: Any, value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _client(args: argparse.Namespace) -> KieClient:
    return KieClient(base_url=args.base_url, upload_base_url=args.upload_base_url)


def _wait_and_report(client: KieClient, task_id: str, args: argparse.Namespace) -> None:
    with LiveStatus(sys.stderr) as live:
        details = client.wait(task_id, timeout=args.timeout, on_progress=live.update)
    files = client.download(details, args.download) if args.download else []
    _print_details(details, files, args.json)


def cmd_add(args: argparse.Namespace) -> int:
    with _client(args) as client:
        upload_url = args.upload_url or client.upload_file(args.file)
        task = client.add_instrumental(
            upload_url=upload_url,
            title=args.title,
            tags=args.tags,
            negative_tags=args.negative_tags,
            callback_url=args.callback_url,
            model=args.model,
            vocal_gender=args.vocal_gender,
            style_weight=args.style_weight,
            weirdness_constraint=args.weirdness_constraint,
            audio_weight=args.audio_weight,
        )
        if args.json and not args.wait:
            print(json.dumps({"task_id": task.task_id}))
        else:
            print(f"task {task.task_id} created", file=sys.stderr if args.json else sys.stdout)
        if args.wait:
            _wait_and_report(client, task.task_id, args)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_details(client.get_task(args.task_id), [], args.json)
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _wait_and_report(client, args.task_id, args)
    return 0


def cmd_credits(args: argparse.Namespace) -> int:
    with _client(args) as client:
        credits = client.get_credits()
    print(json.dumps({"credits": credits}) if args.json else f"{credits:g} credits")
    return 0


def _journal(location: str, prefix: str) -> Any:
    """A redis:// (or rediss://) URL: the Redis journal; anything else: a SQLite file."""
    if location.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .redis_backend import RedisJournal
        except ImportError:
            raise ConfigurationError(
                "a Redis journal needs redis-py: pip install 'kie-instrumental[redis]'"
            ) from None
        return RedisJournal(location, prefix=prefix)
    from .journal import SQLiteJournal

    return SQLiteJournal(location)


def cmd_resume(args: argparse.Namespace) -> int:
    journal = _journal(args.journal, args.prefix)
    with _client(args) as client:
        jobs = client.resume(journal, download_to=args.download, timeout=args.timeout)
    if args.json:
        print(json.dumps([attrs.asdict(job) for job in jobs], indent=2))
    for job in [] if args.json else jobs:
        files = f" {len(job.files)} files" if job.files else ""
        print(f"{job.key}  {job.state}  {job.task_id or '-'}{files}")
    return 12 if any(not job.finished for job in jobs) else 0


def _needs_fake_extra() -> None:
    """`demo` and `fake-server` need starlette and uvicorn: say how to get them."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "this command needs the fake server's packages: pip install 'kie-instrumental[fake]'"
        ) from None


def cmd_fake_server(args: argparse.Namespace) -> int:
    _needs_fake_extra()
    from .testing import FakeKie

    switches: dict[str, Any] = {}
    if args.no_rate_limit:
        switches["rate_limit"] = None
    if args.unlimited_credits:
        switches["credits"] = None
    fake = FakeKie(stage_seconds=args.stage_seconds, callbacks=args.callbacks, **switches)
    import uvicorn

    print(
        f"FakeKie on http://{args.host}:{args.port}  api key: {fake.api_key}  "
        f"webhook secret: {fake.webhook_secret}",
        flush=True,
    )
    uvicorn.run(fake.app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _needs_fake_extra()
    from ._demo import run_demo

    return run_demo(Path(args.out), stage_seconds=args.stage_seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kie-instrumental",
        description="KIE.AI Add Instrumental to Music, from the command line. The API key is "
        "read from KIE_API_KEY (never from the command line, where other users could see it).",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show retries, rate-limit waits and task failures as they happen (on stderr)",
    )
    parser.add_argument("--base-url", help="API base URL (default: $KIE_BASE_URL or KIE's)")
    parser.add_argument("--upload-base-url", help="file upload host (default: KIE's)")
    commands = parser.add_subparsers(dest="command", required=True)

    def waiting(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--timeout",
            type=float,
            default=600.0,
            help="overall wait deadline in seconds (default 600)",
        )
        sub.add_argument("--download", metavar="DIR", help="save the tracks into DIR")
        sub.add_argument("--json", action="store_true", help="print JSON")

    add = commands.add_parser("add", help="create an add-instrumental task")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--upload-url", help="public URL of the vocal track")
    source.add_argument("--file", type=Path, help="a local file, uploaded first (kept 3 days)")
    add.add_argument("--title", required=True)
    add.add_argument("--tags", required=True, help="styles to include")
    add.add_argument("--negative-tags", required=True, help="styles to exclude (may be '')")
    add.add_argument(
        "--callback-url",
        required=True,
        help="where KIE sends results: required, so they go nowhere unintended",
    )
    add.add_argument("--model", help="V4_5PLUS (default), V5 or V5_5")
    add.add_argument("--vocal-gender", help="m or f")
    add.add_argument("--style-weight", type=float)
    add.add_argument("--weirdness-constraint", type=float)
    add.add_argument("--audio-weight", type=float)
    add.add_argument("--wait", action="store_true", help="wait for the result")
    waiting(add)
    add.set_defaults(run=cmd_add)

    status = commands.add_parser("status", help="show a task's details")
    status.add_argument("task_id")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=cmd_status)

    wait = commands.add_parser("wait", help="wait for a task to finish")
    wait.add_argument("task_id")
    waiting(wait)
    wait.set_defaults(run=cmd_wait)

    credits = commands.add_parser("credits", help="remaining credits")
    credits.add_argument("--json", action="store_true")
    credits.set_defaults(run=cmd_credits)

    resume = commands.add_parser(
        "resume", help="finish every unfinished job of a task journal (after a crash)"
    )
    resume.add_argument(
        "--journal", required=True, help="a SQLite file, or a redis:// URL for a Redis journal"
    )
    resume.add_argument("--prefix", default="kie", help="Redis key prefix (default kie)")
    waiting(resume)
    resume.set_defaults(run=cmd_resume)

    fake = commands.add_parser("fake-server", help="run FakeKie on a loopback port")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8000)
    fake.add_argument("--stage-seconds", type=float, default=2.0)
    fake.add_argument("--no-rate-limit", action="store_true")
    fake.add_argument("--unlimited-credits", action="store_true")
    fake.add_argument("--callbacks", choices=("off", "loopback", "any"), default="loopback")
    fake.set_defaults(run=cmd_fake_server)

    demo = commands.add_parser("demo", help="the whole flow against the embedded fake server")
    demo.add_argument("--out", default="demo-output", help="where the tracks are saved")
    demo.add_argument("--stage-seconds", type=float, default=1.5)
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _verbose(args.verbose):
        return _run(args)


@contextlib.contextmanager
def _verbose(on: bool) -> Iterator[None]:
    """--verbose: the library's INFO lines (retries, waits, failures) on stderr while running."""
    if not on:
        yield
        return
    log = logging.getLogger("kie_instrumental")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kie-instrumental: %(message)s"))
    previous = log.level
    log.addHandler(handler)
    if not log.isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.run(args)
    except KieError as error:
        print(f"kie-instrumental: error: {error}", file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("kie-instrumental: interrupted", file=sys.stderr)
        return 130
    return code
