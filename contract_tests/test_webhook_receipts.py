"""What `webhooks.receive` and `areceive` answer KIE for every path, exactly (status, detail,
whether the handler's work counted), how many times the handler runs and KIE is asked, and
the warning an operator sees for each refused or deferred callback. Sync and async alike."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from _callbacks import SECRET, callback, signed
from kie_instrumental import CallbackEvent, ServerError, TaskDetails
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

    def get_task(self, task_id: str) -> TaskDetails:
        assert task_id == "task-1"
        return self._get()


class AsyncKie(Kie):
    async def get_task(self, task_id: str) -> TaskDetails:  # type: ignore[override]
        assert task_id == "task-1"
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
    assert handler.events[0].task_id == "task-1" and handler.events[0].stage == "complete"
    assert warnings(caplog) == []


def test_a_refused_signature_is_a_logged_401(
    deliver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Handler()
    body, headers = signed(callback("complete"), secret="another secret")
    assert receipt(deliver(body, headers, handler)) == (401, "signature does not match", False)
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
    again = deliver(body, headers, handler, dedup=dedup, confirm_with=kie)
    assert receipt(again) == (200, "duplicate", False)
    assert (len(handler.events), kie.asked) == (1, 1)


def test_a_stage_kie_refused_is_a_401_and_its_replays_never_ask_again(
    deliver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kie, handler, dedup = Kie(details("PENDING")), Handler(), wh.Deduplicator()
    body, headers = signed(callback("complete"))
    first = deliver(body, headers, handler, dedup=dedup, confirm_with=kie)
    reason = (
        "KIE reports status PENDING for this task, which a 'complete' callback does not "
        "match: a replayed signature with a forged body?"
    )
    assert receipt(first) == (401, reason, False)
    replayed = deliver(body, headers, handler, dedup=dedup, confirm_with=kie)
    assert receipt(replayed) == (
        401,
        "KIE refused this stage for this signed delivery before",
        False,
    )
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
