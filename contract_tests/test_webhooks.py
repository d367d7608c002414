"""Verifying and parsing KIE's callbacks: HMAC over "<task_id>.<timestamp>", constant time,
a replay window both ways; every stage parsed; duplicates handled once; and, because the
signature does not cover the body, confirmation of `complete` events against KIE."""

from __future__ import annotations

import json

import pytest
from _callbacks import SECRET, callback, signed, stdlib_signature
from _records import record, suno_track
from _support import RECORD_PATH, example
from kie_instrumental import CallbackEvent, Track, WebhookVerificationError
from kie_instrumental import webhooks as wh

NOW = 1_750_000_000


def test_a_signature_computed_with_the_standard_library_is_accepted():
    body, headers = signed(callback(), at=NOW)
    event = wh.unwrap(body, headers, SECRET, now=NOW)
    assert (event.task_id, event.stage, len(event.tracks)) == ("task-1", "complete", 2)
    assert wh.sign("task-1", str(NOW), SECRET) == stdlib_signature("task-1", str(NOW))


@pytest.mark.parametrize("case", ["lower", "upper", "mixed"])
def test_header_names_match_case_insensitively(case):
    body, headers = signed(callback(), at=NOW)
    change = {"lower": str.lower, "upper": str.upper, "mixed": str.swapcase}[case]
    assert wh.unwrap(body, {change(k): v for k, v in headers.items()}, SECRET, now=NOW)


def reject(body, headers, *, now=NOW, secret=SECRET, tolerance=300) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        wh.unwrap(body, headers, secret, now=now, tolerance=tolerance)
    return caught.value.reason


def without(headers, name):
    return {k: v for k, v in headers.items() if k != name}


def test_rejections_carry_a_reason():
    body, headers = signed(callback(), at=NOW)
    reasons = {
        "no signature": reject(body, without(headers, "X-Webhook-Signature")),
        "no timestamp": reject(body, without(headers, "X-Webhook-Timestamp")),
        "empty signature": reject(body, {**headers, "X-Webhook-Signature": ""}),
        "empty timestamp": reject(body, {**headers, "X-Webhook-Timestamp": " "}),
        "not numeric": reject(body, {**headers, "X-Webhook-Timestamp": "12:00"}),
        "negative": reject(body, {**headers, "X-Webhook-Timestamp": "-5"}),
        "too old": reject(body, headers, now=NOW + 301),
        "from the future": reject(body, headers, now=NOW - 301),
        "wrong secret": reject(body, headers, secret="another-secret"),
        "no secret": reject(body, headers, secret=""),
    }
    assert "missing X-Webhook-Signature" in reasons["no signature"]
    assert "missing X-Webhook-Timestamp" in reasons["no timestamp"]
    assert "missing" in reasons["empty signature"] and "missing" in reasons["empty timestamp"]
    assert "Unix seconds" in reasons["not numeric"] and "Unix seconds" in reasons["negative"]
    assert "old" in reasons["too old"] and "future" in reasons["from the future"]
    assert reasons["wrong secret"] == "signature does not match"
    assert "no webhook secret" in reasons["no secret"]


def test_the_window_is_inclusive_and_configurable():
    body, headers = signed(callback(), at=NOW)
    assert wh.unwrap(body, headers, SECRET, now=NOW + 300)
    assert wh.unwrap(body, headers, SECRET, now=NOW - 300)
    assert "old" in reject(body, headers, now=NOW + 61, tolerance=60)


def test_a_signature_for_another_task_is_rejected():
    body, headers = signed(callback(task_id="task-1"), at=NOW, task_id="task-2")
    assert reject(body, headers) == "signature does not match"


def test_a_task_id_changed_after_signing_is_rejected():
    _, headers = signed(callback(task_id="task-1"), at=NOW)
    tampered = json.dumps(callback(task_id="task-9")).encode()
    assert reject(tampered, headers) == "signature does not match"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"[1]", "not a JSON object"),
        (
            json.dumps({"code": 200, "msg": "", "data": {"callbackType": "text"}}).encode(),
            "no data.task_id",
        ),
        (json.dumps({"code": 200, "msg": "", "data": {"task_id": ""}}).encode(), "no data.task_id"),
        (json.dumps({"code": 200}).encode(), "no data.task_id"),
    ],
)
def test_malformed_bodies_are_rejected(body, reason):
    _, headers = signed(callback(), at=NOW)
    assert reason in reject(body, headers)


@pytest.mark.parametrize("stage", ["text", "first", "complete", "error"])
def test_every_documented_stage_parses_from_the_specs_examples(stage):
    event = wh.parse_callback(json.dumps(example("callback", stage)).encode())
    assert event.stage == stage
    assert all(isinstance(track, Track) for track in event.tracks)
    if stage in ("text", "error"):
        assert event.tracks == ()
    if stage == "error":
        assert event.code == 501 and event.is_final
    if stage == "first":  # the unfinished second track has no URLs yet
        finished, unfinished = event.tracks
        assert finished.source_audio_url and finished.created_at is not None
        assert unfinished.audio_url == "" and unfinished.duration is None
    if stage == "complete":
        assert event.tracks[0].created_at.year == 2025


def test_unknown_stages_extra_fields_and_list_shapes():
    body = callback(stage="remastered")
    body["data"]["newField"] = {"x": 1}
    body["data"]["data"][0]["bpm"] = 96
    body["extra"] = True
    event = wh.parse_callback(json.dumps(body).encode())
    assert event.stage == "remastered" and len(event.tracks) == 2 and not event.is_final
    assert wh.parse_callback(callback(stage="complete", tracks=[])).tracks == ()
    null_body = callback(stage="complete")
    null_body["data"]["data"] = None
    assert wh.parse_callback(null_body).tracks == ()
    no_data = callback(stage="text")
    del no_data["data"]["data"]
    assert wh.parse_callback(no_data).tracks == ()


@pytest.mark.parametrize("value", [1735689600000, "2025-01-01 00:00:00"])
def test_create_time_as_number_or_string(value):
    body = callback(tracks=[{"id": "a", "createTime": value}])
    assert wh.parse_callback(body).tracks[0].created_at.year == 2025


def test_wrong_shapes_inside_a_signed_body_are_rejected_not_crashed():
    for broken in ("x", {"id": 5}, {"duration": -1}, {"id": "a", "duration": "long"}):
        body = callback(tracks=[broken])
        with pytest.raises(WebhookVerificationError, match="unexpected callback shape"):
            wh.parse_callback(body)


# -- de-duplication ---------------------------------------------------------------------------


def event(stage: str = "complete") -> CallbackEvent:
    return wh.parse_callback(callback(stage=stage))


def test_a_duplicate_is_handled_once():
    handled: list[str] = []
    dedup = wh.Deduplicator()
    assert dedup.handle(event(), lambda e: handled.append(e.stage)) == "processed"
    assert dedup.handle(event(), lambda e: handled.append(e.stage)) == "duplicate"
    assert dedup.handle(event("first"), lambda e: handled.append(e.stage)) == "processed"
    assert handled == ["complete", "first"]


def test_a_redelivery_after_a_failed_handler_is_processed_again():
    attempts: list[int] = []
    dedup = wh.Deduplicator()

    def flaky(_: CallbackEvent) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        dedup.handle(event(), flaky)
    assert dedup.handle(event(), flaky) == "processed"
    assert dedup.handle(event(), flaky) == "duplicate"
    assert len(attempts) == 2


def test_a_delivery_during_a_running_handler_is_told_running_not_duplicate():
    dedup = wh.Deduplicator()
    inner: list[str] = []

    def slow(_: CallbackEvent) -> None:
        inner.append(dedup.handle(event(), lambda e: None))  # KIE delivers again meanwhile
        raise RuntimeError("the first run fails")

    with pytest.raises(RuntimeError):
        dedup.handle(event(), slow)
    assert inner == ["running"]
    assert dedup.handle(event(), lambda e: None) == "processed"  # nothing was lost


def test_a_shared_store_plugs_in_through_the_tiny_interface():
    class DictStore:  # what a Redis- or database-backed store implements
        def __init__(self) -> None:
            self.state: dict[str, str] = {}

        def claim(self, key: str) -> wh.Claim:  # Redis: SET key running NX EX ttl, else GET
            if key in self.state:
                return "done" if self.state[key] == "done" else "running"
            self.state[key] = "running"
            return "claimed"

        def complete(self, key: str) -> None:
            self.state[key] = "done"

        def release(self, key: str) -> None:
            self.state.pop(key, None)

    store = DictStore()
    first, second = wh.Deduplicator(store), wh.Deduplicator(store)  # two receivers
    handled: list[str] = []
    assert first.handle(event(), lambda e: handled.append("first")) == "processed"
    assert second.handle(event(), lambda e: handled.append("second")) == "duplicate"
    assert handled == ["first"] and store.state == {"task-1:complete": "done"}


def test_the_in_memory_store_is_bounded_and_never_forgets_a_live_key():
    now = [0.0]
    store = wh.InMemoryDedupStore(max_keys=2, retention=60, clock=lambda: now[0])
    assert store.claim("a") == "claimed"
    store.complete("a")
    assert store.claim("b") == "claimed"
    with pytest.raises(wh.DedupStoreFull):
        store.claim("c")  # full of live keys: refused, not "a" forgotten
    assert store.claim("a") == "done" and store.claim("b") == "running"
    now[0] = 60.0  # past the retention: room again
    assert store.claim("c") == "claimed"
    assert store.claim("a") == "claimed"


# -- confirmation: the signature does not cover the body ---------------------------------------


def test_a_forged_body_under_a_replayed_signature_yields_kies_own_tracks(client, mock_api):
    genuine = callback(task_id="task-1")
    _, captured_headers = signed(genuine)
    forged = callback(
        task_id="task-1",
        tracks=[{"id": "task-1-0", "audio_url": "https://evil.example/malware.mp3"}],
    )
    forged_body = json.dumps(forged).encode()
    # The replayed headers verify: KIE's signature covers task id and time only.
    event = wh.unwrap(forged_body, captured_headers, SECRET)
    mock_api.get(RECORD_PATH).mock(
        return_value=record(
            "SUCCESS", [suno_track(0, id="task-1-0", audioUrl="https://cdn.example/task-1/0.mp3")]
        )
    )
    confirmed = wh.confirm(event, client)
    assert confirmed.confirmed
    assert [t.audio_url for t in confirmed.tracks] == ["https://cdn.example/task-1/0.mp3"]


def test_confirmation_returns_kies_own_tracks(client, mock_api):
    mock_api.get(RECORD_PATH).mock(
        return_value=record(
            "SUCCESS",
            [
                suno_track(n, id=f"task-1-{n}", audioUrl=f"https://cdn.example/task-1/{n}.mp3")
                for n in range(2)
            ],
        )
    )
    confirmed = wh.confirm(event(), client)
    assert [t.audio_url for t in confirmed.tracks] == [
        "https://cdn.example/task-1/0.mp3",
        "https://cdn.example/task-1/1.mp3",
    ]
    assert confirmed.tracks[0].prompt == "[Instrumental]"  # from record-info


@pytest.mark.parametrize(
    ("stage", "status", "reached"),
    [
        ("text", "PENDING", False),
        ("text", "TEXT_SUCCESS", True),
        ("first", "TEXT_SUCCESS", False),
        ("first", "FIRST_SUCCESS", True),
        ("first", "SUCCESS", True),
        ("complete", "FIRST_SUCCESS", False),
        ("complete", "SUCCESS", True),
        ("error", "SUCCESS", False),
        ("error", "GENERATE_AUDIO_FAILED", True),
        ("complete", "GENERATE_AUDIO_FAILED", False),
    ],
)
def test_every_stage_is_checked_against_kies_status(client, mock_api, stage, status, reached):
    tracks = [] if status in ("PENDING", "TEXT_SUCCESS") else [suno_track(0, id="task-1-0")]
    mock_api.get(RECORD_PATH).mock(return_value=record(status, tracks))
    if reached:
        assert wh.confirm(event(stage), client).confirmed
    else:
        with pytest.raises(WebhookVerificationError, match="does not match"):
            wh.confirm(event(stage), client)


def test_the_known_stages_come_from_the_spec():
    assert wh.known_stages() == {"text", "first", "complete", "error"}


# -- the exact reasons and fields a refusal carries ---------------------------------------------


def shape_error(body) -> WebhookVerificationError:
    with pytest.raises(WebhookVerificationError) as caught:
        wh.parse_callback(body)
    return caught.value


def test_each_refusal_names_its_reason_in_full():
    body, headers = signed(callback(), at=NOW)
    assert reject(body, headers, secret="") == "no webhook secret configured"
    assert reject(b"[1]", headers) == "the body is not a JSON object"
    no_id = json.dumps({"code": 200, "msg": "", "data": {"callbackType": "text"}}).encode()
    assert reject(no_id, headers) == "the body has no data.task_id, data.taskId or taskId"
    assert reject(body, headers, now=NOW + 301) == "timestamp is 301 s old (tolerance 300 s)"
    assert reject(body, headers, now=NOW - 301) == (
        "timestamp is 301 s in the future (tolerance 300 s)"
    )
    # One second off a zero tolerance is old, not future.
    assert reject(body, headers, now=NOW + 1, tolerance=0) == "timestamp is 1 s old (tolerance 0 s)"
    # Twelve digits are still Unix seconds (far in the future); thirteen are refused unread.
    twelve = {**headers, "X-Webhook-Timestamp": "9" * 12}
    assert reject(body, twelve) == (
        f"timestamp is {9 * 10**11 + 99_999_999_999 - NOW} s in the future (tolerance 300 s)"
    )
    thirteen = {**headers, "X-Webhook-Timestamp": "9" * 13}
    assert reject(body, thirteen) == "X-Webhook-Timestamp is not Unix seconds"


def test_a_signed_task_id_is_found_where_each_route_puts_it():
    for document, task_id in [
        ({"code": 200, "msg": "", "data": {"task_id": "a", "taskId": "b"}, "taskId": "c"}, "a"),
        ({"code": 200, "msg": "", "data": {"task_id": "", "taskId": "b"}, "taskId": "c"}, "b"),
        ({"code": 200, "msg": "", "data": {"taskId": 5}, "taskId": "c"}, "c"),
        ({"code": 200, "msg": "", "data": [1], "taskId": "c"}, "c"),
    ]:
        body, headers = signed(document, at=NOW, task_id=task_id)
        assert wh.verify_signature(body, headers, SECRET, now=NOW) == task_id


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b.update(code="200"), "code must be an integer"),
        (lambda b: b.update(code=True), "code must be an integer"),
        (lambda b: b.update(msg=5), "msg must be a string"),
        (lambda b: b["data"].update(data={"a": 1}), "data.data must be a list or null"),
        (
            lambda b: b["data"].update(callbackType=5),
            "data.callbackType must be a non-empty string, got int",
        ),
        (
            lambda b: b["data"].update(data=[{"id": 5}]),
            "data.data[0].id must be a string or null, got int",
        ),
        (lambda b: b["data"].pop("callbackType"), "'callbackType'"),
    ],
)
def test_a_wrong_shape_is_refused_naming_the_field_and_keeping_the_task_id(change, reason):
    body = callback()
    change(body)
    error = shape_error(body)
    assert (error.reason, error.task_id) == (f"unexpected callback shape: {reason}", "task-1")


def test_a_wrong_market_callback_is_refused_keeping_the_task_id():
    document = {"code": 200, "msg": "ok", "data": {"taskId": "m-1", "state": "success"}}
    document["code"] = "200"
    error = shape_error(document)
    assert (error.reason, error.task_id) == (
        "unexpected callback shape: code must be an integer",
        "m-1",
    )


def test_a_parsed_event_keeps_code_and_message():
    body = callback(code=200)
    body["msg"] = "All generated successfully."
    parsed = wh.parse_callback(body)
    assert (parsed.code, parsed.msg, parsed.route) == (200, "All generated successfully.", "legacy")


# -- what confirmation returns ------------------------------------------------------------------


def test_an_error_event_takes_kies_code_and_message_and_no_tracks(client, mock_api):
    route = mock_api.get(RECORD_PATH)
    route.mock(return_value=record("GENERATE_AUDIO_FAILED", error_code=531, error_message="boom"))
    confirmed = wh.confirm(event("error"), client)
    assert (confirmed.code, confirmed.msg, confirmed.tracks) == (531, "boom", ())
    assert confirmed.confirmed
    # KIE gave no code or message: the callback's own are kept.
    route.mock(return_value=record("GENERATE_AUDIO_FAILED"))
    own = callback(stage="error", code=501)
    own["msg"] = "the callback's words"
    confirmed = wh.confirm(wh.parse_callback(own), client)
    assert (confirmed.code, confirmed.msg, confirmed.tracks) == (501, "the callback's words", ())


def test_each_stage_carries_the_tracks_kie_has_for_it(client, mock_api):
    tracks = [suno_track(0, id="task-1-0"), suno_track(1, id="task-1-1", audioUrl="")]
    route = mock_api.get(RECORD_PATH)
    route.mock(return_value=record("FIRST_SUCCESS", tracks))
    text = wh.confirm(event("text"), client)
    assert (text.stage, text.tracks, text.code) == ("text", (), 200)
    first = wh.confirm(event("first"), client)  # only the finished track
    assert [t.id for t in first.tracks] == ["task-1-0"]
    route.mock(return_value=record("SUCCESS", tracks))
    complete = wh.confirm(wh.parse_callback(callback(code=0)), client)
    assert [t.id for t in complete.tracks] == ["task-1-0", "task-1-1"]
    assert complete.code == 200  # KIE's own word replaces the body's


def test_text_is_reached_once_kie_reports_the_first_track(client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=record("FIRST_SUCCESS", [suno_track(0)]))
    assert wh.confirm(event("text"), client).confirmed


def test_an_unknown_stage_is_never_confirmed_and_its_name_is_bounded(client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=record("SUCCESS", [suno_track(0)]))
    stage = "s" * 40 + "TAIL"
    with pytest.raises(WebhookVerificationError) as caught:
        wh.confirm(event(stage), client)
    assert caught.value.reason == (
        f"KIE reports status SUCCESS for this task, which a '{'s' * 40}' callback does not "
        "match: a replayed signature with a forged body?"
    )
    assert caught.value.task_id == "task-1"


def test_urls_kie_does_not_name_are_logged_and_kies_are_used(client, mock_api, caplog):
    mock_api.get(RECORD_PATH).mock(
        return_value=record(
            "SUCCESS",
            [
                suno_track(n, id=f"task-1-{n}", audioUrl=f"https://cdn.example/task-1/{n}.mp3")
                for n in range(2)
            ],
        )
    )
    with caplog.at_level("WARNING", logger="kie_instrumental"):
        wh.confirm(event(), client)  # the callback names exactly KIE's URLs
    assert caplog.messages == []
    forged = callback(tracks=[{"id": "x", "audio_url": "https://evil.example/x.mp3"}])
    with caplog.at_level("WARNING", logger="kie_instrumental"):
        wh.confirm(wh.parse_callback(forged), client)
    assert caplog.messages == ["callback for task-1 names URLs KIE does not: KIE's used"]


# -- the in-memory store's bounds ---------------------------------------------------------------


def test_the_in_memory_store_holds_a_hundred_thousand_live_keys_by_default():
    store = wh.InMemoryDedupStore()
    for n in range(100_000):
        assert store.claim(str(n)) == "claimed"
    with pytest.raises(wh.DedupStoreFull) as full:
        store.claim("one more")
    assert str(full.value) == "100000 keys held for less than 86400.0 s"


def test_completing_an_unclaimed_key_marks_it_done():
    store = wh.InMemoryDedupStore()
    store.complete("never-claimed")
    assert store.claim("never-claimed") == "done"


def test_an_async_dedup_store_is_awaited_and_a_plain_one_is_called_with_the_key():
    import asyncio

    class PlainStore:  # e.g. a database: called off the event loop
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []
            self.done: set[str] = set()

        def claim(self, key: str) -> wh.Claim:
            self.calls.append(("claim", key))
            return "done" if key in self.done else "claimed"

        def complete(self, key: str) -> None:
            self.calls.append(("complete", key))
            self.done.add(key)

        def release(self, key: str) -> None:
            self.calls.append(("release", key))

    class AsyncStore(PlainStore):  # e.g. redis.asyncio: its own coroutines, awaited
        async def claim_async(self, key: str) -> wh.Claim:
            self.calls.append(("claim_async", key))
            return "done" if key in self.done else "claimed"

        async def complete_async(self, key: str) -> None:
            self.calls.append(("complete_async", key))
            self.done.add(key)

        async def release_async(self, key: str) -> None:
            self.calls.append(("release_async", key))

    async def handler(_: CallbackEvent) -> None:
        return None

    async def failing(_: CallbackEvent) -> None:
        raise RuntimeError("handler bug")

    async def scenario(store: PlainStore) -> list[str]:
        dedup = wh.Deduplicator(store)
        outcomes = [await dedup.ahandle(event("first"), handler)]
        outcomes.append(await dedup.ahandle(event("first"), handler))
        with pytest.raises(RuntimeError):
            await dedup.ahandle(event("complete"), failing)
        return outcomes

    plain, twin = PlainStore(), AsyncStore()
    assert asyncio.run(scenario(plain)) == ["processed", "duplicate"]
    assert asyncio.run(scenario(twin)) == ["processed", "duplicate"]
    steps = [
        ("claim", "task-1:first"),
        ("complete", "task-1:first"),
        ("claim", "task-1:first"),
        ("claim", "task-1:complete"),
        ("release", "task-1:complete"),
    ]
    assert plain.calls == steps
    assert twin.calls == [(f"{name}_async", key) for name, key in steps]


def test_a_confirmed_error_event_carries_no_tracks_even_if_its_body_lists_some(client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=record("GENERATE_AUDIO_FAILED", error_code=531))
    body = callback(stage="error")
    body["data"]["data"] = callback(stage="complete")["data"]["data"]  # a forged list
    forged = wh.parse_callback(body)
    assert forged.tracks  # as sent
    assert wh.confirm(forged, client).tracks == ()


def test_a_stage_callback_with_a_state_field_is_still_read_as_a_stage_callback():
    body = callback(stage="first")
    body["data"]["state"] = "success"  # an extra field: callbackType decides the shape
    parsed = wh.parse_callback(body)
    assert (parsed.stage, parsed.route, len(parsed.tracks)) == ("first", "legacy", 2)
