"""2. Import time of `import kie_instrumental` against `import httpx` in fresh interpreters of a
clean venv holding only the wheel and its runtime dependencies (the development venv also has
click and rich, which httpx imports for its own CLI when present: a flattering baseline)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def clean_python(workdir: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(workdir / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    venv.create(workdir / "venv", with_pip=False)
    python = workdir / "venv" / "bin" / "python"
    (wheel,) = (workdir / "dist").glob("*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    return python


def import_seconds(python: Path, module: str) -> float:
    out = subprocess.run(
        [str(python), "-I", "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def run(processes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kie-bench-") as tmp:
        python = clean_python(Path(tmp))
        samples: dict[str, list[float]] = {"httpx": [], "kie_instrumental": []}
        for _ in range(processes):  # interleaved, so drift hits both alike
            for module in samples:
                samples[module].append(import_seconds(python, module))
    medians = {module: statistics.median(values) for module, values in samples.items()}
    # Noise only ever adds time, so the fastest runs bound the true cost from above.
    fastest = {module: min(values) for module, values in samples.items()}
    return {
        "processes": processes,
        "venv": "clean: the wheel and its runtime dependencies",
        "httpx_ms": round(medians["httpx"] * 1e3, 2),
        "kie_instrumental_ms": round(medians["kie_instrumental"] * 1e3, 2),
        "ratio": round(medians["kie_instrumental"] / medians["httpx"], 3),
        "ratio_of_fastest": round(fastest["kie_instrumental"] / fastest["httpx"], 3),
    }
