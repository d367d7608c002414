"""What `webhooks.receive` and `areceive` answer KIE for every path, exactly (status, detail,
whether the handler's work counted), how many times the handler runs and KIE is asked, and
the warning an operator sees for each refused or deferred callback. Sync and async alike."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from _callbacks import SECRET, callback, signed
from kie_instrumental import CallbackEvent, ServerError, TaskDetails
from kie_instrumental import events as ev
from kie_instrumental import webhooks as wh

TRACKS = wh.parse_callback(callback("complete")).tracks


class Kie:
    """KIE's answer to get_task (a TaskDetails, or an error), counting the questions."""

    def __init__(self, answer: TaskDetails | Exception) -> None:
        self.answer = answer
        self.asked = 0

    def _get(self) -> TaskDetails:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def get_task(self, task_id: str, route: str | None = None) -> TaskDetails:
        assert task_id == "task-1" and route == "legacy"
        return self._get()


class AsyncKie(Kie):
    async def get_task(  # type: ignore[override]
        self, task_id: str, route: str | None = None
    ) -> TaskDetails:
        assert task_id == "task-1" and route == "legacy"
        return self._get()


class Handler:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.events: list[CallbackEvent] = []
        self.fail = fail

    def __call__(self, event: CallbackEvent) -> None:
        self.events.append(event)
        if self.fail is not None:
            raise self.fail


@pytest.fixture(params=["sync", "async"])
def deliver(request: pytest.FixtureRequest) -> Any:
    def call(body: bytes, headers: dict[str, str], handler: Any, **options: Any) -> wh.Receipt:
        options.setdefault("dedup", wh.Deduplicator())
        kie = options.get("confirm_with")
        if request.param == "sync":
            return wh.receive(body, headers, SECRET, handler, **options)
        if kie is not None:
            async_kie = AsyncKie(kie.answer)
            options["confirm_with"] = async_kie
            try:
                return asyncio.run(wh.areceive(body, headers, SECRET, handler, **options))
            finally:
                kie.asked += async_kie.asked
        return asyncio.run(wh.areceive(body, headers, SECRET, handler, **options))

    return call


def receipt(r: wh.Receipt) -> tuple[int, str, bool]:
    return r.status, r.detail, r.processed


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "kie_instrumental.webhooks" and r.levelno == logging.WARNING
    ]


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kie_instrumental.webhooks")


def test_processed_then_duplicate(deliver: Any, caplog: pytest.LogCaptureFixture) -> None:
    handler, dedup = Handler(), wh.Deduplicator()
    body, headers = signed(callback("complete"), at=None)
    first = deliver(body, headers, handler, dedup=dedup, query="job=7")
    assert receipt(first) == (200, "ok", True)
    assert first.event is not None and first.event.confirmed is False
    assert first.event.tracks == () and first.event.query == "job=7"
    assert receipt(deliver(body, headers, handler, dedup=dedup)) == (200, "duplicate", False)
    assert len(handler.events) == 1
    first_body, first_headers = signed(callback("first"))
    assert receipt(deliver(first_body, first_headers, handler, dedup=dedup)) == (200, "ok", True)
    assert [e.query for e in handler.events] == ["job=7", ""]  # no query: an empty one
    handler.events.pop()
    assert handler.events[0].task_id == "task-1" and handler.events[0].stage == "complete"
    assert warnings(caplog) == []


def test_a_refused_signature_is_a_logged_401(
    deliver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Handler()
    body, headers = signed(callback("complete"), secret="another secret")
    seen: list[object] = []
    answer = deliver(body, headers, handler, hooks=[seen.append])
    assert receipt(answer) == (401, "signature does not match", False)
    assert seen == [
        ev.CallbackReceived(task_id="task-1", stage="complete"),
        ev.CallbackRefused(task_id="task-1", stage="complete", reason="signature does not match"),
    ]
    assert handler.events == []
    assert warnings(caplog) == ["callback rejected: signature does not match"]


def test_an_unknown_stage_is_a_logged_200_without_the_handler(
    deliver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Handler()
    body, headers = signed(callback("remix"))
    assert receipt(deliver(body, headers, handler)) == (200, "ignored: unknown stage", False)
    assert handler.events == []
    assert warnings(caplog) == ["callback ignored: unknown stage 'remix'"]
    long_body, long_headers = signed(callback("r" * 50))
    seen: list[object] = []
    assert receipt(deliver(long_body, long_headers, handler, hooks=[seen.append])) == (
        200,
        "ignored: unknown stage",
        False,
    )
    assert warnings(caplog)[-1] == f"callback ignored: unknown stage {'r' * 40!r}"
    assert seen == [
        ev.CallbackReceived(task_id="task-1", stage="r" * 40),
        ev.CallbackRefused(task_id="task-1", stage="r" * 40, reason="unknown stage"),
    ]


def test_a_failing_handler_is_a_logged_500_and_runs_again_on_redelivery(
    deliver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dedup = wh.Deduplicator()
    body, headers = signed(callback("complete"), at=1_750_000_000)
    failing = Handler(RuntimeError("database down"))
    answer = deliver(body, headers, failing, dedup=dedup, tolerance=10**10)
    assert receipt(answer) == (500, "handler failed", False)
    assert answer.event is not None and answer.event.task_id == "task-1"
    assert warnings(caplog) == [
        "callback handler failed for task-1:complete@1750000000: RuntimeError('database down')"
    ]
    working = Handler()
    again = deliver(body, headers, working, dedup=dedup, tolerance=10**10)
    assert receipt(again) == (200, "ok", True)
    assert (len(failing.events), len(working.events)) == (1, 1)


def test_a_full_store_is_a_logged_503(deliver: Any, caplog: pytest.LogCaptureFixture) -> None:
    store = wh.InMemoryDedupStore(max_keys=1)
    store.claim("someone else's key")
    handler = Handler()
    body, headers = signed(callback("complete"), at=1_750_000_000)
    answer = deliver(body, headers, handler, dedup=wh.Deduplicator(store), tolerance=10**10)
    assert receipt(answer) == (503, "de-duplication store full", False)
    assert answer.event is not None and answer.event.task_id == "task-1"
    assert handler.events == []
    assert warnings(caplog) == [
        "callback for task-1:complete@1750000000 deferred: 1 keys held for less than 86400.0 s"
    ]


def test_a_redelivery_while_the_handler_runs_is_a_503(deliver: Any) -> None:
    store = wh.InMemoryDedupStore()
    body, headers = signed(callback("complete"), at=1_750_000_000)
    store.claim("task-1:complete@1750000000")  # another worker is handling it now
    handler = Handler()
    answer = deliver(body, headers, handler, dedup=wh.Deduplicator(store), tolerance=10**10)
    assert receipt(answer) == (503, "in progress", False)
    assert answer.event is not None and answer.event.task_id == "task-1"
    assert handler.events == []


def details(status: str) -> TaskDetails:
    tracks = TRACKS if status in ("SUCCESS", "FIRST_SUCCESS") else ()
    return TaskDetails(task_id="task-1", status=status, tracks=tracks)  # type: ignore[arg-type]


def test_confirmed_events_are_keyed_per_stage_and_carry_kies_tracks(deliver: Any) -> None:
    kie, handler, dedup = Kie(details("SUCCESS")), Handler(), wh.Deduplicator()
    body, headers = signed(callback("complete"))
    first = deliver(body, headers, handler, dedup=dedup, confirm_with=kie)
    assert receipt(first) == (200, "ok", True)
    assert handler.events[0].confirmed and handler.events[0].tracks == TRACKS
    assert first.event == handler.events[0]
    again = deliver(body, headers, handler, dedup=dedup, confirm_with=kie)
    assert receipt(again) == (200, "duplicate", False)
    assert (len(handler.events), kie.asked) == (1, 1)


def test_a_stage_kie_refused_is_a_401_and_its_replays_never_ask_again(
    deliver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kie, handler, dedup = Kie(details("PENDING")), Handler(), wh.Deduplicator()
    seen: list[object] = []
    body, headers = signed(callback("complete"))
    first = deliver(body, headers, handler, dedup=dedup, confirm_with=kie, hooks=[seen.append])
    reason = (
        "KIE reports status PENDING for this task, which a 'complete' callback does not "
        "match: a replayed signature with a forged body?"
    )
    assert receipt(first) == (401, reason, False)
    replayed = deliver(body, headers, handler, dedup=dedup, confirm_with=kie, hooks=[seen.append])
    before = "KIE refused this stage for this signed delivery before"
    assert receipt(replayed) == (401, before, False)
    assert seen == [
        ev.CallbackReceived(task_id="task-1", stage="complete"),
        ev.CallbackVerified(task_id="task-1", stage="complete"),
        ev.CallbackRefused(task_id="task-1", stage="complete", reason=reason),
        ev.CallbackReceived(task_id="task-1", stage="complete"),
        ev.CallbackRefused(task_id="task-1", stage="complete", reason=before),
    ]
    assert (handler.events, kie.asked) == ([], 1)
    assert warnings(caplog) == [f"callback rejected: {reason}"]
    # The refusal is remembered per signed delivery: KIE, now done, accepts the genuine one.
    kie.answer = details("SUCCESS")
    fresh_body, fresh_headers = signed(
        callback("complete"), at=int(headers["X-Webhook-Timestamp"]) + 1
    )
    assert receipt(deliver(fresh_body, fresh_headers, handler, dedup=dedup, confirm_with=kie)) == (
        200,
        "ok",
        True,
    )
    assert (len(handler.events), kie.asked) == (1, 2)


def test_kie_unreachable_is_a_logged_503_and_the_redelivery_is_processed(
    deliver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kie, handler, dedup = Kie(ServerError("down", http_status=500)), Handler(), wh.Deduplicator()
    body, headers = signed(callback("complete"))
    answer = deliver(body, headers, handler, dedup=dedup, confirm_with=kie)
    assert receipt(answer) == (503, "KIE could not confirm the event now (ServerError)", False)
    assert answer.event is not None and answer.event.task_id == "task-1"
    assert not answer.event.confirmed and answer.event.tracks == ()
    assert handler.events == []
    assert warnings(caplog) == [
        "callback for task-1:complete deferred: KIE could not confirm it (ServerError)"
    ]
    kie.answer = details("SUCCESS")
    assert receipt(deliver(body, headers, handler, dedup=dedup, confirm_with=kie)) == (
        200,
        "ok",
        True,
    )
    assert (len(handler.events), kie.asked) == (1, 2)


@pytest.mark.parametrize("secret", ["", "   ", None, b"bytes"])
def test_a_receiver_without_a_usable_secret_refuses_to_start(secret: Any) -> None:
    from kie_instrumental import ConfigurationError

    with pytest.raises(ConfigurationError) as raised:
        wh.require_secret(secret)
    assert str(raised.value) == (
        "secret: the webhook secret (KIE's webhookHmacKey) must be a non-empty string"
    )
    assert wh.require_secret("s") == "s"


def test_verify_signature_returns_the_signed_task_id() -> None:
    body, headers = signed(callback("complete", task_id="task-9"), at=1_750_000_000)
    assert wh.verify_signature(body, headers, SECRET, now=1_750_000_000) == "task-9"


def test_the_async_deduplicator_runs_a_coroutine_handler_once() -> None:
    dedup = wh.Deduplicator()
    event = wh.parse_callback(callback("complete"))
    runs: list[str] = []
    inner: list[str] = []

    async def handler(e: CallbackEvent) -> None:
        runs.append(e.stage)

    async def redelivered_meanwhile(e: CallbackEvent) -> None:
        inner.append(await dedup.ahandle(e, handler))
        raise RuntimeError("the first run fails")

    async def scenario() -> list[str]:
        with pytest.raises(RuntimeError):
            await dedup.ahandle(event, redelivered_meanwhile)
        return [await dedup.ahandle(event, handler), await dedup.ahandle(event, handler)]

    assert asyncio.run(scenario()) == ["processed", "duplicate"]
    assert inner == ["running"]
    assert runs == ["complete"]
    assert dedup.store.claim("task-1:complete") == "done"  # keyed per (task id, stage)


def test_a_kept_key_expires_retention_seconds_after_its_claim() -> None:
    now = [0.0]
    store = wh.InMemoryDedupStore(retention=60, clock=lambda: now[0])
    assert store.claim("a") == "claimed"
    now[0] = 50.0
    store.complete("a")  # the handler took 50 s
    now[0] = 59.0
    assert store.claim("a") == "done"
    now[0] = 60.0
    assert store.claim("a") == "claimed"  # 60 s after the claim, not after the completion
    assert store.claim("b") == "claimed"  # at 60 s
    now[0] = 119.0
    assert store.claim("c") == "claimed"  # "a" (60 s) is still live; "b" expires at 120 s
    now[0] = 120.0
    assert store.claim("d") == "claimed"  # "a" and "b" expire; "c", newer, must stay
    assert store.claim("c") == "running"
    store.release("never claimed")  # releasing an unknown key is no error
    store.release("a")
    assert store.claim("a") == "claimed"


def test_refused_deliveries_are_remembered_up_to_ten_thousand() -> None:
    class AnyTask(Kie):
        def get_task(self, task_id: str, route: str | None = None) -> TaskDetails:
            self.asked += 1
            return TaskDetails(task_id=task_id, status="PENDING")  # type: ignore[arg-type]

    kie, dedup, handler = AnyTask(details("PENDING")), wh.Deduplicator(), Handler()
    deliveries = [signed(callback("complete", task_id=f"t-{n}"), at=1) for n in range(10_001)]

    def deliver(n: int) -> int:
        body, headers = deliveries[n]
        return wh.receive(
            body, headers, SECRET, handler, dedup=dedup, confirm_with=kie, tolerance=10**10
        ).status

    assert {deliver(n) for n in range(10_001)} == {401}
    assert kie.asked == 10_001
    assert deliver(10_000) == 401 and kie.asked == 10_001  # the newest: remembered
    assert deliver(1) == 401 and kie.asked == 10_001  # the oldest of the 10,000 kept
    assert deliver(0) == 401 and kie.asked == 10_002  # beyond the bound: KIE asked again
    assert handler.events == []


def test_callback_received_reports_what_the_body_claims_bounded(deliver: Any) -> None:
    # Before any check: the Market route's data.taskId, ids cut at 100 characters, and
    # neither id nor stage when they are not strings (the body is refused after, not crashed).
    market = {"code": 200, "msg": "ok", "data": {"taskId": "m-1", "state": "success"}}
    long_id = callback("complete", task_id="t" * 150)
    not_strings = callback("complete")
    not_strings["data"].update(task_id=5, callbackType=["complete"])
    seen: list[object] = []
    for body in (market, long_id, not_strings):
        raw, headers = signed(callback())  # signed for another body: refused after the event
        raw = json.dumps(body).encode()
        assert deliver(raw, headers, Handler(), hooks=[seen.append]).status == 401
    received = [e for e in seen if isinstance(e, ev.CallbackReceived)]
    assert received == [
        ev.CallbackReceived(task_id="m-1", stage=None),
        ev.CallbackReceived(task_id="t" * 100, stage="complete"),
        ev.CallbackReceived(task_id=None, stage=None),
    ]
