"""A task journal: nothing paid for is lost when a process dies.

`client.run_job(journal, ...)` records the job (its request, under a job key the caller may
choose) before the paid create, marks it `submitting` just before the POST, stores the task id
right after, then each status change, the downloaded files and the end. `client.resume(journal)`
finishes every unfinished job after a restart. The job key rides in the callback URL's query
(`?kie_job=...`), so a callback finds its job even when its process died before storing the
task id (`record_callback`).

States: `pending` (journaled, not sent: resume sends it), `submitting` / `unknown` (the create
may or may not have reached KIE: never sent again automatically; a callback carrying the job
key resolves it), `created` (task id known: resume waits and downloads), then `done`,
`failed` (KIE's task failed) or `rejected` (KIE refused the create: nothing was paid).

`SQLiteJournal` (standard library) serves the processes of one machine;
`kie_instrumental.redis_backend.RedisJournal` serves many. `AsyncKieClient` awaits a journal's
`<method>_async` twins when it has them (RedisJournal: redis.asyncio) and runs the others in a
worker thread, so a journal never blocks its event loop.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from ._models import CallbackEvent

__all__ = [
    "FINISHED",
    "JOB_KEY_PARAM",
    "Job",
    "Journal",
    "SQLiteJournal",
    "State",
    "job_key_from",
    "record_callback",
    "with_job_key",
]

State = Literal["pending", "submitting", "unknown", "created", "done", "failed", "rejected"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "rejected"})
JOB_KEY_PARAM = "kie_job"


@attrs.frozen
class Job:
    """One journaled job, as last recorded."""

    key: str
    state: str
    request: Mapping[str, Any]
    task_id: str | None = None
    task_status: str | None = None
    files: tuple[str, ...] = ()
    error: str | None = None
    updated_at: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class Journal(Protocol):
    """Where jobs live. Every method is atomic on its own; `transition` is the only way a
    state moves, so two processes resuming one job never both send its create."""

    def begin(self, key: str, request: Mapping[str, Any]) -> Job:
        """Record a new `pending` job; if `key` exists, change nothing and return it."""
        ...

    def transition(self, key: str, expected: Sequence[str], state: str, **fields: Any) -> bool:
        """Move the job to `state` (with `fields`: task_id, task_status, files, error) only if
        its state is one of `expected`; False (and nothing written) otherwise."""
        ...

    def update(self, key: str, **fields: Any) -> None:
        """Record task_status, files or error without changing the state."""
        ...

    def get(self, key: str) -> Job | None: ...

    def unfinished(self) -> list[Job]:
        """Every job not done, failed or rejected, oldest first."""
        ...


# -- the job key in the callback URL ---------------------------------------------------------


def with_job_key(callback_url: str, key: str) -> str:
    """`callback_url` with `kie_job=<key>` in its query (other parameters kept)."""
    parts = urlsplit(callback_url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != JOB_KEY_PARAM
    ]
    query.append((JOB_KEY_PARAM, key))
    return urlunsplit(parts._replace(query=urlencode(query)))


def job_key_from(url_or_query: str) -> str | None:
    """The job key of a callback request's URL (or its query string), if any."""
    query = urlsplit(url_or_query).query if "?" in url_or_query else url_or_query
    values = [v for k, v in parse_qsl(query) if k == JOB_KEY_PARAM]
    return values[-1] if values else None


def record_callback(journal: Journal, event: CallbackEvent, job_key: str | None = None) -> bool:
    """Call from a receiver with a *verified* event (the job key defaults to the one in
    `event.query`, the called URL's query): a job whose create outcome was unknown learns its
    task id (then `resume` finishes it). True if it did.

    The query is not covered by KIE's signature: only jobs without a task id are resolved,
    never one that already has its task."""
    if job_key is None:
        job_key = job_key_from(event.query)
    if job_key is None:
        return False
    unresolved = ("submitting", "unknown")
    return journal.transition(job_key, unresolved, "created", task_id=event.task_id, error=None)


# -- SQLite: the default for one machine -------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    task_id TEXT,
    task_status TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""
_FIELDS = ("task_id", "task_status", "files", "error")


def _column(name: str, value: Any) -> Any:
    return json.dumps(list(value)) if name == "files" else value


class SQLiteJournal:
    """A journal in one SQLite file, shared by the processes of one machine (WAL mode; each
    call opens its own short transaction, so threads and processes may share the file). A
    call waits up to `busy_timeout` seconds (10 by default) for a file another process holds
    locked."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> _Closing:
        # Autocommit: each statement is one short transaction, atomic on its own.
        db = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        db.row_factory = sqlite3.Row
        return _Closing(db)

    def begin(self, key: str, request: Mapping[str, Any]) -> Job:
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO jobs (key, state, request, created_at, updated_at) "
                "VALUES (?, 'pending', ?, ?, ?)",
                (key, json.dumps(dict(request)), now, now),
            )
        job = self.get(key)
        assert job is not None
        return job

    def transition(self, key: str, expected: Sequence[str], state: str, **fields: Any) -> bool:
        names = [n for n in _FIELDS if n in fields]
        sets = "".join(f", {n} = ?" for n in names)
        marks = ", ".join("?" for _ in expected)
        with self._connect() as db:
            cursor = db.execute(
                f"UPDATE jobs SET state = ?, updated_at = ?{sets} "  # noqa: S608 - fixed names
                f"WHERE key = ? AND state IN ({marks})",
                (state, time.time(), *(_column(n, fields[n]) for n in names), key, *expected),
            )
            return cursor.rowcount == 1

    def update(self, key: str, **fields: Any) -> None:
        names = [n for n in _FIELDS if n in fields]
        sets = "".join(f", {n} = ?" for n in names)
        with self._connect() as db:
            db.execute(
                f"UPDATE jobs SET updated_at = ?{sets} WHERE key = ?",  # noqa: S608 - fixed names
                (time.time(), *(_column(n, fields[n]) for n in names), key),
            )

    def get(self, key: str) -> Job | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
        return None if row is None else _job(row)

    def unfinished(self) -> list[Job]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE state NOT IN ('done', 'failed', 'rejected') "
                "ORDER BY created_at"
            ).fetchall()
        return [_job(row) for row in rows]

    def all(self) -> list[Job]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY created_at").fetchall()
        return [_job(row) for row in rows]

    def __repr__(self) -> str:
        return f"SQLiteJournal({str(self.path)!r})"


class _Closing:
    """sqlite3's own context manager commits but never closes: this one does both."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def _job(row: Mapping[str, Any]) -> Job:
    return Job(
        key=row["key"],
        state=row["state"],
        request=json.loads(row["request"]),
        task_id=row["task_id"],
        task_status=row["task_status"],
        files=tuple(json.loads(row["files"] or "[]")),
        error=row["error"],
        updated_at=row["updated_at"],
    )
