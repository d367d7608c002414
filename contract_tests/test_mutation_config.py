"""`make mutation` is set up to run: its configuration names real modules and test files,
mutmut is pinned, and the staging copy it runs in is read by mutmut as intended (the mutated
module, the tests chosen for it). The mutation run itself is `make mutation`, not part of
`make test`."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _support import ROOT
from mutmut import configuration

TOOL = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]
MODULES: dict[str, list[str]] = TOOL["kie-mutation"]["modules"]


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_mutation_driver", ROOT / "mutation/__main__.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fresh_mutmut_config() -> Iterator[None]:
    """mutmut reads its configuration once, from the working directory: read it again for
    this test, and again after it."""
    configuration.reset_config()
    yield
    configuration.reset_config()


@pytest.fixture
def mutmut_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_mutmut_config: None) -> Path:
    """A working directory mutmut accepts (its configuration, a source directory)."""
    monkeypatch.chdir(tmp_path)
    Path("pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["src"]\n', "utf-8")
    Path("src").mkdir()
    return tmp_path


def test_every_listed_module_and_test_file_exists() -> None:
    assert {"webhooks", "receivers", "_errors", "_validation", "_files"} <= set(MODULES)
    for module, tests in MODULES.items():
        assert (ROOT / "wrapper" / "kie_instrumental" / f"{module}.py").is_file(), module
        assert tests, module
        for test in tests:
            assert (ROOT / "contract_tests" / test).is_file(), (module, test)


def test_mutmut_is_pinned_in_the_dev_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    pins = [d for d in project["optional-dependencies"]["dev"] if d.startswith("mutmut")]
    assert len(pins) == 1 and "==3." in pins[0], pins


def test_the_staging_copy_is_read_by_mutmut_as_intended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One staging directory for the chosen modules: each of them mutated and no other, the
    tests of all their files selected once, and which files are whose kept for order.py."""
    driver = _driver()
    chosen = {m: MODULES[m] for m in ("webhooks", "receivers")}
    stage = driver._stage(tmp_path / "stage", chosen, TOOL)
    assert (stage / "src" / "kie_instrumental" / "webhooks.py").read_bytes() == (
        ROOT / "wrapper" / "kie_instrumental" / "webhooks.py"
    ).read_bytes()
    monkeypatch.chdir(stage)
    config = configuration._load_config()
    assert config.should_mutate(Path("src/kie_instrumental/webhooks.py"))
    assert config.should_mutate(Path("src/kie_instrumental/receivers.py"))
    assert not config.should_mutate(Path("src/kie_instrumental/_core.py"))
    deselected = [
        arg
        for t in TOOL["kie-mutation"]["deselect"]
        for arg in ("--deselect", f"contract_tests/{t}")
    ]
    union = sorted({*MODULES["webhooks"], *MODULES["receivers"]})
    assert len(union) < len(MODULES["webhooks"]) + len(MODULES["receivers"])  # shared files
    assert (
        config.pytest_add_cli_args_test_selection
        == [f"contract_tests/{t}" for t in union] + deselected
    )
    assert json.loads((stage / driver.TEST_FILES).read_text("utf-8")) == chosen
    assert config.pytest_add_cli_args[:2] == ["-p", "mutation.order"]
    assert "mypy" in config.type_check_command
    assert "src/kie_instrumental/receivers.py" in config.type_check_command
    assert config.process_isolation.value == TOOL["mutmut"]["process_isolation"]
    assert os.path.samefile(stage / "contract_tests", ROOT / "contract_tests")
    everything = list(MODULES)
    assert driver._stage_dir(everything, everything).name == "all"
    assert driver._stage_dir(["webhooks", "receivers"], everything).name == "receivers+webhooks"


def test_a_mutant_runs_its_modules_tests_and_its_killers_in_a_session_of_their_own(
    tmp_path: Path,
) -> None:
    """mutmut's pytest runner as `mutation/runner.py` sets it up, running real pytest sessions:
    a mutant runs only the tests of its own module's files (another module's when it has none);
    its function's known killers run first, alone, and the full session only if they pass. The
    verdict (the exit code) is the one running every chosen test gives."""
    import subprocess
    import sys

    (tmp_path / "pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["src"]\n', "utf-8")
    (tmp_path / "src").mkdir()
    tests = tmp_path / "mutants" / "contract_tests"
    tests.mkdir(parents=True)
    code = "import os\n\ndef _ran(name):\n    with open(os.environ['RAN'], 'a') as f:\n"
    code += "        f.write(name + '\\n')\n\n"
    for name, fails in [("killer", "KILLER_FAILS"), ("other", "OTHER_FAILS")]:
        code += (
            f"def test_{name}():\n    _ran('{name}')\n    assert not os.environ.get('{fails}')\n\n"
        )
    (tests / "test_own.py").write_text(code, "utf-8")
    (tests / "test_elsewhere.py").write_text(
        "import os\n\ndef test_elsewhere():\n    with open(os.environ['RAN'], 'a') as f:\n"
        "        f.write('elsewhere\\n')\n",
        "utf-8",
    )
    (tmp_path / "files.json").write_text(json.dumps({"m": ["test_own.py"]}))
    (tmp_path / "killers.json").write_text(
        json.dumps({"kie_instrumental.m.x_f": ["contract_tests/test_own.py::test_killer"]})
    )
    chosen = [
        "contract_tests/test_own.py::test_other",
        "contract_tests/test_elsewhere.py::test_elsewhere",
        "contract_tests/test_own.py::test_killer",
    ]
    # One process runs every case (as mutmut's fork server runs session after session): each
    # case is a mutant, its tests and the environment its tests see.
    run = (
        "import sys, os, json, mutation.runner; from mutmut.runners.harness import PytestRunner\n"
        "out = []\n"
        "for mutant, tests, env in json.load(sys.stdin):\n"
        "    os.environ.update(env)\n"
        "    code = PytestRunner().run_tests(mutant_name=mutant, tests=tests)\n"
        "    ran = open(env['RAN']).read().split() if os.path.exists(env['RAN']) else []\n"
        "    out.append([code, ran])\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTEST_ADDOPTS="-p no:cacheprovider")
    env |= {"KIE_MUTATION_TEST_FILES": str(tmp_path / "files.json")}
    env |= {"KIE_MUTATION_KILLERS": str(tmp_path / "killers.json")}
    env |= {"KIE_MUTATION_TIMES": str(tmp_path / "times.jsonl")}
    mutant, other = "kie_instrumental.m.x_f__mutmut_3", "kie_instrumental.m.x_g__mutmut_1"
    cases = [
        (mutant, chosen, {"KILLER_FAILS": "1"}),
        (mutant, chosen, {"OTHER_FAILS": "1"}),
        (mutant, chosen, {}),
        (mutant, chosen[1:2], {}),
        (other, chosen, {"OTHER_FAILS": "1"}),
        (other, chosen, {}),
    ]
    # Each case: no test fails but the one named; a file of its own for the tests it ran.
    plain = {"KILLER_FAILS": "", "OTHER_FAILS": ""}
    runs = [
        [m, t, plain | fails | {"RAN": str(tmp_path / f"ran{i}.txt")}]
        for i, (m, t, fails) in enumerate(cases)
    ]
    done = subprocess.run(
        [sys.executable, "-c", run],
        input=json.dumps(runs),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    verdicts = [tuple(v) for v in json.loads(done.stdout.splitlines()[-1])]
    assert verdicts == [
        (1, ["killer"]),  # the killer fails in its own session: nothing else runs
        # The killer passes: the full session (the given order here: no order.py) stops at
        # the first failure (-x).
        (1, ["killer", "other"]),
        (0, ["killer", "other", "killer"]),
        (0, ["elsewhere"]),  # a function only another module's test reached keeps that test
        (1, ["other"]),  # no killers known for this function: one session
        (0, ["other", "killer"]),
    ]
    # Each mutant's verdict, the session that gave it and its time, for the summary.
    noted = [json.loads(line) for line in (tmp_path / "times.jsonl").read_text().splitlines()]
    assert [(n["session"], n["exit"]) for n in noted] == [
        ("killers", 1),
        ("all", 1),
        ("all", 0),
        ("all", 0),
        ("all", 1),
        ("all", 0),
    ]
    assert all(0 < n["seconds"] < 60 for n in noted)
    spent = _driver()._time_spent(tmp_path / "times.jsonl")
    assert "killed by a known killer 1 (" in spent
    assert "killed by another test 2 (" in spent
    assert "not killed (all tests run) 3 (" in spent


def test_a_mutants_tests_run_fastest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from mutation import order

    durations = {"t.py::slow": 9.0, "t.py::fast": 0.1, "t.py::mid": 1.0}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": durations}))
    items = [
        SimpleNamespace(nodeid=n) for n in ("t.py::new", "t.py::slow", "t.py::fast", "t.py::mid")
    ]
    monkeypatch.chdir(tmp_path)
    order.pytest_collection_modifyitems(items)
    # Unmeasured tests last: a mutant's run stops at its first failing test.
    assert [i.nodeid for i in items] == ["t.py::fast", "t.py::mid", "t.py::slow", "t.py::new"]


def test_no_chosen_test_file_needs_a_plugin_the_mutation_runs_leave_out() -> None:
    """Mutation runs load no xdist, schemathesis, anyio or respx plugin (each would cost every
    mutant's session): a chosen test using one would fail on the unmutated code, and mutmut
    would then refuse to run the module at all."""
    driver = _driver()
    assert {"xdist", "schemathesis", "anyio", "respx"} <= set(driver.UNUSED_PLUGINS)
    needs = ("@schema.parametrize", "schemathesis.pytest", "respx_mock", "mark.anyio", "mark.respx")
    for module, tests in MODULES.items():
        for test in tests:
            text = (ROOT / "contract_tests" / test).read_text("utf-8")
            assert not [n for n in needs if n in text], (module, test)


def test_a_test_hung_by_a_mutant_ends_its_run_as_a_timeout(tmp_path: Path) -> None:
    """A test running far past its measured time ends the mutant's process with the status
    mutmut records as a timeout (not a kill), long before mutmut's own limit for the mutant."""
    import subprocess
    import sys

    from mutation import order

    (tmp_path / "test_t.py").write_text(
        "import time\n\ndef test_quick():\n    pass\n\ndef test_hangs():\n    time.sleep(30)\n"
    )
    durations = {"test_t.py::test_quick": 0.0, "test_t.py::test_hangs": 0.0}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": durations}))
    run = (
        "import sys, pytest, mutation.order as o; o.GRACE = 0.3; "
        "sys.exit(pytest.main(['-q', '-p', 'mutation.order', '-p', 'no:cacheprovider', "
        "*sys.argv[1:]]))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    argv = [sys.executable, "-c", run, "test_t.py"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=20)
    assert done.returncode == order.TIMEOUT_EXIT
    assert order.bound(2.0) == 2.0 * order.SLOWDOWN + order.GRACE


def test_a_modules_run_is_measured_in_cpu_seconds_of_everything_it_started() -> None:
    """The summary's CPU time counts the processes mutmut starts (its workers), not only
    mutmut itself: a child that spends its time in a grandchild is charged for it."""
    import subprocess
    import sys

    burn = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', "
    burn += "'sum(range(3 * 10**7))']).returncode + 3)"
    child = subprocess.Popen([sys.executable, "-c", burn])
    code, cpu = _driver()._wait_with_cpu(child)
    assert code == 3
    assert cpu > 0.3


def test_an_equivalents_line_may_name_several_mutants_of_one_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = _driver()
    listed = tmp_path / "MUTATION.md"
    listed.write_text(
        "# Mutation testing\n\n- `m.x_early__mutmut_1`: before the equivalents: not one\n\n"
        "## Killed by `make test` only\n\n- `m.x_k__mutmut_3`: `test_t.py::test_line`\n\n"
        "## Equivalent mutants\n\n"
        "- `m.x_a__mutmut_1`: one reason: with a colon, and `m.x_z__mutmut_9` in the text\n"
        "- `m.xǁCǁget__mutmut_7`, `m.xǁCǁget__mutmut_8`: another\n"
        "not a list line `m.x_b__mutmut_2`: no\n",
        "utf-8",
    )
    monkeypatch.setattr(driver, "EQUIVALENTS", listed)
    assert driver._equivalents() == {
        "m.x_a__mutmut_1",
        "m.xǁCǁget__mutmut_7",
        "m.xǁCǁget__mutmut_8",
    }
    assert driver._killed_by_make_test() == {"m.x_k__mutmut_3": "test_t.py::test_line"}


def test_the_tests_that_killed_a_functions_mutants_before_run_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mutant's tests: first the ones that killed its function's mutants in earlier runs (in
    that order), then the rest fastest first. Another function's killers get no precedence."""
    from types import SimpleNamespace

    from mutation import order

    durations = {"t.py::slow": 9.0, "t.py::fast": 0.1, "t.py::mid": 1.0, "t.py::other": 0.5}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": durations}))
    killers = {"pkg.m.x_f": ["t.py::slow", "t.py::mid"], "pkg.m.x_g": ["t.py::other"]}
    (tmp_path / "killers.json").write_text(json.dumps(killers))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIE_MUTATION_KILLERS", str(tmp_path / "killers.json"))
    monkeypatch.setenv("MUTANT_UNDER_TEST", "pkg.m.x_f__mutmut_12")
    items = [
        SimpleNamespace(nodeid=n) for n in ("t.py::fast", "t.py::other", *killers["pkg.m.x_f"])
    ]
    order.pytest_collection_modifyitems(items)
    assert [i.nodeid for i in items] == ["t.py::slow", "t.py::mid", "t.py::fast", "t.py::other"]


def test_a_run_notes_the_test_that_killed_each_mutant_and_ranks_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each mutant's first failing test (or the one it hung) is noted by the pytest session
    that ran it; after the module's run, each function keeps its killers, most kills first."""
    import subprocess
    import sys

    (tmp_path / "test_t.py").write_text(
        "import time\n\ndef test_passes():\n    pass\n\ndef test_fails():\n    assert False\n\n"
        "def test_hangs():\n    time.sleep(30)\n"
    )
    durations = dict.fromkeys(("test_t.py::test_passes", "test_t.py::test_hangs"), 0.0)
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": durations}))
    kills = tmp_path / "kills.jsonl"
    run = (
        "import sys, pytest, mutation.order as o; o.GRACE = 0.3; "
        "sys.exit(pytest.main(['-q', '-p', 'mutation.order', '-p', 'no:cacheprovider', "
        "*sys.argv[1:]]))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), KIE_MUTATION_KILLS=str(kills))
    for mutant, test in [
        ("kie_instrumental.m.x_f__mutmut_1", "test_fails"),
        ("kie_instrumental.m.x_f__mutmut_2", "test_hangs"),
        ("kie_instrumental.m.x_f__mutmut_3", "test_fails"),
        ("", "test_fails"),  # mutmut's clean and forced-fail runs: no mutant, nothing noted
    ]:
        argv = [sys.executable, "-c", run, "test_t.py::test_passes", f"test_t.py::{test}"]
        env["MUTANT_UNDER_TEST"] = mutant
        subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=20, check=False)
    noted = [json.loads(line) for line in kills.read_text("utf-8").splitlines()]
    assert noted == [
        {"mutant": "kie_instrumental.m.x_f__mutmut_1", "test": "test_t.py::test_fails"},
        {"mutant": "kie_instrumental.m.x_f__mutmut_2", "test": "test_t.py::test_hangs"},
        {"mutant": "kie_instrumental.m.x_f__mutmut_3", "test": "test_t.py::test_fails"},
    ]
    driver = _driver()
    monkeypatch.setattr(driver, "KILLERS", tmp_path / "killers.json")
    driver.KILLERS.write_text(json.dumps({"kie_instrumental.m.x_g": ["test_t.py::kept"]}))
    driver._record_killers(tmp_path)
    assert json.loads(driver.KILLERS.read_text("utf-8")) == {
        "kie_instrumental.m.x_f": ["test_t.py::test_fails", "test_t.py::test_hangs"],
        "kie_instrumental.m.x_g": ["test_t.py::kept"],
    }


def test_a_confirmed_equivalent_is_not_run_again_until_its_function_changes(
    tmp_path: Path, mutmut_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listed equivalent that survived a run is recorded with its function's hash; a run
    from scratch gives mutmut that verdict back, and mutmut itself keeps it only while the
    function is unchanged (mutmut's own mutant generation decides, here run for real)."""
    driver = _driver()
    monkeypatch.setattr(driver, "STAGING", tmp_path)
    monkeypatch.setattr(driver, "CONFIRMED", tmp_path / "equivalents.json")
    listed = tmp_path / "MUTATION.md"
    monkeypatch.setattr(driver, "EQUIVALENTS", listed)
    source = Path("src/kie_instrumental/m.py")
    source.parent.mkdir(parents=True)
    output = Path("mutants") / source
    from mutmut.__main__ import create_file_mutants  # reads the config above on import

    def generate(code: str) -> dict[str, Any]:
        source.write_text(code, "utf-8")
        result = create_file_mutants(source)
        assert result.error is None, result.error
        return dict(json.loads((output.parent / "m.py.meta").read_text("utf-8")))

    code = "def f(x):\n    return x + 1\n\ndef g(y):\n    return y * 2\n"
    names = sorted(generate(code)["exit_code_by_key"])
    f_mutant = next(n for n in names if ".x_f__" in n)
    g_mutant = next(n for n in names if ".x_g__" in n)
    listed.write_text(f"## Equivalent mutants\n\n- `{f_mutant}`, `{g_mutant}`: why\n", "utf-8")
    meta = generate(code) | {"exit_code_by_key": {f_mutant: 0, g_mutant: 1}}
    (output.parent / "m.py.meta").write_text(json.dumps(meta), "utf-8")
    driver._record_confirmed(tmp_path, "m")  # f's survived: confirmed; g's was killed: not
    assert json.loads(driver.CONFIRMED.read_text("utf-8")) == {
        f_mutant: meta["hash_by_function_name"]["x_f"]
    }

    shutil.rmtree("mutants")
    assert driver._seed_confirmed(tmp_path, "m") == 1
    assert generate(code)["exit_code_by_key"][f_mutant] == 0  # kept: not run again
    shutil.rmtree("mutants")
    driver._seed_confirmed(tmp_path, "m")
    assert generate(code.replace("x + 1", "x + 2"))["exit_code_by_key"][f_mutant] is None


def test_a_mutant_only_make_test_sees_counts_killed_when_its_test_fails_on_plain_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_mutmut_config: None
) -> None:
    """The caller's-line test is left out of mutation runs (mutmut's trampolines add frames);
    a mutant listed as killed by it is checked on a plain copy of the code with the mutant
    applied (mutmut's own `apply`, for real): killed when that test fails there, not when the
    test cannot see the change. The staged copy is the code as it is afterwards."""
    driver = _driver()
    stage = driver._stage(tmp_path / "stage", {"_routes": MODULES["_routes"]}, TOOL)
    monkeypatch.chdir(stage)
    from mutmut.__main__ import create_file_mutants

    source = Path("src/kie_instrumental/_routes.py")
    assert create_file_mutants(source).error is None
    test = driver._killed_by_make_test()[
        "kie_instrumental._routes.xǁRouteǁwarn_discontinued__mutmut_14"
    ]
    assert test.split("::")[1] in " ".join(TOOL["kie-mutation"]["deselect"])
    # stacklevel - 1: the warning points into the library, not at the caller's line.
    assert driver._killed_on_plain_code(
        stage, "_routes", "kie_instrumental._routes.xǁRouteǁwarn_discontinued__mutmut_14", test
    )
    # A listed equivalent (`rsplit("/")` for `rsplit("/", 1)`): the test passes on it.
    assert not driver._killed_on_plain_code(
        stage, "_routes", "kie_instrumental._routes.x__ref_name__mutmut_4", test
    )
    assert source.read_bytes() == (ROOT / "wrapper/kie_instrumental/_routes.py").read_bytes()


def test_the_clean_run_is_left_out_only_after_stats_passed_every_chosen_test(
    mutmut_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mutmut's clean run checks every chosen test passes on the unmutated code; its stats
    run, just before, ran the same tests on the same code. The clean run is left out only when
    that stats run covered every test (an empty list) and passed; otherwise it runs."""
    from mutation import runner

    ran: list[list[str]] = []

    def stats(code: int) -> Any:
        return lambda _self, tests: code

    def clean(_self: object, tests: list[str]) -> int:
        ran.append(tests)
        return 0

    monkeypatch.setattr(runner, "_run_clean_tests", clean)
    monkeypatch.setattr(runner, "_all_passed_in_stats", False)
    server: Any = object()
    for stats_code, stats_tests, clean_tests, runs in [
        (0, [], [], False),  # every test passed in stats: not run again
        (1, [], [], True),  # a test failed in stats (mutmut stops there anyway)
        (0, ["t.py::new"], [], True),  # stats for new tests only: the rest unchecked
        (0, [], ["t.py::a"], True),  # mutmut's clean run for named mutants' tests
    ]:
        ran.clear()
        monkeypatch.setattr(runner, "_collect_stats", stats(stats_code))
        assert runner.collect_stats(server, stats_tests) == stats_code
        assert runner.run_clean_tests(server, clean_tests) == 0
        assert ran == ([clean_tests] if runs else []), (stats_code, stats_tests, clean_tests)


def test_the_libraries_caches_are_emptied_after_the_fork_servers_warm_up(
    mutmut_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test file that builds validation rules at import fills the library's caches in the
    fork server; every mutant's process would inherit the unmutated rules. The runner empties
    each of the library's caches after the warm-up, so a mutant computes them again."""
    from kie_instrumental import _spec, _validation

    from mutation import runner

    _validation.request_validator(_spec.request_schema_name(_spec.ADD_INSTRUMENTAL_PATH))
    assert _validation.request_validator.cache_info().currsize > 0
    warmed: list[str] = []
    monkeypatch.setattr(runner, "_warm_up", lambda _self: warmed.append("collected"))
    runner.warm_up(object())  # type: ignore[arg-type]
    assert warmed == ["collected"]
    assert _validation.request_validator.cache_info().currsize == 0
    assert _validation.python_name.cache_info().currsize == 0
    # In mutmut's stats run (and only there) they are emptied before each test too: a test
    # relying on cached rules is credited with the functions that build them.
    from mutation import order

    for under_test, emptied in [("stats", True), ("", False), ("m.x_f__mutmut_1", False)]:
        _validation.request_validator(_spec.request_schema_name(_spec.ADD_INSTRUMENTAL_PATH))
        monkeypatch.setenv("MUTANT_UNDER_TEST", under_test)
        order.pytest_runtest_setup(object())
        assert (_validation.request_validator.cache_info().currsize == 0) is emptied, under_test
