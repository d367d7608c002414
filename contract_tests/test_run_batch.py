"""Batches against FakeKie on a real port: every item created once, its files downloaded, the
report matching what FakeKie holds; a rerun creates nothing; bad manifests send nothing;
several processes share one batch; a credit budget stops new creates.

The SIGKILL proofs are in test_run_batch_crash.py."""

from __future__ import annotations

import asyncio
import collections
import csv
import json
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _batch_workers import FAST_POLLS, open_journal, run, write_manifest
from _loop_probe import with_heartbeat
from kie_instrumental import AsyncKieClient, KieClient, receivers
from kie_instrumental._spec import (
    ADD_INSTRUMENTAL_PATH,
    MARKET_CREATE_PATH,
    MARKET_RECORD_PATH,
    RECORD_INFO_PATH,
)
from kie_instrumental.batch import (
    NO_CALLBACK_URL,
    Manifest,
    ManifestError,
    MemoryClaims,
    run_batch,
    run_batch_async,
)
from kie_instrumental.journal import Journal, SQLiteJournal, record_callback, with_job_key
from kie_instrumental.notify import LocalNotifier, Notifier
from kie_instrumental.testing import FakeKie
from kie_instrumental.testing._audio import synth_wav
from kie_instrumental.testing._server import serve_in_thread

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def fake() -> Iterator[tuple[FakeKie, str]]:
    kie = FakeKie(rate_limit=None, stage_seconds=0.05, callbacks="off", audio_seconds=0.2)
    with serve_in_thread(kie.app) as base_url:
        yield kie, base_url


def client_for(kie: FakeKie, base_url: str, route: str | None = None) -> KieClient:
    return KieClient(
        api_key=kie.api_key,
        base_url=base_url,
        upload_base_url=base_url,
        rate_limit=None,
        poll_schedule=FAST_POLLS,
        route=route,
    )


def creates(kie: FakeKie) -> collections.Counter[str]:
    """Tasks FakeKie created, per title (a title twice: an item paid twice)."""
    return collections.Counter(task.request["title"] for task in kie.tasks.values())


def check_report_matches(kie: FakeKie, rows: list[dict[str, object]], out: Path) -> None:
    assert len(rows) == len({row["job_key"] for row in rows})
    by_task = {row["task_id"]: row for row in rows}
    assert set(by_task) == set(kie.tasks)
    for task_id, row in by_task.items():
        assert row["status"] == "done"
        files = [Path(str(f)) for f in row["files"]]  # type: ignore[attr-defined]
        assert len(files) == 2 and all(f.is_file() and f.stat().st_size > 0 for f in files)
        assert all(f.parent == out / str(row["job_key"]) for f in files)
        assert kie.tasks[task_id].request["title"] in {f"Song {i:03d}" for i in range(1000)}


def test_fifty_items_fifty_creates_a_hundred_files_and_a_matching_report(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 50)
    out = tmp_path / "out"
    with client_for(kie, base_url) as client:
        report = run_batch(client, manifest, out, concurrency=8)
    assert report.counts == {"done": 50} and report.ok
    assert len(kie.tasks) == 50 and set(creates(kie).values()) == {1}
    assert len(list(out.glob("*/*.wav"))) == 100
    rows = json.loads(report.json_path.read_text())
    check_report_matches(kie, rows, out)
    with report.csv_path.open(newline="") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert [r["task_id"] for r in csv_rows] == [r["task_id"] for r in rows]
    # Every request was a known item's: titles and URLs as the manifest wrote them.
    assert {t.request["uploadUrl"] for t in kie.tasks.values()} == {
        f"https://files.example/vocals/{i:03d}.mp3" for i in range(50)
    }

    # Run again with the same arguments: all found finished in the journal, nothing sent.
    before = len(kie.requests)
    with client_for(kie, base_url) as client:
        again = run_batch(client, manifest, out, concurrency=8)
    assert again.counts == {"done": 50} and len(kie.requests) == before


def test_async_batch_behaves_the_same(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 10)
    out = tmp_path / "out"

    async def go() -> object:
        async with AsyncKieClient(
            api_key=kie.api_key, base_url=base_url, rate_limit=None, poll_schedule=FAST_POLLS
        ) as client:
            return await run_batch_async(client, manifest, out, concurrency=4)

    report = asyncio.run(go())
    assert report.counts == {"done": 10}  # type: ignore[attr-defined]
    assert len(kie.tasks) == 10 and set(creates(kie).values()) == {1}
    check_report_matches(kie, json.loads(report.json_path.read_text()), out)  # type: ignore[attr-defined]


class SlowJournal(SQLiteJournal):
    """A journal on a slow disk or network: every read blocks its caller."""

    def get(self, key: str) -> Any:
        time.sleep(0.4)
        return super().get(key)


class SlowClaims(MemoryClaims):
    def claim(self, key: str) -> bool:
        time.sleep(0.4)
        return super().claim(key)


def test_an_async_batch_never_blocks_its_loop_on_the_journal_or_the_claims(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    out = tmp_path / "out"

    async def go() -> Any:
        async with AsyncKieClient(
            api_key=kie.api_key, base_url=base_url, rate_limit=None, poll_schedule=FAST_POLLS
        ) as client:
            journal, claims = SlowJournal(tmp_path / "jobs.sqlite3"), SlowClaims()
            return await run_batch_async(
                client, manifest, out, journal=journal, claims=claims, concurrency=2
            )

    report, gap = asyncio.run(with_heartbeat(go))
    assert report.counts == {"done": 2} and len(kie.tasks) == 2
    assert gap < 0.3, f"the loop stalled {gap:.2f} s on the journal or the claims"


def test_a_folder_of_local_files_is_uploaded_then_created(fake, tmp_path):
    kie, base_url = fake
    folder = tmp_path / "vocals"
    folder.mkdir()
    for i in range(3):
        (folder / f"take-{i}.wav").write_bytes(synth_wav(0.2, seed=i))
    (folder / "notes.txt").write_text("not audio")
    with client_for(kie, base_url) as client:
        report = run_batch(
            client, folder, tmp_path / "out", defaults={"tags": "piano", "negative_tags": ""}
        )
    assert report.counts == {"done": 3}
    assert len(kie.uploads) == 3 and sorted(creates(kie)) == ["take-0", "take-1", "take-2"]


def test_a_failed_task_is_reported_and_not_redone(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 3)
    kie.fail_next_task()
    with client_for(kie, base_url) as client:
        report = run_batch(client, manifest, tmp_path / "out", concurrency=1)
        assert report.counts == {"done": 2, "failed": 1}
        again = run_batch(client, manifest, tmp_path / "out", concurrency=1)
    assert again.counts == {"done": 2, "failed": 1} and len(kie.tasks) == 3


def bad_row(tmp_path: Path, kind: str) -> tuple[Path, int, str]:
    """A manifest whose row 3 has one kind of fault: (manifest, bad row, column named)."""
    rows = [
        {"file": "", "url": f"https://files.example/{i}.mp3", "title": f"T{i}", "tags": "piano"}
        for i in range(4)
    ]
    column = {"title": "title", "weight": "style_weight", "file": "file", "duplicate": "url"}[kind]
    for row in rows:
        row["style_weight"] = "0.5"
    if kind == "title":
        rows[2]["title"] = ""
    elif kind == "weight":
        rows[2]["style_weight"] = "1.5"
    elif kind == "file":
        rows[2]["url"], rows[2]["file"] = "", "missing.wav"
    else:
        rows[2] = dict(rows[0])
    path = tmp_path / "batch.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "negative_tags"])
        writer.writeheader()
        writer.writerows(rows)
    return path, 3, column


@pytest.mark.parametrize("kind", ["title", "weight", "file", "duplicate"])
def test_a_bad_row_is_named_by_row_and_column_and_nothing_is_sent(fake, tmp_path, kind):
    kie, base_url = fake
    manifest, row, column = bad_row(tmp_path, kind)
    with client_for(kie, base_url) as client, pytest.raises(ManifestError) as caught:
        run_batch(client, manifest, tmp_path / "out", max_credits=100)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (row, column)
    assert f"row {row}, column {column}" in str(caught.value)
    assert kie.requests == []  # not even the credit check


def test_jsonl_rows_use_wire_or_python_names_and_bad_json_is_named(fake, tmp_path):
    kie, base_url = fake
    manifest = tmp_path / "batch.jsonl"
    lines = [
        {"url": "https://files.example/a.mp3", "title": "A", "tags": "x", "negativeTags": ""},
        {
            "url": "https://files.example/b.mp3",
            "title": "B",
            "tags": "x",
            "negative_tags": "",
            "audioWeight": 2,
        },
    ]
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n{oops\n")
    with client_for(kie, base_url) as client, pytest.raises(ManifestError) as caught:
        run_batch(client, manifest, tmp_path / "out")
    where = {(p.row, p.column) for p in caught.value.problems}
    assert where == {(2, "audioWeight"), (3, "-")} and kie.requests == []


def test_max_credits_stops_new_creates_once_spent(tmp_path):
    kie = FakeKie(rate_limit=None, stage_seconds=0.05, callbacks="off", task_cost=12.0)
    manifest = write_manifest(tmp_path / "batch.csv", 6)
    with serve_in_thread(kie.app) as base_url, client_for(kie, base_url) as client:
        report = run_batch(client, manifest, tmp_path / "out", concurrency=1, max_credits=30)
    # Spent 0, 12, 24 (< 30): three creates; then 36 spent, the others are not created.
    assert report.counts == {"done": 3, "skipped": 3} and len(kie.tasks) == 3


def test_two_processes_on_one_redis_create_each_item_once(
    fake, tmp_path, redis_server, redis_prefix
):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 50)
    spec = ("redis", redis_server.url, redis_prefix)
    workers = [
        SPAWN.Process(
            target=run,
            args=(spec, base_url, kie.api_key, str(manifest), str(tmp_path / "out"), None, f"r{i}"),
        )
        for i in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert len(kie.tasks) == 50 and set(creates(kie).values()) == {1}
    assert len(list((tmp_path / "out").glob("*/*.wav"))) == 100
    for name in ("r0", "r1"):  # each process's report shows every item, done by one of them
        rows = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        check_report_matches(kie, rows, tmp_path / "out")
    journal = open_journal(spec)
    assert journal.unfinished() == []


def test_a_job_cut_off_after_its_download_gets_its_files_once(fake, tmp_path):
    """Killed after the files were written but before the journal recorded them: the rerun
    downloads again into a fresh folder, never beside the first copies."""
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    out = tmp_path / "out"
    with client_for(kie, base_url) as client:
        first = run_batch(client, manifest, out)
        journal = SQLiteJournal(out / ".kie-batch.sqlite3")
        key = first.rows()[0].job_key
        assert journal.transition(key, ("done",), "created")  # as if killed before "done"
        again = run_batch(client, manifest, out)
    assert again.counts == {"done": 2} and len(kie.tasks) == 2
    assert len(list((out / key).iterdir())) == 2


# -- the command line ------------------------------------------------------------------------


def cli(base_url: str, *args: str) -> int:
    from kie_instrumental._cli import main

    return main(["--base-url", base_url, "--upload-base-url", base_url, "batch", *args])


def test_cli_batch_json_events_then_a_summary(fake, tmp_path, monkeypatch, capsys):
    kie, base_url = fake
    monkeypatch.setenv("KIE_API_KEY", kie.api_key)
    manifest = write_manifest(tmp_path / "batch.csv", 5)
    out = tmp_path / "out"
    assert cli(base_url, str(manifest), "--out", str(out), "--poll", "--json") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["end", "summary"]
    finished = [e for e in events if e["event"] == "finished"]
    assert len(finished) == 5 and {e["item"]["status"] for e in finished} == {"done"}
    assert events[-1]["counts"] == {"done": 5} and len(kie.tasks) == 5
    # KIE requires a callback URL; --poll sends one that resolves nowhere.
    assert {t.request["callBackUrl"].split("?")[0] for t in kie.tasks.values()} == {NO_CALLBACK_URL}


def test_cli_batch_plain_lines_and_exit_code_when_an_item_failed(
    fake, tmp_path, monkeypatch, capsys
):
    kie, base_url = fake
    monkeypatch.setenv("KIE_API_KEY", kie.api_key)
    manifest = write_manifest(tmp_path / "batch.csv", 3)
    kie.fail_next_task()
    code = cli(
        base_url, str(manifest), "--out", str(tmp_path / "out"), "--poll", "--concurrency", "1"
    )
    captured = capsys.readouterr()
    assert code == 12
    lines = captured.err.splitlines()
    assert len(lines) == 3 and lines[0].startswith("[1/3] failed") and "[3/3] done" in lines[2]
    assert "3 items: 2 done, 1 failed" in captured.out


def test_cli_batch_bad_manifest_is_one_line_and_exit_code_4(fake, tmp_path, monkeypatch, capsys):
    kie, base_url = fake
    monkeypatch.setenv("KIE_API_KEY", kie.api_key)
    manifest, row, column = bad_row(tmp_path, "weight")
    assert cli(base_url, str(manifest), "--out", str(tmp_path / "out"), "--poll") == 4
    assert f"row {row}, column {column}" in capsys.readouterr().err
    assert kie.requests == []


def test_the_rich_display_shows_counts_rate_and_eta():
    import io

    from kie_instrumental._batch_cli import RichDisplay
    from kie_instrumental.batch import BatchEvent, ItemResult

    stream = io.StringIO()
    display = RichDisplay(stream)
    with display:
        display.event(BatchEvent("start", 4, 0, 0, 0))
        for i in range(4):
            result = ItemResult(f"item{i}", i, f"k{i}", "done" if i else "failed", error="boom")
            display.event(BatchEvent("finished", 4, i, 4 - i - 1, 1, result))
    text = stream.getvalue()
    assert "4/4" in text and "3 done" in text and "1 failed" in text and "/min" in text
    assert "ETA" in text and "failed: item0: boom" in text


def test_a_create_refused_for_now_is_sent_again_in_the_same_run(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    kie.fail_next(3, code=429, http_status=429)  # more than the client's own retries
    with client_for(kie, base_url) as client:
        report = run_batch(client, manifest, tmp_path / "out", concurrency=1)
    assert report.counts == {"done": 2} and len(kie.tasks) == 2


def test_a_rejected_item_is_sent_again_by_the_next_run(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    kie.fail_next(1, code=400, http_status=200)  # KIE refused it: nothing paid
    with client_for(kie, base_url) as client:
        first = run_batch(client, manifest, tmp_path / "out", concurrency=1)
        assert first.counts == {"done": 1, "rejected": 1} and len(kie.tasks) == 1
        again = run_batch(client, manifest, tmp_path / "out", concurrency=1)
    assert again.counts == {"done": 2} and len(kie.tasks) == 2


# -- routes ------------------------------------------------------------------------------------

PATHS = {
    "market": (MARKET_CREATE_PATH, MARKET_RECORD_PATH),
    "legacy": (ADD_INSTRUMENTAL_PATH, RECORD_INFO_PATH),
}
OTHER = {"market": "legacy", "legacy": "market"}


def calls(kie: FakeKie) -> collections.Counter[str]:
    """Requests FakeKie received, per path."""
    return collections.Counter(path for _, path in kie.requests)


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_a_batch_creates_and_polls_on_the_route_asked_and_records_it(fake, tmp_path, route):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 3)
    out = tmp_path / "out"
    with client_for(kie, base_url, route=OTHER[route]) as client:  # the batch's route wins
        report = run_batch(client, manifest, out, route=route)
    assert report.counts == {"done": 3}
    seen = calls(kie)
    create, poll = PATHS[route]
    assert seen[create] == 3 and seen[poll] >= 3
    assert not any(seen[path] for path in PATHS[OTHER[route]])
    assert {task.route for task in kie.tasks.values()} == {route}
    assert {row.route for row in report.rows()} == {route}
    with report.csv_path.open(newline="") as handle:
        assert {row["route"] for row in csv.DictReader(handle)} == {route}
    journal = SQLiteJournal(out / ".kie-batch.sqlite3")
    assert {job.request["route"] for job in journal.all()} == {route}


def test_a_resumed_item_is_read_on_the_route_it_was_created_on(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    out = tmp_path / "out"
    with client_for(kie, base_url, route="market") as client:
        first = run_batch(client, manifest, out, route="legacy")
        key = first.rows()[0].job_key
        journal = SQLiteJournal(out / ".kie-batch.sqlite3")
        assert journal.transition(key, ("done",), "created")  # as if killed while waiting
        before = calls(kie)
        again = run_batch(client, manifest, out, route="market")
    assert again.counts == {"done": 2} and len(kie.tasks) == 2
    seen = calls(kie) - before
    assert seen[RECORD_INFO_PATH] >= 1 and not seen[MARKET_RECORD_PATH]
    assert not seen[ADD_INSTRUMENTAL_PATH] and not seen[MARKET_CREATE_PATH]
    assert {row.route for row in again.rows()} == {"legacy"}


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_cli_batch_route(fake, tmp_path, monkeypatch, capsys, route):
    kie, base_url = fake
    monkeypatch.setenv("KIE_API_KEY", kie.api_key)
    monkeypatch.setenv("KIE_ROUTE", OTHER[route])
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    out = tmp_path / "out"
    assert (
        cli(base_url, str(manifest), "--out", str(out), "--poll", "--json", "--route", route) == 0
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    finished = [e["item"] for e in events if e["event"] == "finished"]
    assert {item["route"] for item in finished} == {route}
    assert {task.route for task in kie.tasks.values()} == {route} and len(kie.tasks) == 2
    assert calls(kie)[PATHS[route][0]] == 2


# -- the listening wait ----------------------------------------------------------------------


def polls_per_task(kie: FakeKie) -> float:
    seen = calls(kie)
    return (seen[RECORD_INFO_PATH] + seen[MARKET_RECORD_PATH]) / len(kie.tasks)


@pytest.fixture
def slow_fake() -> Iterator[tuple[FakeKie, str]]:
    """Tasks of about 2.4 s with their callbacks: a poll every 0.2 s asks about 10 times."""
    kie = FakeKie(rate_limit=None, stage_seconds=0.8, callbacks="loopback", audio_seconds=0.2)
    with serve_in_thread(kie.app) as base_url:
        yield kie, base_url


def publishing_receiver(kie: FakeKie, notifier: Notifier, journal: Journal | None = None) -> Any:
    """A receiver that publishes each verified callback (and records it in `journal`)."""

    def handle(event: Any) -> None:
        if journal is not None:
            record_callback(journal, event)
        notifier.publish(event.task_id, event.stage)

    return serve_in_thread(receivers.starlette_app(kie.webhook_secret, handle))


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("listening", [True, False])
def test_with_a_notifier_items_wake_on_callbacks_and_polls_drop(
    slow_fake, tmp_path, flavour, listening
):
    kie, base_url = slow_fake
    manifest = write_manifest(tmp_path / "batch.csv", 4)
    notifier = LocalNotifier()  # safety net: one poll a minute
    with publishing_receiver(kie, notifier) as receiver:
        options: dict[str, Any] = {
            "concurrency": 4,
            "callback_url": f"{receiver}{receivers.CALLBACK_PATH}",
            "notifier": notifier if listening else None,
        }
        if flavour == "sync":
            with client_for(kie, base_url) as client:
                report = run_batch(client, manifest, tmp_path / "out", **options)
        else:

            async def go() -> Any:
                async with AsyncKieClient(
                    api_key=kie.api_key,
                    base_url=base_url,
                    rate_limit=None,
                    poll_schedule=FAST_POLLS,
                ) as client:
                    return await run_batch_async(client, manifest, tmp_path / "out", **options)

            report = asyncio.run(go())
    assert report.counts == {"done": 4} and len(kie.tasks) == 4
    assert len(list((tmp_path / "out").glob("*/*.wav"))) == 8
    if listening:  # one poll at once, one that confirms the callback (a third at worst)
        assert polls_per_task(kie) <= 3
    else:  # polling only, every 0.2 s, for about 2.4 s (fewer on a loaded machine)
        assert polls_per_task(kie) >= 4


def test_cli_batch_with_redis_and_a_callback_url_listens(
    slow_fake, tmp_path, monkeypatch, capsys, redis_server, redis_prefix
):
    from kie_instrumental.redis_backend import RedisJournal, RedisNotifier

    kie, base_url = slow_fake
    monkeypatch.setenv("KIE_API_KEY", kie.api_key)
    # The CLI's client polls every 0.2 s here: only listening keeps it to two polls a task.
    monkeypatch.setattr("kie_instrumental._client.PollSchedule", lambda: FAST_POLLS)
    manifest = write_manifest(tmp_path / "batch.csv", 3)
    notifier = RedisNotifier(redis_server.url, prefix=redis_prefix)
    journal = RedisJournal(redis_server.url, prefix=redis_prefix)
    with publishing_receiver(kie, notifier, journal) as receiver:
        code = cli(
            base_url,
            str(manifest),
            "--out",
            str(tmp_path / "out"),
            "--json",
            "--redis",
            redis_server.url,
            "--redis-prefix",
            redis_prefix,
            "--callback-url",
            f"{receiver}{receivers.CALLBACK_PATH}",
        )
    assert code == 0 and len(kie.tasks) == 3
    assert polls_per_task(kie) <= 3


# -- unresolved creates ----------------------------------------------------------------------


def killed_before_its_post(out: Path, manifest: Path, route: str = "legacy") -> str:
    """The journal as a run killed between the first item's mark and its POST left it: the
    job `submitting`, no task id, and KIE never heard of it. Returns its job key."""
    item = next(Manifest(manifest).items())
    request = {
        **item.fields,
        "upload_url": item.url,
        "callback_url": with_job_key(NO_CALLBACK_URL, item.key),
        "route": route,
    }
    out.mkdir(parents=True, exist_ok=True)
    journal = SQLiteJournal(out / ".kie-batch.sqlite3")
    journal.begin(item.key, request)
    assert journal.transition(item.key, ("pending",), "submitting")
    return item.key


def test_an_unresolved_item_is_listed_and_never_sent_again_without_the_opt_in(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    out = tmp_path / "out"
    key = killed_before_its_post(out, manifest)
    with client_for(kie, base_url) as client:
        for _ in range(2):
            report = run_batch(client, manifest, out)
            assert report.counts == {"done": 1, "unknown": 1} and len(kie.tasks) == 1
            assert [(r.job_key, r.status, r.task_id) for r in report.unknown] == [
                (key, "unknown", None)
            ]
        # Opted in, but its grace period ends after this run's deadline: listed, not sent.
        report = run_batch(client, manifest, out, resubmit_unknown_after=3600)
        assert report.counts == {"done": 1, "unknown": 1} and len(kie.tasks) == 1
        assert SQLiteJournal(out / ".kie-batch.sqlite3").get(key).state == "unknown"  # type: ignore[union-attr]


def test_with_the_opt_in_an_unresolved_item_is_sent_again_once_its_grace_passed(fake, tmp_path):
    kie, base_url = fake
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    out = tmp_path / "out"
    killed_before_its_post(out, manifest)
    with client_for(kie, base_url) as client:
        # The grace period ends within the run: it waits for it, then sends the item once.
        report = run_batch(
            client, manifest, out, resubmit_unknown_after=1.0, other_process_wait=0.2
        )
    assert report.counts == {"done": 2} and not report.unknown
    assert len(kie.tasks) == 2 and set(creates(kie).values()) == {1}
    assert len(list(out.glob("*/*.wav"))) == 4


def test_cli_resubmit_unknown_after(fake, tmp_path, monkeypatch, capsys):
    kie, base_url = fake
    monkeypatch.setenv("KIE_API_KEY", kie.api_key)
    manifest = write_manifest(tmp_path / "batch.csv", 2)
    out = tmp_path / "out"
    killed_before_its_post(out, manifest)
    assert cli(base_url, str(manifest), "--out", str(out), "--poll") == 12  # listed, not sent
    assert "UNKNOWN" in capsys.readouterr().out and len(kie.tasks) == 1
    args = ("--out", str(out), "--poll", "--resubmit-unknown-after", "0")
    assert cli(base_url, str(manifest), *args) == 0
    assert len(kie.tasks) == 2 and set(creates(kie).values()) == {1}
    with pytest.raises(SystemExit) as usage:
        cli(base_url, str(manifest), "--out", str(out), "--poll", "--resubmit-unknown-after", "-1")
    assert usage.value.code == 2 and "--resubmit-unknown-after" in capsys.readouterr().err
