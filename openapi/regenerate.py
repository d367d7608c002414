"""Regenerate the low-level client from the spec, or check that the committed copy is current.

    python openapi/regenerate.py                 # write generated/ and the wrapper's spec copy
    python openapi/regenerate.py --check         # exit 1, naming the files, when they differ
    python openapi/regenerate.py --check --spec other.yaml   # what a changed spec would change

Generation always runs in a fresh temporary directory (outside the repo, so no project config
can leak into the generator's ruff post-hooks) and is then compared or copied file by file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "kie-add-instrumental.yaml"
CONFIG = ROOT / "openapi" / "generator.yaml"
GENERATED = ROOT / "generated" / "kie_instrumental_generated"
SPEC_COPY = ROOT / "wrapper" / "kie_instrumental" / "_spec"
SPEC_JSON_NAME = "kie-add-instrumental.json"
SPEC_YAML_NAME = "kie-add-instrumental.yaml"


def generate(spec: Path, dest: Path) -> None:
    """Write `dest/kie_instrumental_generated` (generated code) and `dest/_spec` (spec copies)."""
    # The generator's post-hooks call `ruff` by name: put the pinned one (this venv's) first.
    bin_dir = Path(sys.executable).parent
    env_path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    package = dest / "kie_instrumental_generated"
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(package),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": env_path},
    )
    if result.returncode != 0:
        sys.exit(f"openapi-python-client failed:\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(package / ".ruff_cache", ignore_errors=True)
    # --meta none writes no py.typed; the wrapper is type-checked against these models.
    (package / "py.typed").write_text("")
    spec_dir = dest / "_spec"
    spec_dir.mkdir()
    shutil.copyfile(spec, spec_dir / SPEC_YAML_NAME)
    # A JSON rendering lets the wrapper read the spec at run time without PyYAML.
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    rendered = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    (spec_dir / SPEC_JSON_NAME).write_text(rendered, encoding="utf-8")


def _files(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def compare(fresh: Path) -> list[str]:
    """Lines naming every file that differs between a fresh generation and the repo."""
    problems = []
    for label, new_root, old_root in (
        ("generated/kie_instrumental_generated", fresh / "kie_instrumental_generated", GENERATED),
        ("wrapper/kie_instrumental/_spec", fresh / "_spec", SPEC_COPY),
    ):
        new, old = _files(new_root), _files(old_root)
        for name in sorted(new.keys() | old.keys()):
            if name not in old:
                problems.append(f"missing from the repo: {label}/{name}")
            elif name not in new:
                problems.append(f"not generated from the spec: {label}/{name}")
            elif new[name] != old[name]:
                problems.append(f"differs from the spec: {label}/{name}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("--spec", type=Path, default=SPEC, help="spec to generate from")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kie-generate-") as tmp:
        fresh = Path(tmp)
        generate(args.spec.resolve(), fresh)
        if args.check:
            problems = compare(fresh)
            if problems:
                print("check-generated: the committed code does not match the spec:")
                print("\n".join(f"  {line}" for line in problems))
                print("Run `make generate` and commit the result.")
                return 1
            print("check-generated: generated/ and the spec copy match the spec.")
            return 0
        shutil.rmtree(GENERATED, ignore_errors=True)
        shutil.copytree(fresh / "kie_instrumental_generated", GENERATED)
        shutil.rmtree(SPEC_COPY, ignore_errors=True)
        shutil.copytree(fresh / "_spec", SPEC_COPY)
        print(f"generated {GENERATED.relative_to(ROOT)} and {SPEC_COPY.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
