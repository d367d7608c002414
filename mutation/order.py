"""A pytest plugin for mutation runs only: run a mutant's tests fastest first, each bounded.

mutmut hands pytest the tests that reach the mutated function in no particular order and
stops at the first failure (`-x`). A mutant the fast unit tests kill then still waits for
whichever loopback test pytest happened to start with. The durations mutmut measured in its
stats run (`mutmut-stats.json`, in the working directory of every run) give the order.

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

STATS = Path("mutmut-stats.json")
# mutmut.stats.status_by_exit_code: 36 is "timeout".
TIMEOUT_EXIT = 36
SLOWDOWN = 10.0
GRACE = 5.0

_durations: dict[str, float] = {}


def bound(duration: float) -> float:
    """How long a test measured at `duration` seconds may run under a mutant."""
    return duration * SLOWDOWN + GRACE


def pytest_collection_modifyitems(items: list[Any]) -> None:
    if not STATS.exists():  # the stats run itself
        return
    _durations.update(json.loads(STATS.read_text("utf-8"))["duration_by_test"])
    # A stable sort: tests of equal cost keep pytest's order (and share module fixtures).
    items.sort(key=lambda item: _durations.get(item.nodeid, math.inf))


def _hung(signum: int, frame: object) -> None:
    os._exit(TIMEOUT_EXIT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: Any) -> Generator[None, None, None]:
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
