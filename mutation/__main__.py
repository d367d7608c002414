"""Run mutmut over each guarantee-bearing module with the tests chosen for it, then write
`contract_tests/mutation-summary.md` (killed, survived, timed out, per module).

mutmut 3 names a mutant after the module path it copies (`mutants/<source path>`) and only
maps `src/` to an importable root, while this package lives in `wrapper/`. So a run works in
a staging directory, `build/mutation/all/` (`build/mutation/<module>+<module>/` for some of
the modules), laid out as mutmut expects: `src/kie_instrumental` (a copy of the wrapper, of
which the chosen modules are mutated) and links to what the tests read (`contract_tests/`,
`openapi/`, `examples/`, `README.md`). The generated client is imported from the editable
install, unmutated. One mutmut run covers every chosen module: the suite's stats and clean
runs (each test of the chosen files, twice) are paid once, not once per module, and each
mutant still runs only the tests of its own module's files (`mutation/runner.py`). A staging
directory is kept between runs, so mutmut only re-tests what changed.

    python -m mutation [module ...]     # default: every module in [tool.kie-mutation]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mutation import function_of

ROOT = Path(__file__).resolve().parent.parent
STAGING = ROOT / "build" / "mutation"
# Per module, the test files chosen for it (from pyproject.toml), for mutation/runner.py.
TEST_FILES = "test-files.json"
SUMMARY = ROOT / "contract_tests" / "mutation-summary.md"
EQUIVALENTS = ROOT / "contract_tests" / "MUTATION.md"
EQUIVALENTS_HEADING = "Equivalent mutants"
# Mutants only a test `make test` runs sees (a caller's line or a signature's default, which
# mutmut's trampolines hide), each checked after the run on a plain copy of the code.
MAKE_TEST_HEADING = "Killed by `make test` only"
MAKE_TEST_KILLS = "killed-by-make-test.json"
# Per mutated function, the tests that killed its mutants, most kills first: the order a
# mutant's tests run in (mutation/order.py). Written by each run, kept in git for the next.
KILLERS = ROOT / "mutation" / "killers.json"
KILLERS_KEPT = 10
# Per mutant tested, the session that gave its verdict and its seconds (mutation/runner.py).
TIMES = "times.jsonl"
# Listed equivalents seen surviving every test, with the hash mutmut gave their function then:
# while the function is unchanged, the mutant is the same code and is not run again.
CONFIRMED = ROOT / "mutation" / "equivalents.json"
# What the tests read relative to the project root, linked into each staging directory.
LINKED = ("contract_tests", "openapi", "examples", "README.md", "CHANGELOG.md")
UNUSED_PLUGINS = (
    "xdist",
    "xdist.looponfail",
    "hypothesispytest",
    "schemathesis",
    "anyio",
    "respx",
    "platformdirs",
)
# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code, pinned version).
STATUS: dict[int | None, str] = {
    1: "killed",
    3: "killed",
    0: "survived",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
}
STATUS |= {152: "timeout", 255: "timeout", 5: "no tests", 33: "no tests", 34: "skipped"}
STATUS[37] = "type check"  # refused by mypy --strict, as `make lint` refuses it
STATUS[None] = "not checked"  # the run was stopped before this mutant


def _config() -> dict[str, Any]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return dict(data["tool"])


def _toml_value(value: Any) -> str:
    # Strings, numbers, booleans and lists of them: JSON spells them as TOML does.
    return json.dumps(value)


def _stage_dir(modules: list[str], everything: list[str]) -> Path:
    """`build/mutation/all` for every module, else one directory per set of modules."""
    return STAGING / ("all" if set(modules) == set(everything) else "+".join(sorted(modules)))


def _selection(modules: dict[str, list[str]]) -> list[str]:
    """The chosen modules' test files, each once, in a stable order."""
    return sorted({test for tests in modules.values() for test in tests})


def _stage(stage: Path, modules: dict[str, list[str]], tool: dict[str, Any]) -> Path:
    (stage / "src").mkdir(parents=True, exist_ok=True)
    package = stage / "src" / "kie_instrumental"
    # A fresh copy each run: mutmut compares function hashes to re-test only what changed.
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(
        ROOT / "wrapper" / "kie_instrumental",
        package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in LINKED:
        link = stage / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    (stage / TEST_FILES).write_text(json.dumps(modules, indent=0, sort_keys=True) + "\n", "utf-8")
    settings = dict(tool["mutmut"])
    settings["source_paths"] = ["src/kie_instrumental"]
    sources = [f"src/kie_instrumental/{module}.py" for module in sorted(modules)]
    settings["only_mutate"] = sources
    tests = _selection(modules)
    settings["pytest_add_cli_args_test_selection"] = [f"contract_tests/{t}" for t in tests]
    # Tests that look at the caller's frame cannot pass through mutmut's trampolines (one
    # more frame between the caller and the code): they run in `make test`, not here.
    for test in tool["kie-mutation"].get("deselect", []):
        settings["pytest_add_cli_args_test_selection"] += ["--deselect", f"contract_tests/{test}"]
    settings["also_copy"] = list(LINKED)
    # Each mutant's tests fastest first (`mutation/order.py`, found through PYTHONPATH). pytest's
    # unraisable-exception plugin ends each session with full garbage collections (80 ms per
    # mutant); it only turns such exceptions into warnings, which fail no test here.
    settings["pytest_add_cli_args"] = ["-p", "mutation.order", "-p", "no:unraisableexception"]
    # Plugins no chosen test uses, each costing every mutant's pytest session time (about a
    # third of a session that runs one fast test): xdist (one process per mutant already),
    # hypothesis, schemathesis and anyio (their suites are not chosen), respx's fixture.
    for plugin in UNUSED_PLUGINS:
        settings["pytest_add_cli_args"] += ["-p", f"no:{plugin}"]
    # A mutant mypy --strict refuses (as `make lint` would) needs no test run. mutmut's own
    # `# type: ignore` comments and its copies of annotated `__init__` attributes are not errors
    # of the mutant: unused ignores and redefinitions are not reported.
    settings["type_check_command"] = [
        *(sys.executable, "-m", "mypy", "--strict", "--no-warn-unused-ignores"),
        *("--disable-error-code", "no-redef", "--output", "json"),
        # A cache outside the staging directory (which --fresh removes): what the mutated
        # modules import is checked once, not on every run. The verdicts are mypy's either way.
        *("--cache-dir", str(STAGING / ".mypy_cache")),
        *sources,
    ]
    lines = ["[tool.mutmut]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
    lines.append("\n[tool.pytest.ini_options]")
    pytest_ini = tool["pytest"]["ini_options"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in pytest_ini.items()]
    (stage / "pyproject.toml").write_text("\n".join(lines) + "\n", "utf-8")
    return stage


def _results(stage: Path, module: str) -> dict[str, str]:
    meta = _meta_path(stage, module)
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    return {name: STATUS.get(code, "suspicious") for name, code in codes.items()}


@contextlib.contextmanager
def _shared_files() -> Iterator[None]:
    """Held while KILLERS and CONFIRMED are read and rewritten: two runs of different modules
    (`make mutation MODULES=...` twice) may finish a module at the same moment."""
    STAGING.mkdir(parents=True, exist_ok=True)
    with (STAGING / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _function(mutant: str) -> str:
    """`pkg.mod.x_name__mutmut_3` -> `x_name`: the key of mutmut's per-function hashes."""
    return function_of(mutant).rpartition(".")[2]


def _meta_path(stage: Path, module: str) -> Path:
    return stage / "mutants" / "src" / "kie_instrumental" / f"{module}.py.meta"


def _seed_confirmed(stage: Path, module: str) -> int:
    """Before a run from scratch: the confirmed equivalents' verdicts, as mutmut would have
    kept them from an earlier run. mutmut keeps a verdict only while its function's hash is
    unchanged, so a mutant whose function changed is run again. Returns how many."""
    listed = _equivalents()
    confirmed = {
        name: digest
        for name, digest in _read_json(CONFIRMED).items()
        if name.startswith(f"kie_instrumental.{module}.") and name in listed
    }
    if not confirmed:
        return 0
    meta = _meta_path(stage, module)
    meta.parent.mkdir(parents=True, exist_ok=True)
    seed = {
        "exit_code_by_key": dict.fromkeys(confirmed, 0),
        "hash_by_function_name": {_function(n): d for n, d in confirmed.items()},
        "type_check_error_by_key": {},
        "durations_by_key": {},
        "estimated_durations_by_key": {},
    }
    meta.write_text(json.dumps(seed, indent=4), "utf-8")
    return len(confirmed)


def _record_confirmed(stage: Path, module: str) -> None:
    """After a run: each listed equivalent of the module that survived, with its function's
    hash now; a listed mutant that was killed or is gone is no longer confirmed."""
    meta = _read_json(_meta_path(stage, module))
    codes, hashes = meta.get("exit_code_by_key", {}), meta.get("hash_by_function_name", {})
    prefix = f"kie_instrumental.{module}."
    confirmed = {n: d for n, d in _read_json(CONFIRMED).items() if not n.startswith(prefix)}
    for name in _equivalents():
        if name.startswith(prefix) and codes.get(name) == 0 and _function(name) in hashes:
            confirmed[name] = hashes[_function(name)]
    CONFIRMED.write_text(json.dumps(confirmed, indent=0, sort_keys=True) + "\n", "utf-8")


def _record_killers(stage: Path) -> None:
    """Fold this run's kills (one JSON line each, from mutation/order.py) into KILLERS: per
    function mutated, the tests that killed most of its mutants first."""
    kills = stage / "kills.jsonl"
    if not kills.exists():
        return
    counts: dict[str, dict[str, int]] = {}
    for line in kills.read_text("utf-8").splitlines():
        try:
            kill = json.loads(line)
        except ValueError:  # a line cut short by a stopped run
            continue
        function = function_of(kill["mutant"])
        tests = counts.setdefault(function, {})
        tests[kill["test"]] = tests.get(kill["test"], 0) + 1
    killers = _read_json(KILLERS)
    for function, tests in counts.items():
        ranked = sorted(tests, key=lambda t: (-tests[t], t))
        killers[function] = ranked[:KILLERS_KEPT]
    KILLERS.write_text(json.dumps(killers, indent=0, sort_keys=True) + "\n", "utf-8")


def _section(heading: str) -> str:
    """The text of MUTATION.md under a `## ` heading, up to the next one."""
    if not EQUIVALENTS.exists():
        return ""
    text = "\n" + EQUIVALENTS.read_text("utf-8")
    start = text.find(f"\n## {heading}\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _equivalents() -> set[str]:
    """Mutant names listed in MUTATION.md's equivalents ("- `name`, `name`: why": one
    reason may serve several mutants of the same kind)."""
    names: set[str] = set()
    for line in re.findall(r"^- (`[^:]+`):", _section(EQUIVALENTS_HEADING), re.M):
        names.update(re.findall(r"`([\w.]+__mutmut_\d+)`", line))
    return names


def _killed_by_make_test() -> dict[str, str]:
    """MUTATION.md's mutants that only a test left out of mutation runs sees (`deselect`):
    "- `name`: `test_file.py::test`", the mutant's name and the test that kills it."""
    found = re.findall(r"^- `([\w.]+__mutmut_\d+)`: `([^`]+)`", _section(MAKE_TEST_HEADING), re.M)
    return dict(found)


def _killed_on_plain_code(stage: Path, module: str, mutant: str, test: str) -> bool:
    """The mutant applied to a plain copy of the code (no trampolines: `mutmut apply`), the
    named test fails on it and passes on the code as it is."""
    source = stage / "src" / "kie_instrumental" / f"{module}.py"
    env = dict(os.environ, PYTHONPATH=str(stage / "src"), PYTHONDONTWRITEBYTECODE="1")
    # The copy in the staging directory is the package imported, not the editable install.
    probe = "import sys, pytest, kie_instrumental as k; assert k.__file__.startswith(sys.argv[1])"
    probe += "; sys.exit(pytest.main(sys.argv[2:]))"
    argv = [sys.executable, "-c", probe, str(stage / "src"), "-q", "-p", "no:xdist"]
    argv += ["-p", "no:cacheprovider", f"contract_tests/{test}"]

    def outcome() -> int:
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=False)  # noqa: S603
        return done.returncode

    try:
        if outcome() != 0:
            return False  # the test fails on the code as it is: it proves nothing
        runner = [sys.executable, "-m", "mutation.runner", "apply", mutant]
        env_apply = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run(runner, cwd=stage, env=env_apply, capture_output=True, check=True)  # noqa: S603
        return outcome() == 1  # 1: a test failed
    finally:
        shutil.copy2(ROOT / "wrapper" / "kie_instrumental" / f"{module}.py", source)


def _check_make_test_kills(stage: Path, modules: dict[str, list[str]]) -> None:
    """After a run: each listed mutant the run saw survive, checked on the plain code; the
    ones the named test kills there are recorded in `<stage>/killed-by-make-test.json`."""
    killed: dict[str, str] = {}
    for mutant, test in sorted(_killed_by_make_test().items()):
        module = mutant.split(".")[1]
        survived = module in modules and _results(stage, module).get(mutant) == "survived"
        if survived and _killed_on_plain_code(stage, module, mutant, test):
            killed[mutant] = test
    (stage / MAKE_TEST_KILLS).write_text(json.dumps(killed, indent=0) + "\n", "utf-8")


def _write_summary(
    rows: dict[str, dict[str, str]],
    run: dict[str, Any],
    carried: dict[str, int],
    by_make_test: dict[str, str],
    spent: str,
    summary: Path,
) -> None:
    equivalent = _equivalents()
    how = "from scratch" if run.get("fresh") else "re-testing only what changed"
    fresh = " --fresh" if run.get("fresh") else ""
    out = [
        "# Mutation summary (written by `make mutation`; do not edit)",
        "",
        f"mutmut {_mutmut_version()}, `nice -n 19`. Reproduce: `make mutation"
        f"{' MUTATION_ARGS=--fresh' if fresh else ''}` (`python -m mutation{fresh}`).",
        f"Last run: {', '.join(run.get('modules', [])) or '-'}, {how}, "
        f"{run.get('workers', '-')} mutants at once, {run.get('seconds', 0) / 60:.1f} min in all"
        f"{_cpu_note(run)}.",
        "Equivalent mutants are the ones listed in `MUTATION.md` (`not run`: confirmed by an",
        "earlier run on the same function code, `mutation/equivalents.json`); the score is",
        "killed / (checked - equivalent). Killed: by a test, by `mypy --strict` (which `make",
        "lint` runs: such a mutant never passes CI), or timed out (it hangs a call the tests",
        "bound); `no tests` counts as not killed; `not checked`: the run was stopped. `tests",
        "alone`: the score among the mutants mypy lets through. `make test`: killed by a test",
        "mutation runs leave out, checked on a plain copy of the code (`MUTATION.md`).",
        *([spent] if spent else []),
        "",
        "| module | mutants | killed by tests | by mypy | timed out | survived | equivalent"
        " | no tests | not checked | score | tests alone |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    survivors: list[str] = []
    for module, results in rows.items():
        kinds = ("killed", "type check", "timeout", "survived", "no tests", "not checked")
        counts = {s: 0 for s in kinds}
        counts["other"] = 0
        eq = outside = 0
        for name, status in results.items():
            if status == "survived" and name in equivalent:
                eq += 1
                continue
            if status == "survived" and name in by_make_test:
                status, outside = "killed", outside + 1
            counts[status if status in counts else "other"] += 1
            if status not in ("killed", "type check", "timeout", "not checked"):
                survivors.append(f"- `{name}`: {status}")
        # The score counts checked mutants only; "not checked" says how partial a run was.
        checked = len(results) - counts["not checked"]
        caught = counts["killed"] + counts["type check"] + counts["timeout"]
        score = f"{100 * caught / (checked - eq):.1f} %" if checked - eq else "-"
        # The same among the mutants mypy lets through: what the tests alone catch.
        ran = checked - eq - counts["type check"]
        by_tests = f"{100 * (caught - counts['type check']) / ran:.1f} %" if ran else "-"
        listed = f"{eq} ({carried[module]} not run)" if carried.get(module) else f"{eq}"
        killed = f"{counts['killed']} ({outside} `make test`)" if outside else f"{counts['killed']}"
        out.append(
            f"| `{module}.py` | {len(results)} | {killed} | {counts['type check']} "
            f"| {counts['timeout']} "
            f"| {counts['survived']} | {listed} | {counts['no tests']} | {counts['not checked']} "
            f"| {score} | {by_tests} |"
        )
    out += ["", "## Not killed and not listed as equivalent", ""]
    out += survivors or ["None."]
    summary.write_text("\n".join(out) + "\n", "utf-8")


def _time_spent(times: Path) -> str:
    """Where the mutants' test time went: killed in their killers' own session, or in the
    session of all their tests (killed, or not: survived), in worker seconds."""
    if not times.exists():
        return ""
    kinds: dict[str, list[float]] = {}
    for line in times.read_text("utf-8").splitlines():
        try:
            noted = json.loads(line)
        except ValueError:  # a line cut short by a stopped run
            continue
        if noted["session"] == "killers":
            kind = "killed by a known killer"
        else:
            kind = "killed by another test" if noted["exit"] else "not killed (all tests run)"
        kinds.setdefault(kind, []).append(float(noted["seconds"]))
    parts = [f"{kind} {len(t)} ({sum(t) / 60:.1f} min)" for kind, t in sorted(kinds.items())]
    return "Mutants tested, and their worker time: " + ", ".join(parts) + "."


def _cpu_note(last: dict[str, Any]) -> str:
    # The CPU time is what the run costs whatever else the machine did meanwhile. Spread over
    # 2 cores it is a floor for the same run's wall time on an idle 2-core machine (tests that
    # wait on sockets or timers take wall time without CPU).
    if "cpu" not in last:
        return ""
    minutes = last["cpu"] / 60
    return f"; CPU time {minutes:.1f} min (on 2 idle cores at least {minutes / 2:.1f} min)"


def _read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text("utf-8"))) if path.exists() else {}


def _hash_tests(tests: list[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted({*tests, "conftest.py", "_support.py", "_callbacks.py"}):
        digest.update(name.encode() + b"\0" + (ROOT / "contract_tests" / name).read_bytes())
    return digest.hexdigest()


def _summarize(stage: Path, summary: Path) -> None:
    """The summary of the staging directory's modules (each with its last verdicts)."""
    run = _read_json(stage / "run.json")
    modules = sorted(_read_json(stage / TEST_FILES))
    rows = {m: _results(stage, m) for m in modules if _meta_path(stage, m).exists()}
    by_make_test = _read_json(stage / MAKE_TEST_KILLS)
    spent = _time_spent(stage / TIMES)
    _write_summary(rows, run, run.get("carried", {}), by_make_test, spent, summary)
    print(f"mutation: summary in {summary}", flush=True)


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def _wait_with_cpu(child: subprocess.Popen[bytes]) -> tuple[int, float]:
    """The exit code of a finished mutmut and the CPU seconds it and everything it waited for
    used: a measure of the run's work that does not depend on what else the machine did."""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_utime + usage.ru_stime


def _run(stage: Path, modules: dict[str, list[str]], tool: dict[str, Any], args: Any) -> int:
    """One mutmut run over the chosen modules (its output in `<stage>/mutmut.log`)."""
    if args.fresh:
        shutil.rmtree(stage, ignore_errors=True)
    fresh = not (stage / "mutants").exists()
    _stage(stage, modules, tool)
    carried: dict[str, int] = {}
    if fresh and not args.recheck_equivalents:
        carried = {module: _seed_confirmed(stage, module) for module in modules}
    print(f"mutation: {', '.join(modules)} against {', '.join(_selection(modules))}", flush=True)
    # Survivors are tested again only when the chosen tests changed since their verdict.
    tests_hash = _hash_tests(_selection(modules))
    recorded = stage / "tests.sha256"
    stale = not fresh and (
        not recorded.exists() or recorded.read_text("utf-8").strip() != tests_hash
    )
    start = time.monotonic()
    # The lowest priority: the machine is shared with test runs.
    # mutmut's own command line, its pytest runner choosing each mutant's tests (runner.py).
    command = ["nice", "-n", "19", sys.executable, "-m", "mutation.runner", "run"]
    command += ["--max-children", str(args.workers)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["KIE_MUTATION_KILLERS"] = str(KILLERS)
    env["KIE_MUTATION_KILLS"] = str(stage / "kills.jsonl")
    env["KIE_MUTATION_TIMES"] = str(stage / TIMES)
    env["KIE_MUTATION_TEST_FILES"] = str(stage / TEST_FILES)
    (stage / "kills.jsonl").unlink(missing_ok=True)
    (stage / TIMES).unlink(missing_ok=True)
    cpu = 0.0
    with (stage / "mutmut.log").open("w", encoding="utf-8") as log:

        def run(argv: list[str]) -> int:
            nonlocal cpu
            # Our own argv: mutmut with mutant names it listed.
            child = subprocess.Popen(  # noqa: S603
                argv, cwd=stage, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            code, seconds = _wait_with_cpu(child)
            cpu += seconds
            return code

        code = run(command)
        # mutmut keeps a verdict until the function changes; tests may have sharpened since.
        equivalent = _equivalents()
        again = [
            n
            for module in modules
            for n, s in _results(stage, module).items()
            if s in ("survived", "no tests") and n not in equivalent
        ]
        if code == 0 and again and stale and not args.no_retest:
            print(f"mutation: {len(again)} survivors tested again", flush=True)
            code = run([*command, *again])
    if code == 0:
        recorded.write_text(tests_hash + "\n", "utf-8")
    seconds = round(time.monotonic() - start)
    record = {"seconds": seconds, "cpu": round(cpu), "workers": args.workers, "fresh": fresh}
    record |= {"modules": list(modules), "carried": carried}
    (stage / "run.json").write_text(json.dumps(record) + "\n", "utf-8")
    print(f"mutation: done in {seconds / 60:.1f} min (exit {code})", flush=True)
    _check_make_test_kills(stage, modules)
    with _shared_files():
        _record_killers(stage)
        for module in modules:
            _record_confirmed(stage, module)
    return code


def main(argv: list[str] | None = None) -> int:
    tool = _config()
    everything: dict[str, list[str]] = tool["kie-mutation"]["modules"]
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("modules", nargs="*", metavar="module", help=", ".join(everything))
    parser.add_argument("--summary-only", action="store_true", help="rewrite the summary only")
    parser.add_argument(
        "--workers",
        type=int,
        default=tool["kie-mutation"]["workers"],
        help="mutants tested at once (default %(default)s)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="forget earlier verdicts: test every mutant again"
    )
    parser.add_argument(
        "--summary",
        type=Path,
        help="where to write the summary (default: contract_tests/mutation-summary.md for"
        " every module, else the staging directory's mutation-summary.md)",
    )
    parser.add_argument(
        "--recheck-equivalents",
        action="store_true",
        help="in a run from scratch, test the confirmed equivalents again too",
    )
    parser.add_argument(
        "--no-retest",
        action="store_true",
        help="keep earlier survivors' verdicts even when their tests changed",
    )
    args = parser.parse_args(argv)
    chosen = args.modules or list(everything)
    unknown = [m for m in chosen if m not in everything]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(everything)}")
    stage = _stage_dir(chosen, list(everything))
    summary = args.summary or (SUMMARY if stage.name == "all" else stage / "mutation-summary.md")
    if args.summary_only:
        _summarize(stage, summary)
        return 0
    code = _run(stage, {m: everything[m] for m in chosen}, tool, args)
    _summarize(stage, summary)
    if code:
        print(f"mutation: mutmut failed (exit {code}); see {stage / 'mutmut.log'}", file=sys.stderr)
    return 1 if code else 0


if __name__ == "__main__":
    sys.exit(main())
