"""mutmut's command line, with its pytest runner choosing a mutant's tests in two steps.

mutmut hands each mutant's pytest session every test that called the mutated function in its
stats run (hundreds, over twenty files, for a central function), and most of that session is
spent collecting those files, not running the one test that kills the mutant. So:

- A mutant runs only the tests of the files chosen for its own module (`KIE_MUTATION_TEST_FILES`
  names the JSON file mapping each module to them), as if its module had been run alone. A
  function mutmut saw called only by another module's test (a cached result is computed once,
  in the first test that needs it) keeps the tests mutmut chose.
- Its function's known killers (`mutation/killers.json`) run first, in a session of their own;
  only when none of them fails does the full session run. The verdict is the same (a mutant is
  killed when any of its tests fails); a killed mutant's session collects one file, not twenty.

- mutmut's fork server imports every chosen test file before the first mutant (its warm-up),
  and a test file that calls the library at import fills the library's caches (validation
  rules, request plans) with the unmutated code's results, which every mutant's process would
  inherit. They are emptied after the warm-up: each mutant computes them again, mutated.
- mutmut's clean run (every chosen test on the unmutated code) is left out when its stats run
  has just run every chosen test on the same code and all passed: the same check, done once.

    python -m mutation.runner run [mutant ...]     # as `mutmut run`, in a staging directory

Written against mutmut 3.8.1 (pinned): `PytestRunner.run_tests(mutant_name=, tests=)` and the
fork server's `collect_stats(tests)` and `run_clean_tests(tests)` (`process_isolation =
"forkserver"`; an empty list of tests means all of them).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable

from mutmut.__main__ import cli
from mutmut.runners.harness import PytestRunner
from mutmut.workers.isolation import ForkServerRunner

from mutation import forget_cached_results, killers_of, run_file

_run_tests = PytestRunner.run_tests
_warm_up = PytestRunner.warm_up
_collect_stats = ForkServerRunner.collect_stats
_run_clean_tests = ForkServerRunner.run_clean_tests
# Whether this process's stats run ran every chosen test, and each passed (unmutated code).
_all_passed_in_stats = False


def own_tests(mutant: str, tests: list[str]) -> list[str]:
    """The mutant's tests in its own module's files (all of them when there are none)."""
    module = mutant.split(".")[1]  # kie_instrumental.<module>.<function>__mutmut_<n>
    chosen = run_file("KIE_MUTATION_TEST_FILES").get(module)
    if chosen is None:
        return tests
    files = {f"contract_tests/{name}" for name in chosen}
    own = [test for test in tests if test.partition("::")[0] in files]
    return own or tests


def run_tests(self: PytestRunner, *, mutant_name: str | None, tests: Iterable[str]) -> int:
    """One mutant's verdict: its killers' session first, then (if they pass) all its tests."""
    chosen = list(tests)
    if not mutant_name or "__mutmut_" not in mutant_name or not chosen:
        return int(_run_tests(self, mutant_name=mutant_name, tests=chosen))
    started = time.monotonic()
    chosen = own_tests(mutant_name, chosen)
    reached = set(chosen)
    first = [test for test in killers_of(mutant_name) if test in reached]
    code = 0
    if first and len(first) < len(chosen):
        code = int(_run_tests(self, mutant_name=mutant_name, tests=first))
        if code != 0:
            _note_time(mutant_name, "killers", code, started)
            return code
    code = int(_run_tests(self, mutant_name=mutant_name, tests=chosen))
    _note_time(mutant_name, "all", code, started)
    return code


def _note_time(mutant: str, session: str, code: int, started: float) -> None:
    """One line per mutant (`KIE_MUTATION_TIMES`): which session gave the verdict, how long
    the mutant took; the summary says where a run's time went. (A mutant that hangs ends its
    process in order.py first and is not noted.)"""
    path = os.environ.get("KIE_MUTATION_TIMES")
    if not path:
        return
    line = {"mutant": mutant, "session": session, "exit": code}
    line["seconds"] = round(time.monotonic() - started, 3)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)


def warm_up(self: PytestRunner) -> None:
    _warm_up(self)
    forget_cached_results()
    # Read here, once: every mutant's process is forked from this one.
    run_file("KIE_MUTATION_KILLERS")
    run_file("KIE_MUTATION_TEST_FILES")


def collect_stats(self: ForkServerRunner, tests: Iterable[str] | None) -> int:
    global _all_passed_in_stats
    chosen = list(tests or [])
    code = int(_collect_stats(self, chosen))
    _all_passed_in_stats = not chosen and code == 0
    return code


def run_clean_tests(self: ForkServerRunner, tests: Iterable[str]) -> int:
    chosen = list(tests)
    if not chosen and _all_passed_in_stats:
        return 0
    return int(_run_clean_tests(self, chosen))


PytestRunner.run_tests = run_tests  # type: ignore[method-assign]
PytestRunner.warm_up = warm_up  # type: ignore[method-assign]
ForkServerRunner.collect_stats = collect_stats  # type: ignore[method-assign]
ForkServerRunner.run_clean_tests = run_clean_tests  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli())
