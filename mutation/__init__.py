"""`make mutation`: mutmut over the modules that carry the README's guarantees."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def function_of(mutant: str) -> str:
    """`pkg.mod.x_name__mutmut_12` -> `pkg.mod.x_name`: the function mutmut mutated."""
    return mutant.rpartition("__mutmut_")[0]


def killers_of(mutant: str) -> list[str]:
    """The tests that killed other mutants of the mutant's function in earlier runs, most
    kills first (`mutation/killers.json`, named by `KIE_MUTATION_KILLERS`)."""
    path = os.environ.get("KIE_MUTATION_KILLERS")
    if not mutant or not path or not Path(path).exists():
        return []
    found = json.loads(Path(path).read_text("utf-8")).get(function_of(mutant), [])
    return [str(test) for test in found]


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
