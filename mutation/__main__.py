"""Run mutmut over each guarantee-bearing module with the tests chosen for it, then write
`contract_tests/mutation-summary.md` (killed, survived, timed out, per module).

mutmut 3 names a mutant after the module path it copies (`mutants/<source path>`) and only
maps `src/` to an importable root, while this package lives in `wrapper/`. So each module
runs in its own staging directory, `build/mutation/<module>/`, laid out as mutmut expects:
`src/kie_instrumental` (a copy of the wrapper, the only thing mutated) and links to what the
tests read (`contract_tests/`, `openapi/`, `examples/`, `README.md`). The generated client is
imported from the editable install, unmutated. A staging directory is kept between runs, so
mutmut only re-tests what changed.

    python -m mutation [module ...]     # default: every module in [tool.kie-mutation]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGING = ROOT / "build" / "mutation"
SUMMARY = ROOT / "contract_tests" / "mutation-summary.md"
EQUIVALENTS = ROOT / "contract_tests" / "MUTATION.md"
# What the tests read relative to the project root, linked into each staging directory.
LINKED = ("contract_tests", "openapi", "examples", "README.md", "CHANGELOG.md")
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
STATUS[None] = "not checked"  # the run was stopped before this mutant


def _config() -> dict[str, Any]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return data["tool"]


def _toml_value(value: Any) -> str:
    # Strings, numbers, booleans and lists of them: JSON spells them as TOML does.
    return json.dumps(value)


def _stage(module: str, tests: list[str], tool: dict[str, Any]) -> Path:
    stage = STAGING / module
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
    settings = dict(tool["mutmut"])
    settings["source_paths"] = ["src/kie_instrumental"]
    settings["only_mutate"] = [f"src/kie_instrumental/{module}.py"]
    settings["pytest_add_cli_args_test_selection"] = [f"contract_tests/{t}" for t in tests]
    settings["also_copy"] = list(LINKED)
    lines = ["[tool.mutmut]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
    lines.append("\n[tool.pytest.ini_options]")
    pytest_ini = tool["pytest"]["ini_options"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in pytest_ini.items()]
    (stage / "pyproject.toml").write_text("\n".join(lines) + "\n", "utf-8")
    return stage


def _results(stage: Path, module: str) -> dict[str, str]:
    meta = stage / "mutants" / "src" / "kie_instrumental" / f"{module}.py.meta"
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    return {name: STATUS.get(code, "suspicious") for name, code in codes.items()}


def _equivalents() -> set[str]:
    """Mutant names listed in MUTATION.md's equivalents table (`- \\`name\\`: why`)."""
    if not EQUIVALENTS.exists():
        return set()
    return set(re.findall(r"^- `([\w.]+__mutmut_\d+)`", EQUIVALENTS.read_text("utf-8"), re.M))


def _write_summary(rows: dict[str, dict[str, str]], durations: dict[str, float]) -> None:
    equivalent = _equivalents()
    out = [
        "# Mutation summary (written by `make mutation`; do not edit)",
        "",
        f"mutmut {_mutmut_version()}, one worker, `nice -n 19`. Equivalent mutants are the ones",
        "listed in `MUTATION.md`; the score is killed / (checked - equivalent), timeouts counted",
        "as killed (the mutant hangs a call the tests bound); `not checked`: the run was stopped.",
        "",
        "| module | mutants | killed | timed out | survived | equivalent | no tests"
        " | not checked | score | time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    survivors: list[str] = []
    for module, results in rows.items():
        counts = {s: 0 for s in ("killed", "timeout", "survived", "no tests", "not checked")}
        counts["other"] = 0
        eq = 0
        for name, status in results.items():
            if status == "survived" and name in equivalent:
                eq += 1
                continue
            counts[status if status in counts else "other"] += 1
            if status not in ("killed", "timeout", "not checked"):
                survivors.append(f"- `{name}`: {status}")
        # The score counts checked mutants only; "not checked" says how partial a run was.
        checked = len(results) - counts["not checked"]
        caught = counts["killed"] + counts["timeout"]
        score = f"{100 * caught / (checked - eq):.1f} %" if checked - eq else "-"
        out.append(
            f"| `{module}.py` | {len(results)} | {counts['killed']} | {counts['timeout']} "
            f"| {counts['survived']} | {eq} | {counts['no tests']} | {counts['not checked']} "
            f"| {score} "
            f"| {durations.get(module, 0) / 60:.0f} min |"
        )
    out += ["", "## Not killed and not listed as equivalent", ""]
    out += survivors or ["None."]
    SUMMARY.write_text("\n".join(out) + "\n", "utf-8")


def _hash_tests(tests: list[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted({*tests, "conftest.py", "_support.py", "_callbacks.py"}):
        digest.update(name.encode() + b"\0" + (ROOT / "contract_tests" / name).read_bytes())
    return digest.hexdigest()


def _summarize(modules: dict[str, list[str]]) -> None:
    """The summary over every module run so far (each keeps its last run's verdicts)."""
    staged = [m for m in modules if (STAGING / m / "mutants").exists()]
    rows = {m: _results(STAGING / m, m) for m in staged}
    durations = {}
    for m in staged:
        seconds = STAGING / m / "duration"
        durations[m] = float(seconds.read_text("utf-8")) if seconds.exists() else 0.0
    _write_summary(rows, durations)
    print(f"mutation: summary in {SUMMARY.relative_to(ROOT)}", flush=True)


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main(argv: list[str] | None = None) -> int:
    tool = _config()
    modules: dict[str, list[str]] = tool["kie-mutation"]["modules"]
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("modules", nargs="*", metavar="module", help=", ".join(modules))
    parser.add_argument("--summary-only", action="store_true", help="rewrite the summary only")
    parser.add_argument(
        "--no-retest",
        action="store_true",
        help="keep earlier survivors' verdicts even when their tests changed",
    )
    args = parser.parse_args(argv)
    chosen = args.modules or list(modules)
    unknown = [m for m in chosen if m not in modules]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(modules)}")
    mutmut = Path(sys.executable).with_name("mutmut")
    durations: dict[str, float] = {}
    failed: list[str] = []
    for module in chosen:
        if args.summary_only:
            break
        stage = _stage(module, modules[module], tool)
        print(f"mutation: {module}.py against {', '.join(modules[module])}", flush=True)
        # Survivors are tested again only when the chosen tests changed since their verdict.
        tests_hash = _hash_tests(modules[module])
        recorded = stage / "tests.sha256"
        stale = (stage / "mutants").exists() and (
            not recorded.exists() or recorded.read_text("utf-8").strip() != tests_hash
        )
        start = time.monotonic()
        # One worker at the lowest priority: the machine is shared with test runs.
        command = ["nice", "-n", "19", str(mutmut), "run", "--max-children", "1"]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        code = subprocess.run(command, cwd=stage, env=env, check=False).returncode  # noqa: S603
        # mutmut keeps a verdict until the function changes; tests may have sharpened since.
        equivalent = _equivalents()
        again = [
            n
            for n, s in _results(stage, module).items()
            if s in ("survived", "no tests") and n not in equivalent
        ]
        if code == 0 and again and stale and not args.no_retest:
            print(f"mutation: {module}.py: {len(again)} survivors tested again", flush=True)
            code = subprocess.run([*command, *again], cwd=stage, env=env, check=False).returncode  # noqa: S603
        if code != 0:
            failed.append(module)
        else:
            recorded.write_text(tests_hash + "\n", "utf-8")
        durations[module] = time.monotonic() - start
        (stage / "duration").write_text(f"{durations[module]:.0f}\n", "utf-8")
        _summarize(modules)
    _summarize(modules)
    if failed:
        print(f"mutation: mutmut failed for {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
