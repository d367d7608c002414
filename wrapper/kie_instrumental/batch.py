"""Batches: a folder of vocals or a CSV / JSONL manifest in, instrumentals and a report out;
resumable after any interruption, never paying twice, shareable between processes.

    from kie_instrumental import KieClient
    from kie_instrumental.batch import run_batch

    with KieClient() as client:
        report = run_batch(client, "vocals/", "out/", callback_url="https://me.example/kie",
                           defaults={"tags": "piano", "negative_tags": "drums"})
    print(report.counts, report.csv_path)

`run_batch_async` takes an AsyncKieClient. The command line: `kie-instrumental batch`.
"""

from __future__ import annotations

from ._batch import (
    NO_CALLBACK_URL,
    BatchEvent,
    BatchReport,
    ItemResult,
    run_batch,
    run_batch_async,
)
from ._claims import Claims, MemoryClaims, SQLiteClaims
from ._manifest import Item, Manifest, ManifestError, Problem

__all__ = [
    "NO_CALLBACK_URL",
    "BatchEvent",
    "BatchReport",
    "Claims",
    "Item",
    "ItemResult",
    "Manifest",
    "ManifestError",
    "MemoryClaims",
    "Problem",
    "SQLiteClaims",
    "run_batch",
    "run_batch_async",
]
