"""Timing helpers: medians of batches, so one slow moment does not skew a figure."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call_seconds(call: Callable[[], object], *, calls: int = 2000, batches: int = 9) -> float:
    """Median over `batches` of the mean time per call in a batch of `calls // batches`."""
    size = max(1, calls // batches)
    for _ in range(min(50, size)):  # warm up caches and lazy imports
        call()
    samples = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(size):
            call()
        samples.append((time.perf_counter() - started) / size)
    return statistics.median(samples)


def interleaved(measures: dict[str, Callable[[], float]], rounds: int = 3) -> dict[str, float]:
    """Run each measure `rounds` times, interleaved, and keep each one's median."""
    results: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            results[name].append(measure())
    return {name: statistics.median(values) for name, values in results.items()}
