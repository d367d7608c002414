"""Batches: many items, each one journaled job (upload if local, create, wait, download), on
the journal, the claims and the client's own rate limit and retries.

One item's steps are written once, as a generator of client calls (`_jobs.Call`), driven by the
sync client from worker threads or by the async client from tasks. Every item has a job key
derived from the item itself, so running the same batch again finds its jobs: finished ones
are reported, not redone; created ones are waited for, never created again; those whose create
outcome is unknown are listed, not resubmitted. A claim per item keeps several processes (or
machines on one Redis) off each other's items.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from . import _jobs
from ._claims import Claims, MemoryClaims, SQLiteClaims
from ._errors import APIConnectionError, KieError, RateLimitError, ServiceUnavailableError
from ._jobs import Call, Step, record
from ._manifest import Item, Manifest
from ._routes import call_route
from .journal import Job, Journal, SQLiteJournal

if TYPE_CHECKING:
    from ._client import AsyncKieClient, KieClient
    from .notify import Notifier

log = logging.getLogger("kie_instrumental")

# KIE requires a callback URL. A batch that only polls sends this one: `.invalid` never
# resolves (RFC 2606), so results go to nobody.
NO_CALLBACK_URL = "https://callbacks.invalid/kie-instrumental-batch"
JOURNAL_NAME = ".kie-batch.sqlite3"
REPORT_FIELDS = (
    "item",
    "row",
    "job_key",
    "task_id",
    "route",
    "status",
    "files",
    "credits",
    "error",
)
# Beyond the journal's states: not started for lack of budget, held by another process, or
# stopped before its job was journaled (an upload that failed).
Status = Literal[
    "done",
    "failed",
    "rejected",
    "unknown",
    "created",
    "pending",
    "skipped",
    "elsewhere",
    "retry",
    "waiting",
    "error",
]
_GOOD = frozenset({"done"})
# Tried again later in the same run: held by another process, refused for now, or unresolved
# and waiting for its callback or the end of its grace period (`resubmit_unknown_after`).
_LATER = frozenset({"elsewhere", "retry", "waiting"})
_UNRESOLVED = ("submitting", "unknown")
_PASSING = (RateLimitError, ServiceUnavailableError, APIConnectionError)


@attrs.frozen
class ItemResult:
    """One item as this run leaves it (a row of the report)."""

    item: str
    row: int | str
    job_key: str
    status: str
    task_id: str | None = None
    files: tuple[str, ...] = ()
    credits: float | None = None
    error: str | None = None
    route: str | None = None  # the route the task was (or will be) created on

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in REPORT_FIELDS}


@attrs.frozen
class BatchEvent:
    """What the display (or a service) hears: kind is start, started (an item began),
    finished (an item ended: `result`), or end. Counts are of this run so far."""

    kind: str
    total: int
    done: int
    running: int
    failed: int
    result: ItemResult | None = None


@attrs.frozen
class BatchReport:
    """The outcome of `run_batch`: counts per status, the report files, and the items the user
    must look at (`unknown`: the create may or may not have reached KIE)."""

    total: int
    counts: Mapping[str, int]
    csv_path: Path
    json_path: Path
    unknown: tuple[ItemResult, ...]
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.counts.get("done", 0) == self.total

    def rows(self) -> list[ItemResult]:
        """The report's rows, read back from its JSON file."""
        with self.json_path.open(encoding="utf-8") as handle:
            return [
                ItemResult(**{**row, "files": tuple(row["files"])}) for row in json.load(handle)
            ]


class _Report:
    """CSV and JSON written as items finish, so memory stays flat however long the batch."""

    def __init__(self, csv_path: Path, json_path: Path) -> None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.csv_path, self.json_path = csv_path, json_path
        self._csv_file = csv_path.open("w", newline="", encoding="utf-8")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=REPORT_FIELDS)
        self._csv.writeheader()
        self._json = json_path.open("w", encoding="utf-8")
        self._json.write("[")
        self._first = True

    def write(self, result: ItemResult) -> None:
        row = result.as_row()
        self._csv.writerow({**row, "files": ";".join(result.files)})
        self._json.write(("\n  " if self._first else ",\n  ") + json.dumps(row))
        self._first = False
        self._csv_file.flush()
        self._json.flush()

    def close(self) -> None:
        self._json.write("\n]\n")
        self._json.close()
        self._csv_file.close()


@attrs.define
class _Run:
    """The state one run of a batch shares between its workers."""

    journal: Journal
    claims: Claims
    out: Path
    route: str
    callback_url: str
    timeout: float
    resubmit_unknown_after: float | None
    max_credits: float | None
    total: int
    report: _Report
    on_event: Callable[[BatchEvent], None] | None
    start_credits: float | None = None
    counts: dict[str, int] = attrs.field(factory=dict)
    running: int = 0
    unknown: list[ItemResult] = attrs.field(factory=list)
    elsewhere: list[Item] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def emit(self, kind: str, result: ItemResult | None = None) -> None:
        if self.on_event is None:
            return
        done = self.counts.get("done", 0)
        failed = sum(n for status, n in self.counts.items() if status not in _GOOD)
        self.on_event(BatchEvent(kind, self.total, done, self.running, failed, result))

    def started(self) -> None:
        with self.lock:
            self.running += 1
            self.emit("started")

    def finished(self, result: ItemResult, *, ran: bool = True) -> None:
        with self.lock:
            if ran:
                self.running -= 1
            if result.status in _LATER and ran:
                return  # reported once the other process is done with it
            self.counts[result.status] = self.counts.get(result.status, 0) + 1
            if result.status == "unknown":
                self.unknown.append(result)
            self.report.write(result)
            self.emit("finished", result)

    def within_budget(self, credits: float) -> bool:
        assert self.max_credits is not None and self.start_credits is not None
        return self.start_credits - credits < self.max_credits


def _result(
    run: _Run,
    item: Item,
    job: Job | None,
    status: str | None = None,
    error: str | None = None,
) -> ItemResult:
    # A job's route is the one journaled with its request (older journals: none recorded).
    route = job.request.get("route") if job is not None else run.route
    return ItemResult(
        route=route,
        item=item.name,
        row=item.row,
        job_key=item.key,
        status=status or (job.state if job is not None else "error"),
        task_id=job.task_id if job is not None else None,
        files=job.files if job is not None else (),
        error=error if error is not None else (job.error if job is not None else None),
    )


def item_flow(run: _Run, item: Item) -> Generator[Step, Any, ItemResult]:
    """One item from wherever the journal says it stopped to its end for this run. The journal
    and the claims are steps the driver performs (the async one off its event loop)."""
    key = item.key
    job = yield record(run.journal, "get", key)
    if job is not None and job.finished and job.state != "rejected":
        return _result(run, item, job)
    if not (yield record(run.claims, "claim", key)):
        return _result(run, item, job, "elsewhere")
    try:
        result = yield from _claimed(run, item)
    except GeneratorExit:  # closed mid-item (the run was cancelled): no driver to ask
        run.claims.release(key)
        raise
    except BaseException:
        yield record(run.claims, "release", key)
        raise
    yield record(run.claims, "release", key)
    return result


def _claimed(run: _Run, item: Item) -> Generator[Step, Any, ItemResult]:
    key = item.key
    job = yield record(run.journal, "get", key)  # as left by whoever held the claim before
    if job is not None and job.state == "rejected":
        # KIE refused it and nothing was paid: a new run sends it again.
        yield record(run.journal, "transition", key, ("rejected",), "pending", error=None)
        job = yield record(run.journal, "get", key)
    if job is not None and job.finished:
        return _result(run, item, job)
    if job is not None and job.state in _UNRESOLVED:
        held = yield from _unresolved(run, item, job)
        if held is not None:
            return held
        job = yield record(run.journal, "get", key)  # sent again below, or resolved meanwhile
    if (job is None or job.state == "pending") and run.max_credits is not None:
        credits = yield Call("get_credits")
        if not run.within_budget(credits):
            return _result(run, item, job, "skipped", f"credit budget reached ({credits:g} left)")
    try:
        if job is None:
            url = item.url
            if url is None:
                url = yield Call("upload_file", (item.path,))
            fields = {
                **item.fields,
                "upload_url": url,
                "callback_url": run.callback_url,
                "route": run.route,  # journaled: a resumed job is read on its own route
            }
            job = yield from _jobs.run_job(run.journal, key, fields, run.out, run.timeout)
        else:
            if job.state == "created":
                _clear_partial(run.out / key)
            job = yield from _jobs.finish(run.journal, key, run.out, run.timeout)
    except KieError as exc:
        job = yield record(run.journal, "get", key)
        if job is not None and job.state == "rejected" and isinstance(exc, _PASSING):
            # Refused for now (rate limit, unavailable, not connected), nothing paid: sent
            # again later in this run, with the others' leftovers.
            yield record(run.journal, "transition", key, ("rejected",), "pending", error=str(exc))
            return _result(run, item, (yield record(run.journal, "get", key)), "retry", str(exc))
        if job is not None and not job.finished:
            yield record(run.journal, "update", key, error=str(exc))
        if job is not None and job.state == "unknown" and _holds(run, 0.0):
            return _result(run, item, job, "waiting", str(exc))
        return _result(run, item, job, error=str(exc))
    return _result(run, item, job)


def _holds(run: _Run, age: float) -> bool:
    """Whether this run keeps an unresolved item to look at again: only with the opt-in, and
    only when its grace period ends before the run's deadline (a callback may come first)."""
    grace = run.resubmit_unknown_after
    return grace is not None and grace - age <= run.timeout


def _unresolved(run: _Run, item: Item, job: Job) -> Generator[Step, Any, ItemResult | None]:
    """An item whose create may or may not have reached KIE (killed or cut off between the
    journal's mark and KIE's answer). Its callback carries the job key and resolves it; KIE
    offers no lookup by anything else we sent. By default it is listed `unknown` and never sent
    again. With `resubmit_unknown_after`, once it has stayed unresolved that long (counted
    from its last journal record: the mark just before the send, or the send's failure) it is
    sent again (None: go on); until then it waits. Risk: a create that did reach KIE but
    whose callback was lost is then paid twice."""
    grace = run.resubmit_unknown_after
    age = max(0.0, time.time() - job.updated_at)
    if grace is not None and age >= grace:
        if (yield record(run.journal, "transition", item.key, _UNRESOLVED, "pending", error=None)):
            log.warning(
                "job %s: unresolved for %.0f s with no callback: sent again (opt-in)", item.key, age
            )
        return None
    if job.state == "submitting" and grace is None:  # a run died between mark and answer
        # (with the opt-in it stays `submitting`: marking it would restart its grace period)
        yield record(run.journal, "transition", item.key, ("submitting",), "unknown")
        job = (yield record(run.journal, "get", item.key)) or job
    if job.state not in _UNRESOLVED:
        return None  # its callback resolved it meanwhile
    if _holds(run, age):
        return _result(run, item, job, "waiting")
    log.warning("job %s: the create's outcome is unknown; not sent again", item.key)
    return _result(run, item, job, "unknown")


def _clear_partial(folder: Path) -> None:
    """Files of a job not yet done are from a download cut off before the journal recorded it:
    removed, so the download that follows does not add a second copy of each track. The claim
    makes this process the folder's only writer."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file():
                path.unlink()


class _Heartbeat:
    """Renews this run's claims while it works (a thread: the async run's loop may be busy)."""

    def __init__(self, claims: Claims) -> None:
        self._claims = claims
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="kie-batch-claims", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._claims.lease / 3):
            try:
                self._claims.renew()
            except Exception:  # a missed renewal only shortens the lease
                log.warning("could not renew batch claims", exc_info=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _prepare(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    journal: Journal | None,
    claims: Claims | None,
    route: str,
    callback_url: str | None,
    timeout: float,
    resubmit_unknown_after: float | None,
    max_credits: float | None,
    defaults: Mapping[str, Any] | None,
    report_name: str,
    on_event: Callable[[BatchEvent], None] | None,
) -> tuple[Manifest, _Run]:
    if resubmit_unknown_after is not None and not resubmit_unknown_after >= 0:
        raise ValueError(
            f"resubmit_unknown_after must be >= 0 seconds, got {resubmit_unknown_after!r}"
        )
    manifest = Manifest(Path(source), defaults=defaults)
    if callback_url is not None:
        # The spec's rules for the callback URL, checked before any row.
        from ._manifest import _schema
        from ._validation import request_validator

        for violation in request_validator(_schema()[0]).violations({"callBackUrl": callback_url}):
            if violation.field == "callBackUrl":
                raise violation.to_error()
    total = manifest.check()  # every row, before anything is sent
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if journal is None:
        journal = SQLiteJournal(out_dir / JOURNAL_NAME)
    if claims is None:
        claims = _claims_for(journal)
    report = _Report(out_dir / f"{report_name}.csv", out_dir / f"{report_name}.json")
    run = _Run(
        journal=journal,
        claims=claims,
        out=out_dir,
        route=route,
        callback_url=callback_url or NO_CALLBACK_URL,
        timeout=timeout,
        resubmit_unknown_after=resubmit_unknown_after,
        max_credits=max_credits,
        total=total,
        report=report,
        on_event=on_event,
    )
    return manifest, run


def _claims_for(journal: Journal) -> Claims:
    """Claims kept where the journal is: same SQLite file, same Redis."""
    if isinstance(journal, SQLiteJournal):
        return SQLiteClaims(journal.path)
    if type(journal).__name__ == "RedisJournal":
        from ._redis_claims import RedisClaims

        return RedisClaims(journal._redis, prefix=journal.prefix)  # type: ignore[attr-defined]
    log.warning("%r: claims kept in this process only", journal)
    return MemoryClaims()


def _finish_report(run: _Run, started: float) -> BatchReport:
    for item in run.elsewhere:  # still held elsewhere, refused or unresolved at the deadline
        job = run.journal.get(item.key)
        state = job.state if job is not None else None
        status = {"pending": "pending", "submitting": "unknown", "unknown": "unknown"}
        run.finished(_result(run, item, job, status.get(str(state), "elsewhere")), ran=False)
    with run.lock:
        run.emit("end")
    run.report.close()
    return BatchReport(
        total=run.total,
        counts=dict(run.counts),
        csv_path=run.report.csv_path,
        json_path=run.report.json_path,
        unknown=tuple(run.unknown),
        elapsed=time.monotonic() - started,
    )


def _next_item(items: Iterator[Item], lock: threading.Lock) -> Item | None:
    with lock:
        return next(items, None)


def _take_elsewhere(run: _Run) -> list[Item]:
    """Items another process held: report those it finished, return the others to try again
    (claimable once that process released them or died)."""
    items, run.elsewhere = run.elsewhere, []
    again = []
    for item in items:
        job = run.journal.get(item.key)
        if job is not None and job.finished:
            run.finished(_result(run, item, job), ran=False)
        else:
            again.append(item)
    return again


_C = TypeVar("_C", "KieClient", "AsyncKieClient")


def _listening(client: _C, notifier: Notifier | None) -> _C:
    """The client whose waits listen to `notifier`: a view sharing everything else (HTTP
    connections, rate limit, hooks), so the caller's own client is left as it was."""
    if notifier is None or client._core.notifier is notifier:
        return client
    view = copy.copy(client)
    view._core = copy.copy(client._core)
    view._core.notifier = notifier
    return view


# -- drivers ------------------------------------------------------------------------------------


def run_batch(
    client: KieClient,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    journal: Journal | None = None,
    claims: Claims | None = None,
    concurrency: int = 4,
    route: str | None = None,
    callback_url: str | None = None,
    notifier: Notifier | None = None,
    timeout: float = 600.0,
    resubmit_unknown_after: float | None = None,
    max_credits: float | None = None,
    defaults: Mapping[str, Any] | None = None,
    report_name: str = "report",
    on_event: Callable[[BatchEvent], None] | None = None,
    other_process_wait: float = 1.0,
) -> BatchReport:
    """Run every item of `source` (a folder of audio files, a .csv or .jsonl manifest) with
    `client`: upload if local, create, wait, download into `out/<job key>/`, and write
    `out/report.csv` and `out/report.json`. Safe to run again with the same arguments after any
    interruption (see the module's docstring). Raises ManifestError (nothing sent) on bad rows.

    journal: default a SQLite journal in `out`; pass a RedisJournal to share a batch between
    machines. route: "market" or "legacy" (default: the client's); recorded in the journal and
    the report, and a resumed item is read on the route it was created on whatever this run's.
    callback_url: where KIE sends results (the job key rides in its query); None:
    poll only. notifier: the listening wait (see kie_instrumental.notify; default the
    client's own): items wake on the verified callbacks your receiver publishes to it, and
    polling drops to its safety net. timeout: each item's wait deadline.
    resubmit_unknown_after: None (default): an item whose create may or may not have reached
    KIE is listed `unknown`, never sent again; seconds: sent again once it stayed unresolved
    (no callback) that long, at the risk of paying twice for a create whose callback was lost
    (this run waits for it when the grace ends within `timeout`). max_credits: stop
    creating new tasks once the account's credits fell this much since the start. defaults:
    request fields (keywords) for what rows leave empty, e.g. tags and negative_tags for a
    folder.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    started = time.monotonic()
    manifest, run = _prepare(
        source,
        out,
        journal=journal,
        claims=claims,
        route=call_route(route, client._route).name,
        callback_url=callback_url,
        timeout=timeout,
        resubmit_unknown_after=resubmit_unknown_after,
        max_credits=max_credits,
        defaults=defaults,
        report_name=report_name,
        on_event=on_event,
    )
    if max_credits is not None:
        run.start_credits = client.get_credits()
    client = _listening(client, notifier)
    items, lock = manifest.items(), threading.Lock()

    def drive(item: Item) -> None:
        run.started()
        result = client._drive_job(item_flow(run, item))
        if result.status in _LATER:
            with lock:
                run.elsewhere.append(item)
        run.finished(result)

    def worker(items: Iterator[Item]) -> None:
        while (item := _next_item(items, lock)) is not None:
            drive(item)

    with _Heartbeat(run.claims):
        run.emit("start")
        _threads(concurrency, worker, items)
        deadline = time.monotonic() + timeout
        while run.elsewhere and time.monotonic() < deadline:
            time.sleep(other_process_wait)
            _threads(concurrency, worker, iter(_take_elsewhere(run)))
    return _finish_report(run, started)


def _threads(count: int, target: Callable[[Iterator[Item]], None], items: Iterator[Item]) -> None:
    threads = [
        threading.Thread(target=target, args=(items,), name=f"kie-batch-{i}") for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


async def run_batch_async(
    client: AsyncKieClient,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    journal: Journal | None = None,
    claims: Claims | None = None,
    concurrency: int = 4,
    route: str | None = None,
    callback_url: str | None = None,
    notifier: Notifier | None = None,
    timeout: float = 600.0,
    resubmit_unknown_after: float | None = None,
    max_credits: float | None = None,
    defaults: Mapping[str, Any] | None = None,
    report_name: str = "report",
    on_event: Callable[[BatchEvent], None] | None = None,
    other_process_wait: float = 1.0,
) -> BatchReport:
    """run_batch with an AsyncKieClient: `concurrency` tasks instead of threads."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    started = time.monotonic()
    manifest, run = _prepare(
        source,
        out,
        journal=journal,
        claims=claims,
        route=call_route(route, client._route).name,
        callback_url=callback_url,
        timeout=timeout,
        resubmit_unknown_after=resubmit_unknown_after,
        max_credits=max_credits,
        defaults=defaults,
        report_name=report_name,
        on_event=on_event,
    )
    if max_credits is not None:
        run.start_credits = await client.get_credits()
    client = _listening(client, notifier)

    async def worker(items: Iterator[Item]) -> None:
        for item in items:  # shared iterator: each item goes to one task
            run.started()
            result = await client._drive_job(item_flow(run, item))
            if result.status in _LATER:
                run.elsewhere.append(item)
            run.finished(result)

    with _Heartbeat(run.claims):
        run.emit("start")
        items = manifest.items()
        await asyncio.gather(*(worker(items) for _ in range(concurrency)))
        deadline = time.monotonic() + timeout
        while run.elsewhere and time.monotonic() < deadline:
            await asyncio.sleep(other_process_wait)
            again = iter(_take_elsewhere(run))
            await asyncio.gather(*(worker(again) for _ in range(concurrency)))
    return _finish_report(run, started)
