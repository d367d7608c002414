"""python -m bench [--quick]: run every benchmark, print a table, write bench/results.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import batch, imports, micro, overhead, polling, throughput

RESULTS = Path(__file__).resolve().parent / "results.json"
GOALS = {
    "overhead": "KieClient <= 1.4x raw httpx (create), <= 1.3x (get_task, no hooks)",
    "imports": "<= 1.5x import httpx",
    "batch": ">= 0.9 of the 20/window ideal, 0 HTTP 429, peak RSS 200 vs 50 items <= 1.1x",
    "throughput": ">= 0.8x raw httpx.AsyncClient",
    "polling": "median lag <= 10% of duration, fewer calls than fixed 10 s",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "goals": GOALS,
    }
    results["overhead"] = overhead.run(calls=int(3000 * scale) or 100)
    results["imports"] = imports.run(processes=max(10, int(31 * scale)))
    results["throughput"] = throughput.run(count=int(2000 * scale) or 200)
    results["polling"] = polling.run(count=int(1000 * scale) or 100)
    results["micro"] = micro.run(calls=int(20000 * scale) or 2000)
    results["batch"] = batch.run(items=int(200 * scale) or 40, small=int(50 * scale) or 10)
    print_table(results)
    if not args.quick:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {RESULTS}")
    return 0


def print_table(results: dict[str, Any]) -> None:
    print(f"kie-instrumental benchmarks ({results['python']}, {results['cpus']} cpus)\n")
    print("1. per-call CPU overhead (MockTransport), ratio to raw httpx")
    for name, row in results["overhead"].items():
        print(f"   {name:<38} {row['us_per_call']:>9.1f} us   {row['ratio']:>6.2f}x")
    i = results["imports"]
    print(f"\n2. import time in a clean venv, median of {i['processes']} processes each")
    print(
        f"   import httpx {i['httpx_ms']:.1f} ms, import kie_instrumental "
        f"{i['kie_instrumental_ms']:.1f} ms   {i['ratio']:.2f}x "
        f"(fastest runs {i['ratio_of_fastest']:.2f}x)"
    )
    t = results["throughput"]
    print(
        f"\n3. async throughput, {t['calls']} creates, {t['in_flight']} in flight, FakeKie on "
        "loopback"
    )
    print(
        f"   raw httpx {t['raw_httpx_calls_per_s']:.0f}/s, AsyncKieClient "
        f"{t['async_kie_client_calls_per_s']:.0f}/s   {t['ratio']:.2f}x"
    )
    p = results["polling"]
    print(f"\n4. polling over {p['tasks']} tasks of 5-600 s (seed {p['seed']})")
    for name in ("wait() backoff", "fixed 10 s", "fixed 30 s"):
        row = p[name]
        print(
            f"   {name:<15} calls {row['total_calls']:>6}   median lag "
            f"{row['median_lag_s']:>6.2f} s ({row['median_lag_fraction']:.1%} of duration)"
            f"   p95 lag {row['p95_lag_s']:.1f} s"
        )
    m = results["micro"]
    print("\n5. per call")
    print(
        f"   request validation {m['validation_us']:.2f} us vs json.dumps "
        f"{m['json_dumps_request_us']:.2f} us   {m['validation_ratio']:.2f}x"
    )
    print(
        f"   webhook unwrap     {m['unwrap_us']:.2f} us vs json.dumps "
        f"{m['json_dumps_callback_us']:.2f} us   {m['unwrap_ratio']:.2f}x"
    )
    b = results["batch"]
    print(f"\n7. batch against FakeKie at {b['limit']} requests per {b['window_s']:g} s window")
    for name in ("big", "small"):
        r = b[name]
        print(
            f"   {r['items']:>4} items: {r['creates']} creates, {r['files']} files, "
            f"{r['http_429']} HTTP 429, {r['elapsed_s']:.1f} s, {r['ratio_to_ideal']:.2f}x ideal, "
            f"peak RSS {r['peak_rss_mib']:.1f} MiB"
        )
    print(f"   peak RSS ratio {b['peak_rss_ratio']:.3f}")
    print("\ngoals: " + "; ".join(f"{k}: {v}" for k, v in results["goals"].items()))


if __name__ == "__main__":
    raise SystemExit(main())
