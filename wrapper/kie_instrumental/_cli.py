"""The `kie-instrumental` command. Expected errors print one line and exit with a code below;
only a bug shows a traceback.

Exit codes: 0 done · 2 usage · 3 configuration (no KIE_API_KEY) · 4 invalid request ·
5 authentication or permission · 6 insufficient credits · 7 rate limited or unavailable ·
8 server, connection or timeout error · 9 the task failed · 10 wait deadline passed ·
11 any other KIE error · 12 `resume` or `batch` left jobs unfinished (unknown, failed, ...) ·
13 fake-server's port is in use · 130 interrupted (the last line repeats the task id and the
command that resumes waiting).

Every option is checked before anything is uploaded or paid for.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import math
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import attrs

from . import _spec
from ._client import KieClient
from ._core import bounded_seconds
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


PORT_IN_USE = 13


def exit_code_for(error: KieError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 11


def shown_status(details: TaskDetails) -> str:
    """One vocabulary on screen: the normalised status (a running state this version does not
    name, such as the Market route's `waiting`, shows as RUNNING), the route's own word in
    brackets when it differs: `RUNNING [queuing]`, `SUCCESS [success]`, `TEXT_SUCCESS`."""
    status = details.status
    shown = str(status) if status.is_known or status.is_terminal else "RUNNING"
    raw = details.raw_status
    return f"{shown} [{raw}]" if raw and raw != shown else shown


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
        self.stage = shown_status(details)
        if not self._tty:
            self.stream.write(f"{self._line()}\n")
            self.stream.flush()

    def _line(self) -> str:
        return f"  stage {self.stage:<24} elapsed {time.monotonic() - self.started:6.1f} s"

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
    return KieClient(base_url=args.base_url, upload_base_url=args.upload_base_url, route=args.route)


def _wait_and_report(client: KieClient, task_id: str, args: argparse.Namespace) -> None:
    with LiveStatus(sys.stderr) as live:
        details = client.wait(task_id, timeout=args.timeout, on_progress=live.update)
    files = client.download(details, args.download) if args.download else []
    _print_details(details, files, args.json)


def _create_fields(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "upload_url": args.upload_url,
        "title": args.title,
        "tags": args.tags,
        "negative_tags": args.negative_tags,
        "callback_url": args.callback_url,
        "model": args.model,
        "vocal_gender": args.vocal_gender,
        "style_weight": args.style_weight,
        "weirdness_constraint": args.weirdness_constraint,
        "audio_weight": args.audio_weight,
    }


def _check_add(args: argparse.Namespace) -> None:
    """Every rule the request, the file and the download folder must meet, checked before the
    upload and the paid create: all invalid fields at once, as the client reports them."""
    from . import _files
    from ._routes import client_route
    from ._validation import errors_of, python_name, request_validator

    if args.file is not None:
        _files._local_file(args.file)
    if args.download is not None:
        folder = Path(args.download)
        if folder.exists() and not folder.is_dir():
            raise InvalidRequestError(
                f"--download: must be a directory, not a file, got {str(folder)!r}",
                field="directory",
                rule="type",
            )
    route = client_route(args.route)  # the rules of the route the task will be created on
    wire = route.create_body(_create_fields(args))
    uploaded = {"upload_url"} if args.file is not None else set()
    violations = [
        v
        for v in request_validator(route.create_schema).violations(wire)
        if python_name(v.field) not in uploaded
    ]
    if violations:
        raise errors_of(violations)


def cmd_add(args: argparse.Namespace) -> int:
    _check_add(args)
    with _client(args) as client:
        upload_url = args.upload_url or client.upload_file(args.file)
        args.creating = True  # from here on an interruption may leave a task behind
        task = client.add_instrumental(**{**_create_fields(args), "upload_url": upload_url})
        args.task_id = task.task_id
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
    if args.json:
        print(json.dumps({"credits": int(credits) if credits.is_integer() else credits}))
    else:
        print(f"{_plain(credits)} credits")
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


def _plain(number: float) -> str:
    """A number as people write it: 1000000, 12.5, never 1e+06."""
    return str(int(number)) if number.is_integer() else format(Decimal(repr(number)), "f")


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
    listener = _listen(args.host, args.port)
    if listener is None:
        return PORT_IN_USE
    fake = FakeKie(stage_seconds=args.stage_seconds, callbacks=args.callbacks, **switches)
    import uvicorn

    print(
        f"FakeKie on http://{args.host}:{args.port}  api key: {fake.api_key}  "
        f"webhook secret: {fake.webhook_secret}",
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(fake.app, log_level="warning"))
    with listener:
        server.run(sockets=[listener])
    return 0


def _listen(host: str, port: int) -> socket.socket | None:
    """The listening socket, bound here so that a busy port is one clear line and its own exit
    code (uvicorn would log a traceback-like error and exit 1)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigurationError(f"--host: cannot listen on {host!r} ({exc.strerror})") from None
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            print(
                f"kie-instrumental: error: port {port} on {host} is already in use: "
                "stop what uses it or choose another with --port",
                file=sys.stderr,
            )
            return None
        raise ConfigurationError(
            f"--host/--port: cannot listen on {host}:{port} ({exc.strerror})"
        ) from None
    return listener


def cmd_demo(args: argparse.Namespace) -> int:
    _needs_fake_extra()
    if args.batch:
        from ._demo_batch import run_demo_batch

        return run_demo_batch(Path(args.out))
    from ._demo import run_demo

    return run_demo(Path(args.out), stage_seconds=args.stage_seconds, route=args.route)


def _model_help() -> str:
    """The spec's models: the default, the current ones, the discontinued ones."""
    models = _spec.schema("SunoModel")
    old = models.get("x-discontinued", [])
    current = [m for m in models["enum"] if m not in old]
    return (
        f"{', '.join(current)} (default {models['default']}); "
        f"discontinued, sent with a warning: {', '.join(old)}"
    )


def _seconds(text: str) -> float:
    """--timeout: the client's own rule for a wait deadline, as a usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    try:
        return bounded_seconds(value, "--timeout")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _stage_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 3600):
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def _enum(wire_name: str) -> tuple[str, ...]:
    """The values the spec allows for a field of the create request."""
    from ._validation import resolve

    schema = _spec.schema(_spec.request_schema_name(_spec.ADD_INSTRUMENTAL_PATH))
    return tuple(resolve(schema["properties"][wire_name])["enum"])


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
    parser.add_argument(
        "--upload-base-url", help="file upload host (default: $KIE_UPLOAD_BASE_URL or KIE's)"
    )
    parser.add_argument(
        "--route",
        choices=("market", "legacy"),
        help="KIE's route: market (/api/v1/jobs/...) or legacy (/api/v1/generate/...); "
        "default $KIE_ROUTE or market. A task is read on the route that created it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def waiting(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--timeout",
            type=_seconds,
            default=600.0,
            help="overall wait deadline in seconds, at most a day (default 600)",
        )
        sub.add_argument("--download", metavar="DIR", help="save the tracks into DIR")
        sub.add_argument("--json", action="store_true", help="print JSON")

    add = commands.add_parser("add", help="create an add-instrumental task (costs credits)")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--upload-url", help="public URL of the vocal track")
    source.add_argument("--file", type=Path, help="a local file, uploaded first (kept 3 days)")
    add.add_argument("--title", required=True, help="title of the generated music")
    add.add_argument("--tags", required=True, help="styles to include")
    add.add_argument("--negative-tags", required=True, help="styles to exclude (may be '')")
    add.add_argument(
        "--callback-url",
        help="where KIE sends results (no default, so they go nowhere unintended): required "
        "on the legacy route; on the Market route, without it no callback is sent",
    )
    add.add_argument("--model", choices=_enum("model"), help=_model_help())
    add.add_argument("--vocal-gender", choices=_enum("vocalGender"), help="preferred vocal gender")
    add.add_argument("--style-weight", type=float, help="0 to 1, in steps of 0.01")
    add.add_argument("--weirdness-constraint", type=float, help="0 to 1, in steps of 0.01")
    add.add_argument("--audio-weight", type=float, help="0 to 1, in steps of 0.01")
    add.add_argument("--wait", action="store_true", help="wait for the result")
    waiting(add)
    add.set_defaults(run=cmd_add)

    status = commands.add_parser("status", help="show a task's details")
    status.add_argument("task_id", help="the task id that add printed")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=cmd_status)

    wait = commands.add_parser("wait", help="wait for a task to finish")
    wait.add_argument("task_id", help="the task id that add printed")
    waiting(wait)
    wait.set_defaults(run=cmd_wait)

    credits = commands.add_parser("credits", help="remaining credits")
    credits.add_argument("--json", action="store_true", help="print JSON")
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
    fake.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    fake.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    fake.add_argument(
        "--stage-seconds",
        type=_stage_seconds,
        default=2.0,
        help="seconds each stage of a task takes (default 2)",
    )
    fake.add_argument(
        "--no-rate-limit", action="store_true", help="never answer 429 (KIE's limit is off)"
    )
    fake.add_argument(
        "--unlimited-credits", action="store_true", help="creating tasks never runs out of credits"
    )
    fake.add_argument(
        "--callbacks",
        choices=("off", "loopback", "any"),
        default="loopback",
        help="where callbacks may be sent (default: loopback addresses only)",
    )
    fake.set_defaults(run=cmd_fake_server)

    demo = commands.add_parser("demo", help="the whole flow against the embedded fake server")
    demo.add_argument("--out", default="demo-output", help="where the tracks are saved")
    demo.add_argument(
        "--stage-seconds",
        type=_stage_seconds,
        default=1.5,
        help="seconds each stage of the task takes (default 1.5)",
    )
    demo.add_argument(
        "--batch", action="store_true", help="a 20-item batch, killed part way and resumed"
    )
    demo.set_defaults(run=cmd_demo)

    from ._batch_cli import add_parser as add_batch_parser

    add_batch_parser(commands)
    return parser


def _resume_hint(args: argparse.Namespace) -> str:
    """What to tell a user who pressed Ctrl-C: the task lives on at KIE."""
    task_id = getattr(args, "task_id", None)
    if task_id is None:
        if getattr(args, "creating", False):
            return (
                "interrupted while creating the task: it may exist; check your callback or "
                "the task list before submitting again"
            )
        return "interrupted"
    command = ["kie-instrumental"]
    for option, value in (
        ("--base-url", args.base_url),
        ("--upload-base-url", args.upload_base_url),
    ):
        if value:
            command += [option, value]
    command += ["wait", task_id]
    if getattr(args, "download", None):
        command += ["--download", args.download]
    if getattr(args, "json", False):
        command.append("--json")
    return (
        f"interrupted; task {task_id} continues at KIE. Resume waiting with: {shlex.join(command)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "add" and args.download is not None and not args.wait:
        parser.error("--download needs --wait (there is nothing to download until the task ends)")
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
        print(f"kie-instrumental: {_resume_hint(args)}", file=sys.stderr)
        return 130
    return code
