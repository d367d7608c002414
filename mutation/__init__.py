"""`make mutation`: mutmut over the modules that carry the README's guarantees."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any


def function_of(mutant: str) -> str:
    """`pkg.mod.x_name__mutmut_12` -> `pkg.mod.x_name`: the function mutmut mutated."""
    return mutant.rpartition("__mutmut_")[0]


def run_file(variable: str) -> dict[str, Any]:
    """The JSON file an environment variable names for a run ({} without one)."""
    path = os.environ.get(variable)
    return _json_file(path) if path and Path(path).exists() else {}


@functools.cache
def _json_file(path: str) -> dict[str, Any]:
    # Read once per process: the driver writes these files before a run and after it, never
    # during, and mutmut's fork server reads them before it forks a process per mutant.
    return dict(json.loads(Path(path).read_text("utf-8")))


def killers_of(mutant: str) -> list[str]:
    """The tests that killed other mutants of the mutant's function in earlier runs, most
    kills first (`mutation/killers.json`, named by `KIE_MUTATION_KILLERS`)."""
    if not mutant:
        return []
    return [str(test) for test in run_file("KIE_MUTATION_KILLERS").get(function_of(mutant), [])]


def forget_cached_results() -> int:
    """Empty every cache of the library's modules (`functools.cache` / `lru_cache`); how many.

    A cached result is computed by the first test that needs it. mutmut's stats run would then
    credit the functions behind it (validation rules, request plans) to that one test only,
    and a mutant of them would run none of the other tests that rely on them; and a cache
    filled before a mutant's process starts holds the unmutated code's results."""
    emptied = 0
    for name, module in list(sys.modules.items()):
        if name != "kie_instrumental" and not name.startswith("kie_instrumental."):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and hasattr(value, "cache_info"):
                clear()
                emptied += 1
    return emptied
