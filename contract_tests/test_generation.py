"""Layer 2: generated/ is what the pinned generator makes of the spec, reproducibly, and
check-generated notices when the spec and the committed code part ways."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from _support import ROOT, SPEC_PATH

REGENERATE = ROOT / "openapi" / "regenerate.py"


def _regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate", REGENERATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_check(spec: Path = SPEC_PATH) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REGENERATE), "--check", "--spec", str(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_committed_code_matches_a_fresh_generation() -> None:
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_generations_are_byte_identical(tmp_path: Path) -> None:
    regenerate = _regenerate_module()
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    regenerate.generate(SPEC_PATH, first)
    regenerate.generate(SPEC_PATH, second)
    one, two = regenerate._files(first), regenerate._files(second)
    assert one.keys() == two.keys()
    assert [name for name in one if one[name] != two[name]] == []
    assert "kie_instrumental_generated/py.typed" in one
    assert not any(".ruff_cache" in name for name in one)


def add_field(text: str) -> str:
    """A new optional request field, inserted beside audioWeight."""
    anchor = "        audioWeight:\n"
    assert anchor in text
    return text.replace(anchor, "        tempoHint:\n          type: string\n" + anchor, 1)


def test_check_generated_names_the_files_a_new_field_changes(tmp_path: Path) -> None:
    changed = tmp_path / "spec.yaml"
    changed.write_text(add_field(SPEC_PATH.read_text()))
    result = run_check(changed)
    assert result.returncode == 1
    assert (
        "differs from the spec: "
        "generated/kie_instrumental_generated/models/add_instrumental_request.py" in result.stdout
    )
    assert "wrapper/kie_instrumental/_spec/kie-add-instrumental.json" in result.stdout
    assert "make generate" in result.stdout


def test_generator_version_is_pinned() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"openapi-python-client==' in pyproject
    assert '"ruff==' in pyproject


@pytest.mark.parametrize("name", ["kie-add-instrumental.json", "kie-add-instrumental.yaml"])
def test_the_wrapper_ships_the_spec(name: str) -> None:
    assert (ROOT / "wrapper" / "kie_instrumental" / "_spec" / name).is_file()
