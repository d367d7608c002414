"""`kie-instrumental batch`: run_batch from the command line, with a live display: a rich
progress bar on a terminal (the `cli` extra), plain lines otherwise, JSON events with --json."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import attrs

if TYPE_CHECKING:  # loaded when the command runs, so the CLI starts fast
    from ._batch import BatchEvent, BatchReport
    from .journal import Journal
    from .notify import Notifier

EXIT_INCOMPLETE = 12  # as `resume`: items left not done (failed, unknown, skipped, ...)


def add_parser(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="many tracks: a folder of audio files or a CSV / JSONL manifest",
        description="Upload, create, wait and download every item of SOURCE (a folder of audio "
        "files, or a .csv / .jsonl manifest with file or url, title, tags, negative_tags and "
        "optional fields per row), then write DIR/report.csv and DIR/report.json. Run it again "
        "with the same arguments after any interruption: finished items are not redone and no "
        "task is created twice.",
    )
    batch.add_argument("source", help="a folder of audio files, or a .csv / .jsonl manifest")
    batch.add_argument("--out", required=True, metavar="DIR", help="tracks and report go here")
    batch.add_argument("--concurrency", type=int, default=4, help="items at once (default 4)")
    batch.add_argument(
        "--route",
        choices=("market", "legacy"),
        default=argparse.SUPPRESS,  # else this default would hide the global --route
        help="KIE's route for new tasks (default $KIE_ROUTE or market); an item created "
        "earlier is read on its own route",
    )
    waiting = batch.add_mutually_exclusive_group(required=True)
    waiting.add_argument(
        "--callback-url", help="where KIE sends results (the job key rides in its query)"
    )
    waiting.add_argument(
        "--poll",
        action="store_true",
        help="poll only (KIE's callbacks go to an .invalid host, i.e. nowhere)",
    )
    batch.add_argument(
        "--max-credits",
        type=float,
        metavar="X",
        help="create no new task once the account's credits fell by X since the start",
    )
    for name in ("--tags", "--negative-tags", "--model", "--vocal-gender"):
        batch.add_argument(name, help="default for rows (and folder items) that leave it empty")
    batch.add_argument("--timeout", type=float, default=600.0, help="each item's wait deadline")
    batch.add_argument(
        "--resubmit-unknown-after",
        type=_grace,
        metavar="SECONDS",
        help="send again an item whose create may or may not have reached KIE once it stayed "
        "that long with no callback (default: never; risk: a create that did reach KIE and "
        "whose callback was lost is paid twice)",
    )
    batch.add_argument("--json", action="store_true", help="JSON events on stdout, one per line")
    store = batch.add_mutually_exclusive_group()
    store.add_argument("--journal", metavar="PATH", help="SQLite journal (default: in DIR)")
    store.add_argument(
        "--redis",
        metavar="URL",
        help="journal, claims and rate limit in Redis (many machines); with --callback-url, "
        "waits listen for the callbacks your receiver publishes to RedisNotifier there",
    )
    batch.add_argument("--redis-prefix", default="kie", help="key prefix in Redis")
    batch.set_defaults(run=cmd_batch)


def _grace(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {text!r}")
    return value


def cmd_batch(args: argparse.Namespace) -> int:
    from ._batch import run_batch
    from ._client import KieClient
    from .journal import SQLiteJournal

    journal: Journal | None = None
    notifier: Notifier | None = None
    rate_limit: Any = {}
    if args.journal:
        journal = SQLiteJournal(args.journal)
    elif args.redis:
        from .redis_backend import RedisJournal, RedisNotifier, RedisRateLimit

        journal = RedisJournal(args.redis, prefix=args.redis_prefix)
        rate_limit = {"rate_limit": RedisRateLimit(args.redis, prefix=args.redis_prefix)}
        if args.callback_url:
            # Your receiver publishes verified callbacks here: items wake on them and polling
            # drops to the safety net.
            notifier = RedisNotifier(args.redis, prefix=args.redis_prefix)
    defaults = {
        "tags": args.tags,
        "negative_tags": args.negative_tags,
        "model": args.model,
        "vocal_gender": args.vocal_gender,
    }
    display = choose_display(args.json, sys.stderr)
    client = KieClient(
        base_url=args.base_url,
        upload_base_url=args.upload_base_url,
        route=args.route,
        **rate_limit,
    )
    with client, display:
        report = run_batch(
            client,
            args.source,
            args.out,
            journal=journal,
            concurrency=args.concurrency,
            callback_url=None if args.poll else args.callback_url,
            notifier=notifier,
            timeout=args.timeout,
            resubmit_unknown_after=args.resubmit_unknown_after,
            max_credits=args.max_credits,
            defaults=defaults,
            on_event=display.event,
        )
    summarize(report, args.json)
    return 0 if report.ok else EXIT_INCOMPLETE


def summarize(report: BatchReport, as_json: bool) -> None:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
    if as_json:
        summary = {
            "event": "summary",
            "counts": dict(report.counts),
            "report_csv": str(report.csv_path),
            "report_json": str(report.json_path),
            "unknown": [attrs.asdict(r) for r in report.unknown],
        }
        print(json.dumps(summary), flush=True)
        return
    print(f"{report.total} items: {counts} in {report.elapsed:.1f} s")
    print(f"report: {report.csv_path} and {report.json_path}")
    for result in report.unknown:
        print(
            f"  UNKNOWN {result.item} (job {result.job_key}): the create may have reached KIE; "
            "not sent again (see --resubmit-unknown-after). Check your callbacks."
        )


class Display:
    """Base: counts as they change."""

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def event(self, event: BatchEvent) -> None:
        raise NotImplementedError


class JsonEvents(Display):
    def event(self, event: BatchEvent) -> None:
        document: dict[str, Any] = {
            "event": event.kind,
            "total": event.total,
            "done": event.done,
            "running": event.running,
            "failed": event.failed,
        }
        if event.result is not None:
            document["item"] = attrs.asdict(event.result)
        print(json.dumps(document), flush=True)


class PlainLines(Display):
    """One line per finished item (logs, CI)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def event(self, event: BatchEvent) -> None:
        if event.kind != "finished" or event.result is None:
            return
        result = event.result
        finished = event.done + event.failed
        extra = f": {result.error}" if result.error and result.status != "done" else ""
        self.stream.write(
            f"[{finished}/{event.total}] {result.status:<8} {result.item}{extra} "
            f"({time.monotonic() - self.started:.1f} s)\n"
        )
        self.stream.flush()


class RichDisplay(Display):
    """A progress bar: done / running / failed, rate and ETA."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]{task.fields[done]} done[/] · {task.fields[running]} running · "
                "[red]{task.fields[failed]} failed[/] · {task.fields[rate]}/min"
            ),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
        )
        self.task = self.progress.add_task(
            "batch", total=None, done=0, running=0, failed=0, rate="-"
        )

    def __enter__(self) -> Display:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def event(self, event: BatchEvent) -> None:
        finished = event.done + event.failed
        minutes = max(time.monotonic() - self.started, 1e-9) / 60
        self.progress.update(
            self.task,
            total=event.total,
            completed=finished,
            done=event.done,
            running=event.running,
            failed=event.failed,
            rate=f"{finished / minutes:.1f}",
        )
        if event.kind == "finished" and event.result and event.result.status != "done":
            result = event.result
            self.progress.console.print(f"{result.status}: {result.item}: {result.error or ''}")


def choose_display(as_json: bool, stream: TextIO) -> Display:
    if as_json:
        return JsonEvents()
    if stream.isatty():
        try:
            return RichDisplay(stream)
        except ImportError:  # without the cli extra: plain lines
            pass
    return PlainLines(stream)
