"""A pytest plugin for mutation runs only: run a mutant's tests fastest first.

mutmut hands pytest the tests that reach the mutated function in no particular order and
stops at the first failure (`-x`). A mutant the fast unit tests kill then still waits for
whichever loopback test pytest happened to start with. The durations mutmut measured in its
stats run (`mutmut-stats.json`, in the working directory of every run) give the order.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

STATS = Path("mutmut-stats.json")


def pytest_collection_modifyitems(items: list[Any]) -> None:
    if not STATS.exists():  # the stats run itself
        return
    durations: dict[str, float] = json.loads(STATS.read_text("utf-8"))["duration_by_test"]
    # A stable sort: tests of equal cost keep pytest's order (and share module fixtures).
    items.sort(key=lambda item: durations.get(item.nodeid, math.inf))
