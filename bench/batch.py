"""7. Batch throughput and memory: a 200-item batch (`run_batch`, URL items) against FakeKie on
a real loopback port, client and server both limited to 20 requests per window.

KIE's window is 10 s; here it is 1 s (20 requests per second), both in FakeKie and in the
client, so the 200 items (a create and a poll each: 400 counted requests) take about 20 s
instead of 200 s. Only the window's length is scaled: the limiter, the batch and the server's
counting are the real ones. The ideal rate is the limit's (20 per window); the batch's rate is
its counted requests over its wall time. The ratio reported (goal >= 0.9) is the stricter one:
the shortest span those requests could take at the limit (the first window's burst, then 20
per window) over the batch's real span. HTTP 429s are counted at the server.

Peak memory: the batch runs in a child process (FakeKie stays in this one, so its own growing
task table is not counted); its peak RSS with 50 items and with 200 items is compared.

    .venv/bin/python -m bench.batch [--items 200] [--small 50] [--window 1.0]
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LIMIT = 20


def write_manifest(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url", "title", "tags", "negative_tags"])
        for i in range(count):
            writer.writerow([f"https://files.example/{i:05d}.mp3", f"Song {i}", "piano", ""])


def _child(base_url: str, api_key: str, manifest: str, out: str, window: float, queue: Any) -> None:
    from kie_instrumental import KieClient
    from kie_instrumental.batch import run_batch

    with KieClient(
        api_key=api_key, base_url=base_url, upload_base_url=base_url, rate_limit=(LIMIT, window)
    ) as client:
        started = time.monotonic()
        report = run_batch(client, manifest, out, concurrency=16)
        elapsed = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"counts": dict(report.counts), "elapsed": elapsed, "peak_rss_mib": peak_kib / 1024})


class Count429:
    """ASGI wrapper counting the answers with HTTP status 429."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                self.count += 1
            await send(message)

        await self.app(scope, receive, counting_send)


def one(items: int, window: float) -> dict[str, Any]:
    from kie_instrumental.testing import FakeKie
    from kie_instrumental.testing._server import serve_app

    fake = FakeKie(
        rate_limit=(LIMIT, window), stage_seconds=0.0, callbacks="off", audio_seconds=0.2,
        credits=None,
    )  # fmt: skip
    app = Count429(fake.app)
    with tempfile.TemporaryDirectory() as tmp, serve_app(app) as base_url:
        manifest = Path(tmp) / "batch.csv"
        write_manifest(manifest, items)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        args = (base_url, fake.api_key, str(manifest), str(Path(tmp) / "out"), window, queue)
        child = context.Process(target=_child, args=args)
        child.start()
        result: dict[str, Any] = queue.get(timeout=600)
        child.join(timeout=60)
        files = len(list((Path(tmp) / "out").glob("*/*.wav")))
    counted = sum(1 for method, path in fake.requests if "/api/" in path)
    rate = counted / result["elapsed"]
    ideal = LIMIT / window
    # The shortest span `counted` requests can take at `LIMIT` per window: the first LIMIT at
    # once, then LIMIT more per window. Its ratio to the real span is the strict measure.
    ideal_span = (counted / LIMIT - 1) * window
    return {
        "items": items,
        "creates": len(fake.tasks),
        "files": files,
        "counted_requests": counted,
        "http_429": app.count,
        "elapsed_s": round(result["elapsed"], 2),
        "rate_per_s": round(rate, 2),
        "ideal_per_s": ideal,
        "ratio_to_ideal": round(ideal_span / result["elapsed"], 3),
        "ideal_span_s": round(ideal_span, 2),
        "peak_rss_mib": round(result["peak_rss_mib"], 1),
        "done": result["counts"].get("done", 0),
    }


def run(items: int = 200, small: int = 50, window: float = 1.0) -> dict[str, Any]:
    big = one(items, window)
    little = one(small, window)
    return {
        "window_s": window,
        "limit": LIMIT,
        "big": big,
        "small": little,
        "peak_rss_ratio": round(big["peak_rss_mib"] / little["peak_rss_mib"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--window", type=float, default=1.0)
    args = parser.parse_args()
    result = run(args.items, args.small, args.window)
    print(json.dumps(result, indent=2))
    big = result["big"]
    ok = (
        big["ratio_to_ideal"] >= 0.9
        and big["http_429"] == 0
        and big["creates"] == args.items
        and big["files"] == 2 * args.items
        and result["peak_rss_ratio"] <= 1.1
    )
    print(
        "goal (>= 0.9 of the ideal rate, 0 HTTP 429, peak RSS within 10 %):",
        "met" if ok else "NOT met",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
