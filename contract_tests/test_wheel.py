"""The distribution: one wheel with both packages, py.typed and the spec, that installs into a
clean venv and works with no checkout present."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from _support import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("kie_instrumental-*.whl")
    return found


def test_wheel_contains_both_packages_typing_markers_and_the_spec(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "kie_instrumental_generated/__init__.py",
        "kie_instrumental_generated/py.typed",
        "kie_instrumental_generated/models/add_instrumental_request.py",
        "kie_instrumental_generated/api/market/create_market_task.py",
        "kie_instrumental/_routes.py",
        "kie_instrumental/__init__.py",
        "kie_instrumental/py.typed",
        "kie_instrumental/_spec/kie-add-instrumental.json",
        "kie_instrumental/_spec/kie-add-instrumental.yaml",
        "kie_instrumental/testing/_fake.py",
    ):
        assert required in names, f"{required} missing from {wheel.name}"
    assert not any("__pycache__" in name or ".ruff_cache" in name for name in names)


def test_the_wheel_installs_only_import_names_specific_to_this_distribution(wheel: Path) -> None:
    # A generic name (the generator's default `kie_api_client`) would clash with other
    # generated KIE clients installed in the same environment.
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    packages = {name for name in top_level if not name.endswith((".dist-info", ".data"))}
    assert packages == {"kie_instrumental", "kie_instrumental_generated"}


def test_extras_pull_only_what_they_serve(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    provided = set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.M))
    requires: dict[str, set[str]] = {extra: set() for extra in provided}
    for requirement, extra in re.findall(
        r"^Requires-Dist: ([A-Za-z0-9_.-]+).*extra == ['\"]([^'\"]+)", metadata, re.M
    ):
        requires[extra].add(requirement.lower())
    servers = {"starlette", "uvicorn", "python-multipart"}
    assert requires["starlette"] == {"starlette"}  # the production receiver: its framework only
    assert "cli" in provided and not requires["cli"] & servers
    assert servers <= requires["fake"]


def test_wheel_installs_into_a_clean_venv_and_works_without_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import kie_instrumental, kie_instrumental_generated, json;"
        "from kie_instrumental import KieClient, InvalidRequestError;"
        "from kie_instrumental import _spec;"
        "assert 'site-packages' in kie_instrumental.__file__, kie_instrumental.__file__;"
        "assert _spec.load_spec()['openapi'].startswith('3.1');"
        "c = KieClient('k');"
        "\ntry:\n c.add_instrumental(upload_url='https://a.b/c', title='t', tags='x',"
        " negative_tags='', callback_url='https://a.b/cb', style_weight=2)\n"
        "except InvalidRequestError as e:\n print(json.dumps(e.field))"
    )
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KIE_ROUTE")}
    result = subprocess.run(
        [str(python), "-I", "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # The default route is Market: its rule, read from the packaged spec, names input.<field>.
    assert result.stdout.strip() == '"input.style_weight"'
    cli = subprocess.run(
        [str(env_dir / "bin" / "kie-instrumental"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.stdout.strip().startswith("kie-instrumental ")
