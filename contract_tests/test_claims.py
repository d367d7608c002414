"""Batch claims (`kie_instrumental.batch`): one holder per item at a time, a released or
expired claim free again, a renewed one kept, and a claim left by a dead process of this
machine taken over at once, while a live or foreign holder keeps its item."""

from __future__ import annotations

import inspect
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kie_instrumental.batch import MemoryClaims, SQLiteClaims


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    """A running process of this machine, standing for a holder still at work."""
    # Every signal's default action, whatever the test run inherited (`nohup` ignores SIGHUP):
    # a signal sent by the liveness check would stop it.
    code = "import signal, time; signal.signal(signal.SIGHUP, signal.SIG_DFL); time.sleep(30)"
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_memory_claims_hold_an_item_until_released() -> None:
    claims = MemoryClaims()
    assert claims.lease == 60.0
    assert re.fullmatch(
        rf"{re.escape(socket.gethostname())}:{os.getpid()}:[0-9a-f]{{8}}", claims.owner
    )
    assert MemoryClaims(lease=5).lease == 5
    assert claims.claim("a") is True
    assert claims.claim("a") is False  # held: another task of this run takes another item
    assert claims.claim("b") is True
    claims.renew()
    claims.release("a")
    claims.release("never-claimed")
    assert claims.claim("a") is True
    assert claims.claim("b") is False
    assert MemoryClaims().owner != claims.owner


def test_sqlite_claims_give_each_item_to_one_holder(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first, second = SQLiteClaims(path), SQLiteClaims(str(path))
    assert (first.lease, first.path) == (60.0, path)
    assert repr(first) == f"SQLiteClaims({str(path)!r})"
    assert first.owner != second.owner
    assert first.claim("a") is True
    assert second.claim("a") is False
    assert first.claim("a") is True  # its own claim: taken again
    assert second.claim("b") is True
    assert first.claim("b") is False
    # Releasing what another holds changes nothing; releasing one's own frees it.
    second.release("a")
    assert second.claim("a") is False
    first.release("a")
    assert second.claim("a") is True
    assert first.claim("a") is False


def test_an_expired_claim_is_free_and_a_renewed_one_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    holder = SQLiteClaims(path, lease=-1)  # every claim it takes has already run out
    other = SQLiteClaims(path)
    assert holder.claim("a") is True
    assert holder.claim("b") is True
    assert other.claim("a") is True  # expired: taken over
    # Renewing extends the holder's remaining claims by its lease, and no one else's.
    holder.lease = 3600
    holder.renew()
    assert other.claim("b") is False
    assert holder.claim("a") is False  # still the other's: renewing took nothing back
    third = SQLiteClaims(path)
    assert third.claim("a") is False


def test_a_claim_of_a_dead_process_of_this_machine_is_taken_over_at_once(
    tmp_path: Path, live_process: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "journal.sqlite"
    host = socket.gethostname()
    mine = SQLiteClaims(path)
    holders = {
        "dead": f"{host}:{_dead_pid()}:00000000",
        "dead, host:pid only": f"{host}:{_dead_pid()}",
        "this process": f"{host}:{os.getpid()}:00000000",
        "live": f"{host}:{live_process.pid}:00000000",
        "elsewhere": f"elsewhere.invalid:{_dead_pid()}:00000000",
        "no pid": f"{host}:x{_dead_pid()}:00000000",
    }
    for key, owner in holders.items():
        holder = SQLiteClaims(path)
        holder.owner = owner
        assert holder.claim(key) is True
    # Only the dead processes' leases are cut short: the others may still be working.
    assert [key for key in holders if mine.claim(key)] == ["dead", "dead, host:pid only"]
    # Asking whether a holder lives sends it no signal that could stop it.
    time.sleep(0.2)
    assert live_process.poll() is None


def test_a_holder_this_user_may_not_signal_keeps_its_claim(
    tmp_path: Path, live_process: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's process answers the liveness check with EPERM: it exists, so its
    claim is kept until its lease runs out."""
    path = tmp_path / "journal.sqlite"
    holder = SQLiteClaims(path)
    holder.owner = f"{socket.gethostname()}:{live_process.pid}:00000000"
    assert holder.claim("a") is True
    kill = os.kill

    def another_users(pid: int, signal: int) -> None:
        if pid == live_process.pid:
            raise PermissionError(1, "Operation not permitted")
        kill(pid, signal)

    monkeypatch.setattr(os, "kill", another_users)
    assert SQLiteClaims(path).claim("a") is False


def test_a_locked_claims_file_is_waited_for_ten_seconds_by_default() -> None:
    # The documented default (a locked file is waited for, not failed on at once).
    assert inspect.signature(SQLiteClaims).parameters["busy_timeout"].default == 10.0


def test_a_lease_of_zero_is_over_the_moment_it_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite"
    holder, other = SQLiteClaims(path, lease=0), SQLiteClaims(path)
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0)  # both claims at the same instant
    assert holder.claim("a") is True
    assert other.claim("a") is True


def test_a_claim_waits_for_a_locked_file_only_its_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    claims = SQLiteClaims(path, busy_timeout=0.1)
    assert inspect.signature(SQLiteClaims).parameters["busy_timeout"].default == 10.0
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a claim
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            claims.claim("a")
        assert time.monotonic() - started < 3  # sqlite's own default would wait 5 s
        # A lock released within the busy timeout is waited for.
        patient = SQLiteClaims(path, busy_timeout=10)
        release = threading.Timer(0.2, writer.execute, ("ROLLBACK",))
        release.start()
        try:
            assert patient.claim("a") is True
        finally:
            release.join()
    finally:
        writer.close()


def test_claims_are_kept_in_the_file_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    holder = SQLiteClaims(path)
    assert holder.claim("a") is True
    # A new process (a new instance) finds the claim in the file, and the file is in WAL mode.
    later = SQLiteClaims(path)
    assert later.claim("a") is False
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        (row,) = db.execute("SELECT key, owner FROM claims").fetchall()
    finally:
        db.close()
    assert row == ("a", holder.owner)


@pytest.mark.parametrize("lease", [0.5, 120.0])
def test_the_lease_a_claim_gets_is_the_holders(tmp_path: Path, lease: float) -> None:
    path = tmp_path / "journal.sqlite"
    holder = SQLiteClaims(path, lease=lease)
    before = time.time()
    assert holder.claim("a") is True
    db = sqlite3.connect(path)
    try:
        (expires,) = db.execute("SELECT expires FROM claims WHERE key = 'a'").fetchone()
    finally:
        db.close()
    assert before + lease <= expires <= time.time() + lease
