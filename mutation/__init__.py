"""`make mutation`: mutmut over the modules that carry the README's guarantees."""

from __future__ import annotations

import json
import os
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
