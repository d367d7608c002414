"""Batch workers for tests that need whole OS processes (spawned): killed with SIGKILL, or two
at once on one Redis."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from kie_instrumental import KieClient, PollSchedule
from kie_instrumental.batch import BatchReport, run_batch
from kie_instrumental.events import CallStarted, Event
from kie_instrumental.journal import Journal, SQLiteJournal

FAST_POLLS = PollSchedule(first=0.2, factor=1.0, cap=0.2)


def write_manifest(path: Path, count: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url", "title", "tags", "negative_tags", "style_weight"])
        for i in range(count):
            url = f"https://files.example/vocals/{i:03d}.mp3"
            writer.writerow([url, f"Song {i:03d}", "piano, calm", "drums", "0.5"])
    return path


def slow_creates(seconds: float) -> Any:
    """A hook that holds each create between the journal's mark and its POST: a kill lands
    there more often."""

    def hook(event: Event) -> None:
        if isinstance(event, CallStarted) and event.operation == "add_instrumental":
            time.sleep(seconds)

    return hook


def open_journal(spec: tuple[str, ...]) -> Journal:
    if spec[0] == "sqlite":
        return SQLiteJournal(spec[1])
    from kie_instrumental.redis_backend import RedisJournal

    return RedisJournal(spec[1], prefix=spec[2])


def run(
    spec: tuple[str, ...],
    base_url: str,
    api_key: str,
    manifest: str,
    out: str,
    callback_url: str | None,
    report_name: str = "report",
    concurrency: int = 6,
    resubmit_unknown_after: float | None = None,
    hold_creates: float = 0.0,
) -> BatchReport:
    client = KieClient(
        api_key=api_key,
        base_url=base_url,
        upload_base_url=base_url,
        rate_limit=None,
        poll_schedule=FAST_POLLS,
        hooks=[slow_creates(hold_creates)] if hold_creates else None,
    )
    with client:
        return run_batch(
            client,
            manifest,
            out,
            journal=open_journal(spec),
            concurrency=concurrency,
            callback_url=callback_url,
            timeout=60,
            resubmit_unknown_after=resubmit_unknown_after,
            report_name=report_name,
            other_process_wait=0.2,
        )
