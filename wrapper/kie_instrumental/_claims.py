"""Claims: which process works on a batch item right now, so that several processes (or
machines, through Redis) running the same batch each take different items.

A claim is a lease: its holder renews it while working (`renew`, from a heartbeat) and releases
it when done; a holder that died stops renewing and its claims expire. A claim held by a dead
process of this same machine is taken over at once (its pid is checked), so a batch resumed
after a crash or SIGKILL need not wait for the lease to run out.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

DEFAULT_LEASE = 60.0


class Claims(Protocol):
    owner: str
    lease: float

    def claim(self, key: str) -> bool:
        """Take `key` for this owner; False if a live owner holds it."""
        ...

    def renew(self) -> None:
        """Extend every claim this owner holds."""
        ...

    def release(self, key: str) -> None: ...


def new_owner() -> str:
    """host:pid:random, so a claim tells which process of which machine holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_stale(owner: str) -> bool:
    """True when `owner` is a process of this machine that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another run in this very process: alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class MemoryClaims:
    """Claims for the threads or tasks of one process (a journal without shared claims)."""

    def __init__(self, *, lease: float = DEFAULT_LEASE) -> None:
        self.owner = new_owner()
        self.lease = lease
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._held:
                return False
            self._held.add(key)
            return True

    def renew(self) -> None:
        return None

    def release(self, key: str) -> None:
        with self._lock:
            self._held.discard(key)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
    "expires REAL NOT NULL)"
)


class SQLiteClaims:
    """Claims in a SQLite file (beside the journal), for the processes of one machine.
    A call waits up to `busy_timeout` seconds (10 by default) for a file another process
    holds locked."""

    def __init__(
        self, path: str | Path, *, lease: float = DEFAULT_LEASE, busy_timeout: float = 10.0
    ) -> None:
        self.path = Path(path)
        self.owner = new_owner()
        self.lease = lease
        self._busy_timeout = busy_timeout
        db = self._connect()
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)

    def claim(self, key: str) -> bool:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")  # one claimer at a time: read and write as one
            row = db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
            now = time.time()
            if row is not None and row[0] != self.owner and row[1] > now and not is_stale(row[0]):
                db.execute("ROLLBACK")
                return False
            db.execute(
                "INSERT OR REPLACE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                (key, self.owner, now + self.lease),
            )
            db.execute("COMMIT")
            return True
        finally:
            db.close()

    def renew(self) -> None:
        db = self._connect()
        try:
            db.execute(
                "UPDATE claims SET expires = ? WHERE owner = ?",
                (time.time() + self.lease, self.owner),
            )
        finally:
            db.close()

    def release(self, key: str) -> None:
        db = self._connect()
        try:
            db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))
        finally:
            db.close()

    def __repr__(self) -> str:
        return f"SQLiteClaims({str(self.path)!r})"
