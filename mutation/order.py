"""A pytest plugin for mutation runs only: run a mutant's tests likeliest killer first, each
bounded, and note which test killed it.

mutmut hands pytest the tests that reach the mutated function in no particular order and
stops at the first failure (`-x`). A mutant the fast unit tests kill then still waits for
whichever loopback test pytest happened to start with. So the tests that killed other mutants
of the same function in earlier runs go first (`mutation/killers.json`, named by the
`KIE_MUTATION_KILLERS` variable), then the rest fastest first, by the durations mutmut measured
in its stats run (`mutmut-stats.json`, in the working directory of every run). The order
changes what a run costs, never its verdict: a mutant is killed when any of its tests fails.
Which tests a mutant runs at all, and the killers' own first session, are
`mutation/runner.py`'s.
Each kill is appended to the file `KIE_MUTATION_KILLS` names, which the next `killers.json`
is made from.

mutmut's own timeout is (the sum of all the mutant's tests' times + 3 s) x 4: two minutes for
a mutant that hangs a function hundreds of tests reach. Each test's call is bounded here
instead, by ten times its measured time plus 5 s; past that the process ends with the exit
status mutmut records as a timeout (the summary keeps such mutants apart from killed ones).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from mutation import forget_cached_results, killers_of

STATS = Path("mutmut-stats.json")
# mutmut.stats.status_by_exit_code: 36 is "timeout".
TIMEOUT_EXIT = 36
SLOWDOWN = 10.0
GRACE = 5.0

_durations: dict[str, float] = {}
# The test running now: a hung one is this mutant's killer.
_current = ""


def _mutant() -> str:
    """The mutant this session tests ("" in mutmut's stats, clean and forced-fail runs)."""
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    return name if "__mutmut_" in name else ""


def _note_kill(nodeid: str) -> None:
    path, mutant = os.environ.get("KIE_MUTATION_KILLS"), _mutant()
    if path and mutant:
        # One short line per kill, appended: workers write to the same file at once.
        line = json.dumps({"mutant": mutant, "test": nodeid}) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def bound(duration: float) -> float:
    """How long a test measured at `duration` seconds may run under a mutant."""
    return duration * SLOWDOWN + GRACE


def pytest_collection_modifyitems(items: list[Any]) -> None:
    if not STATS.exists():  # the stats run itself
        return
    _durations.update(json.loads(STATS.read_text("utf-8"))["duration_by_test"])
    rank = {test: place for place, test in enumerate(killers_of(_mutant()))}
    # A stable sort: tests of equal cost keep pytest's order (and share module fixtures).
    items.sort(
        key=lambda item: (rank.get(item.nodeid, len(rank)), _durations.get(item.nodeid, math.inf))
    )


def pytest_runtest_setup(item: Any) -> None:
    # mutmut's stats run credits each test with the functions it calls: the library's caches
    # are emptied before each test there, so a test relying on a cached result is credited
    # with the functions behind it too, not only the first test that needed it.
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        forget_cached_results()


def pytest_runtest_logreport(report: Any) -> None:
    if report.failed:
        _note_kill(report.nodeid)


def _hung(signum: int, frame: object) -> None:
    # The test that hung the mutant is its killer too (the run ends as a timeout).
    _note_kill(_current)
    os._exit(TIMEOUT_EXIT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: Any) -> Generator[None, None, None]:
    global _current
    _current = item.nodeid
    measured = _durations.get(item.nodeid)
    if measured is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.setitimer(signal.ITIMER_REAL, bound(measured))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
