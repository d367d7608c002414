"""The Market route's examples, sync and async: real recorded answers (copied into
contract_tests/recordings/ with their source and date) equal the spec's examples field for field
and are read into the expected TaskDetails, tracks and errors; the Market callback is a
CallbackEvent and both receivers accept it signed as KIE signs it; a success whose result cannot
be read raises the paid-for error; the model list, the default model and the route setting."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from _callbacks import SECRET, signed
from _records import record
from _support import (
    CREATE_PATH,
    MARKET_CREATE_PATH,
    MARKET_RECORD_PATH,
    RECORD_PATH,
    all_examples,
    example,
    spec,
)
from kie_instrumental import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InstrumentalTask,
    InsufficientCreditsError,
    InvalidRequestError,
    KieClient,
    NotFoundError,
    ResultUnreadableError,
    TaskFailedError,
    TaskStatus,
    WebhookVerificationError,
)
from kie_instrumental.receivers import CALLBACK_PATH, starlette_app, wsgi_app
from kie_instrumental.webhooks import parse_callback

RECORDINGS = Path(__file__).parent / "recordings"
MODELS = spec()["components"]["schemas"]["SunoModel"]
FIELDS = {
    "upload_url": "https://example.com/vocals.mp3",
    "title": "Night Drive",
    "tags": "synthwave",
    "negative_tags": "",
}
CREATED = {"code": 200, "msg": "success", "data": {"taskId": "t1", "recordId": "t1"}}
LEGACY_CREATED = {"code": 200, "msg": "success", "data": {"taskId": "t1"}}


def recording(number: str) -> dict[str, Any]:
    (path,) = RECORDINGS.glob(f"{number}_*.json")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def market_example(where: str, name: str) -> Any:
    return example(where, name)


def record_answer(name: str) -> Any:
    return market_example("jobs/recordInfo 200", name)


# -- the spec's examples are the recordings ------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "where", "name"),
    [
        ("002", "jobs/createTask 200", "recorded"),
        ("003", "jobs/recordInfo 200", "waiting"),
        ("008", "jobs/recordInfo 200", "generating"),
        ("004", "jobs/recordInfo 200", "successOtherModel"),
        ("022", "jobs/recordInfo 200", "unknownTask"),
    ],
)
def test_the_spec_examples_are_the_recorded_answers_field_for_field(number, where, name):
    recorded = recording(number)
    assert recorded["endpoint"].endswith(where.split()[0].removeprefix("jobs"))
    assert recorded["http_status"] == 200
    assert market_example(where, name) == json.loads(recorded["body"])


def test_every_market_response_example_is_read_here():
    covered = {
        "recorded",
        "insufficientCredits",
        "waiting",
        "generating",
        "successOtherModel",
        "sunoSuccess",
        "failed",
        "unknownTask",
    }  # the callback examples: test_the_callback_examples_are_callback_events
    names = {
        e.where.split()[-1]
        for e in all_examples()
        if "/jobs/" in e.where and "request" not in e.where
    }
    assert names == covered


# -- answers read into the shared types, sync and async --------------------------------------------


@pytest.fixture
def market(make_client):
    return make_client(route="market")


def test_the_recorded_create_answer_gives_a_market_task(market, mock_api):
    body = market_example("jobs/createTask 200", "recorded")
    mock_api.post(MARKET_CREATE_PATH).respond(200, json=body)
    task = market.add_instrumental(**FIELDS)
    assert task == InstrumentalTask(body["data"]["taskId"], "market")


def test_insufficient_credits_on_create(make_client, mock_api):
    body = market_example("jobs/createTask 200", "insufficientCredits")
    mock_api.post(MARKET_CREATE_PATH).respond(200, json=body)
    with pytest.raises(InsufficientCreditsError) as caught:
        make_client(route="market", max_retries=0).add_instrumental(**FIELDS)
    assert (caught.value.code, caught.value.msg) == (402, body["msg"])


@pytest.mark.parametrize("name", ["waiting", "generating"])
def test_recorded_running_states_are_running(market, mock_api, name):
    body = record_answer(name)
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=body)
    details = market.get_task(body["data"]["taskId"])
    assert (details.task_id, details.route, details.raw_status) == (
        body["data"]["taskId"],
        "market",
        name,
    )
    assert details.status == name and not details.status.is_terminal
    assert not details.succeeded and not details.failed and details.tracks == ()
    assert details.param == body["data"]["param"]


def test_the_suno_success_gives_two_tracks_field_for_field(market, mock_api):
    body = record_answer("sunoSuccess")
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=body)
    details = market.get_task(body["data"]["taskId"])
    assert (details.status, details.raw_status, details.route) == ("SUCCESS", "success", "market")
    assert details.succeeded and details.error_code is None
    songs = json.loads(body["data"]["resultJson"])["data"]
    assert len(details.tracks) == 2
    for track, song in zip(details.tracks, songs, strict=True):
        for key in ("id", "title", "duration", "audio_url", "stream_audio_url", "image_url"):
            assert getattr(track, key) == song[key], key
        assert (track.model_name, track.prompt, track.tags) == (
            song["model_name"],
            song["prompt"],
            song["tags"],
        )
        assert track.created_at is not None
        assert int(track.created_at.timestamp() * 1000) == song["createTime"]


def test_the_failed_state_fails_wait_with_code_and_message(market, mock_api):
    body = record_answer("failed")
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=body)
    with pytest.raises(TaskFailedError) as caught:
        market.wait(InstrumentalTask(body["data"]["taskId"], "market"))
    error = caught.value
    assert (error.task_id, error.status, error.error_code, error.error_message) == (
        body["data"]["taskId"],
        TaskStatus.GENERATE_AUDIO_FAILED,
        int(body["data"]["failCode"]),
        body["data"]["failMsg"],
    )


def test_the_recorded_unknown_task_is_not_found(market, mock_api):
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=record_answer("unknownTask"))
    with pytest.raises(NotFoundError) as caught:
        market.get_task("nope")
    assert (caught.value.task_id, caught.value.msg) == ("nope", "recordInfo is null")


def test_a_recorded_success_without_songs_is_the_paid_for_error(market, mock_api):
    body = record_answer("successOtherModel")  # a video model: {"resultUrls": [...]}
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=body)
    with pytest.raises(ResultUnreadableError) as caught:
        market.wait(body["data"]["taskId"])
    error = caught.value
    assert error.task_id == body["data"]["taskId"] and "paid for" in str(error)
    assert "resultUrls" in error.snippet


# -- the paid-for error ----------------------------------------------------------------------------


def _success_with(result_json: Any) -> dict[str, Any]:
    body = record_answer("sunoSuccess")
    body["data"]["resultJson"] = result_json
    return body


@pytest.mark.parametrize(
    ("result_json", "why"),
    [
        (None, "missing or empty"),
        ("", "missing or empty"),
        ("{not json", "not JSON"),
        ('{"data": []}', "holds no songs"),
        ('{"resultObject": {"other": 1}}', "holds no songs"),
        ('{"data": ["a string"]}', "is not an object"),
        ('{"data": [{"id": "a", "duration": "long"}]}', "duration must be a number"),
    ],
    ids=["null", "empty", "not-json", "empty-list", "no-songs", "not-object", "bad-duration"],
)
def test_an_unreadable_success_raises_the_paid_for_error(market, mock_api, result_json, why):
    body = _success_with(result_json)
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=body)
    with pytest.raises(ResultUnreadableError) as caught:
        market.get_task("9d3f****a1c7")
    error = caught.value
    assert error.task_id == "9d3f****a1c7" and error.code == 200
    assert "succeeded and is paid for" in str(error) and why in str(error)


def test_the_snippet_is_bounded(market, mock_api):
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=_success_with("x" * 100_000))
    with pytest.raises(ResultUnreadableError) as caught:
        market.get_task("9d3f****a1c7")
    assert len(caught.value.snippet) <= 300 and len(str(caught.value)) < 1000


@pytest.mark.parametrize(
    "result_json",
    [
        {"sunoData": [{"id": "a", "audioUrl": "https://cdn.example/a.mp3"}]},
        {"resultObject": {"data": [{"id": "a", "audio_url": "https://cdn.example/a.mp3"}]}},
        [{"id": "a", "audio_url": "https://cdn.example/a.mp3"}],
    ],
    ids=["sunoData-camelCase", "resultObject", "bare-list"],
)
def test_the_fallback_shapes_are_read(market, mock_api, result_json):
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=_success_with(json.dumps(result_json)))
    (track,) = market.get_task("9d3f****a1c7").tracks
    assert (track.id, track.audio_url) == ("a", "https://cdn.example/a.mp3")


# -- the Market callback ---------------------------------------------------------------------------


def test_the_callback_examples_are_callback_events():
    success = parse_callback(market_example("marketTaskEnded", "success"))
    assert (success.stage, success.code, success.route, len(success.tracks)) == (
        "complete",
        200,
        "market",
        2,
    )
    assert success.is_final and success.task_id == "9d3f****a1c7"
    failed = parse_callback(market_example("marketTaskEnded", "fail"))
    assert (failed.stage, failed.code, failed.tracks, failed.is_final) == ("error", 501, (), True)


def _post(kind: str, app: Any, body: bytes, headers: dict[str, str]) -> httpx.Response:
    if kind == "wsgi":
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://r") as http:
            return http.post(CALLBACK_PATH, content=body, headers=headers)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://r"
        ) as http:
            return await http.post(CALLBACK_PATH, content=body, headers=headers)

    return asyncio.run(go())


@pytest.mark.parametrize("kind", ["starlette", "wsgi"])
def test_both_receivers_accept_a_signed_market_callback_and_refuse_a_forged_one(kind):
    handled: list[Any] = []
    make = starlette_app if kind == "starlette" else wsgi_app
    app = make(SECRET, handled.append)
    document = market_example("marketTaskEnded", "success")
    # Signed as KIE signs it: the task id read from data.taskId.
    body, headers = signed(document, task_id=document["data"]["taskId"])
    assert _post(kind, app, body, headers).status_code == 200
    assert [(e.task_id, e.stage) for e in handled] == [("9d3f****a1c7", "complete")]
    forged = {
        **headers,
        "X-Webhook-Signature": signed(document, task_id="other")[1]["X-Webhook-Signature"],
    }
    refused = _post(kind, app, body, forged)
    assert refused.status_code == 401 and len(handled) == 1
    # The task id is also found at a top-level taskId.
    top = {"code": 200, "msg": "ok", "taskId": "top-1", "data": {**document["data"]}}
    top["data"].pop("taskId")
    body, headers = signed(top, task_id="top-1")
    assert _post(kind, app, body, headers).status_code == 200
    assert [e.task_id for e in handled] == ["9d3f****a1c7", "top-1"]


# -- models -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_a_v6_request_is_sent_on_both_routes(make_client, mock_api, route):
    path = MARKET_CREATE_PATH if route == "market" else CREATE_PATH
    sent = mock_api.post(path).respond(200, json=CREATED)
    client = make_client(route=route)
    for model in ("V6", "V6_MINI", "V6_WILD"):
        client.add_instrumental(**FIELDS, callback_url="https://e.com/cb", model=model)
        body = json.loads(sent.calls.last.request.content)
        assert (body["input"] if route == "market" else body)["model"] == model
    if route == "market":
        assert body["model"] == "ai-music-api/add-instrumental"
        assert body["callBackUrl"] == "https://e.com/cb"


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_no_model_sends_the_specs_current_default(make_client, mock_api, route):
    path = MARKET_CREATE_PATH if route == "market" else CREATE_PATH
    sent = mock_api.post(path).respond(200, json=CREATED)
    make_client(route=route).add_instrumental(**FIELDS, callback_url="https://e.com/cb")
    body = json.loads(sent.calls.last.request.content)
    assert (body["input"] if route == "market" else body)["model"] == MODELS["default"]
    assert MODELS["default"] not in MODELS["x-discontinued"]


@pytest.mark.parametrize("route", ["market", "legacy"])
@pytest.mark.parametrize("model", MODELS["x-discontinued"])
def test_a_discontinued_model_warns_at_the_callers_line_and_is_sent(
    make_client, mock_api, route, model
):
    path = MARKET_CREATE_PATH if route == "market" else CREATE_PATH
    sent = mock_api.post(path).respond(200, json=CREATED)
    client = make_client(route=route)
    keywords = {**FIELDS, "callback_url": "https://e.com/cb", "model": model}
    with pytest.warns(DeprecationWarning, match=f"model='{model}' is discontinued") as caught:
        if make_client.kind == "sync":
            client.add_instrumental(**keywords)
        else:  # awaited from the caller's own coroutine, as users do

            async def caller() -> None:
                await client._client.add_instrumental(**keywords)

            client._loop.run_until_complete(caller())
    assert caught[0].filename == __file__
    assert sent.call_count == 1


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_a_discontinued_model_warns_naming_the_current_ones(make_client, mock_api, route):
    path = MARKET_CREATE_PATH if route == "market" else CREATE_PATH
    sent = mock_api.post(path).respond(200, json=CREATED)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_client(route=route).add_instrumental(
            **FIELDS, callback_url="https://e.com/cb", model="V5"
        )
    current = ", ".join(m for m in MODELS["enum"] if m not in MODELS["x-discontinued"])
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            DeprecationWarning,
            f"model='V5' is discontinued by KIE; current: {current}. It is still sent.",
        )
    ]
    body = json.loads(sent.calls.last.request.content)
    assert (body["input"] if route == "market" else body)["model"] == "V5"


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_a_current_model_does_not_warn(make_client, mock_api, route):
    path = MARKET_CREATE_PATH if route == "market" else CREATE_PATH
    mock_api.post(path).respond(200, json=CREATED)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_client(route=route).add_instrumental(**FIELDS, callback_url="https://e.com/cb")


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_an_unknown_model_sends_nothing(make_client, mock_api, route):
    with pytest.raises(InvalidRequestError) as caught:
        make_client(route=route).add_instrumental(
            **FIELDS, callback_url="https://e.com/cb", model="V7"
        )
    assert caught.value.rule == "enum" and "'V6'" in str(caught.value)
    assert caught.value.field == ("input.model" if route == "market" else "model")
    assert len(mock_api.calls) == 0


# -- the route setting ---------------------------------------------------------------------------


def test_the_default_route_is_market_and_kie_route_changes_it(monkeypatch, mock_api):
    monkeypatch.delenv("KIE_ROUTE", raising=False)
    market = mock_api.post(MARKET_CREATE_PATH).respond(200, json=CREATED)
    legacy = mock_api.post(CREATE_PATH).respond(200, json=LEGACY_CREATED)
    with KieClient("k", rate_limit=None) as client:
        assert client.add_instrumental(**FIELDS).route == "market"
        task = client.add_instrumental(**FIELDS, callback_url="https://e.com/cb", route="legacy")
        assert task.route == "legacy"
    monkeypatch.setenv("KIE_ROUTE", "legacy")
    with KieClient("k", rate_limit=None) as client:
        assert "route='legacy'" in repr(client)
        client.add_instrumental(**FIELDS, callback_url="https://e.com/cb")
    assert (market.call_count, legacy.call_count) == (1, 2)


def test_a_bad_route_is_refused_before_any_request(monkeypatch, mock_api):
    monkeypatch.setenv("KIE_ROUTE", "marketplace")
    with pytest.raises(ConfigurationError, match=r"\$KIE_ROUTE must be one of 'market'"):
        KieClient("k")
    monkeypatch.delenv("KIE_ROUTE")
    with pytest.raises(ConfigurationError, match="route must be one of"):
        KieClient("k", route="v2")
    with KieClient("k") as client, pytest.raises(InvalidRequestError) as caught:
        client.add_instrumental(**FIELDS, route="new")
    assert caught.value.field == "route" and len(mock_api.calls) == 0


def test_legacy_without_a_callback_url_is_refused_and_market_sends_none(make_client, mock_api):
    market = mock_api.post(MARKET_CREATE_PATH).respond(200, json=CREATED)
    with pytest.raises(InvalidRequestError) as caught:
        make_client(route="legacy").add_instrumental(**FIELDS)
    assert (caught.value.field, caught.value.rule) == ("callBackUrl", "required")
    assert str(caught.value).startswith("callback_url (callBackUrl): is required")
    assert len(mock_api.calls) == 0
    make_client(route="market").add_instrumental(**FIELDS)
    assert "callBackUrl" not in json.loads(market.calls.last.request.content)


@pytest.mark.parametrize(
    ("body", "message", "msg"),
    [
        (
            {"code": 422, "msg": "recordInfo is null", "data": None},
            "get_task: KIE knows no task abc (recordInfo is null)",
            "recordInfo is null",
        ),
        (
            {"code": 200, "msg": "success", "data": None},
            "get_task: KIE knows no task abc (data is null)",
            "success",
        ),
    ],
)
def test_an_unknown_market_task_is_not_found_with_every_field(
    make_client, mock_api, body, message, msg
):
    mock_api.get(MARKET_RECORD_PATH).respond(200, json=body)
    with pytest.raises(NotFoundError) as caught:
        make_client(route="market", max_retries=0).get_task("abc")
    error = caught.value
    assert (str(error), error.code, error.msg, error.http_status, error.task_id) == (
        message,
        404,
        msg,
        200,
        "abc",
    )


def test_another_422_of_the_market_record_stays_an_invalid_request(make_client, mock_api):
    mock_api.get(MARKET_RECORD_PATH).respond(200, json={"code": 422, "msg": "bad", "data": None})
    with pytest.raises(InvalidRequestError) as caught:
        make_client(route="market", max_retries=0).get_task("abc")
    assert str(caught.value) == "get_task: KIE answered code 422: bad [HTTP 200] (task_id=abc)"


_RECORD = {
    "taskId": "m-1",
    "model": "V6",
    "state": "fail",
    "param": "{}",
    "resultJson": None,
    "failCode": "500",
    "failMsg": "boom",
    "costTime": 1,
    "completeTime": 1,
    "createTime": 1,
}


@pytest.mark.parametrize(
    ("state", "stage"), [("fail", "error"), ("queuing", "queuing"), ("generating", "generating")]
)
def test_a_market_callback_names_its_stage_from_the_state(state, stage):
    event = parse_callback({"code": 200, "msg": "ok", "data": {**_RECORD, "state": state}})
    assert (event.task_id, event.stage, event.code, event.msg, event.route) == (
        "m-1",
        stage,
        200,
        "ok",
        "market",
    )


def test_a_market_callback_with_a_wrong_message_is_refused_naming_it():
    with pytest.raises(WebhookVerificationError) as caught:
        parse_callback({"code": 200, "msg": 5, "data": {**_RECORD}})
    assert (caught.value.reason, caught.value.task_id) == (
        "unexpected callback shape: msg must be a string",
        "m-1",
    )


@pytest.mark.parametrize(
    ("fail_code", "fail_msg", "code", "message"),
    [
        ("501", "boom", 501, "boom"),
        (" 531 ", "boom", 531, "boom"),
        (433, "boom", 433, "boom"),
        ("", "boom", None, "boom"),
        (None, "boom", None, "boom"),
        ("SENSITIVE_WORD", "boom", None, "SENSITIVE_WORD: boom"),
        ("SENSITIVE_WORD", "", None, "SENSITIVE_WORD"),
        ("SENSITIVE_WORD", None, None, "SENSITIVE_WORD"),
    ],
)
def test_a_failed_market_task_keeps_its_fail_code_and_message(
    make_client, mock_api, fail_code, fail_msg, code, message
):
    record = {**_RECORD, "failCode": fail_code, "failMsg": fail_msg}
    event = parse_callback({"code": 200, "msg": "ok", "data": record})
    assert event.stage == "error"
    mock_api.get(MARKET_RECORD_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": record}
    )
    details = make_client(route="market").get_task("m-1")
    assert (details.error_code, details.error_message) == (code, message)


def test_a_failed_market_task_without_a_fail_code_keeps_its_message(make_client, mock_api):
    record = {key: value for key, value in _RECORD.items() if key != "failCode"}
    mock_api.get(MARKET_RECORD_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": record}
    )
    details = make_client(route="market").get_task("m-1")
    assert (details.failed, details.error_code, details.error_message) == (True, None, "boom")


def test_a_fail_code_of_another_type_is_refused():
    with pytest.raises(WebhookVerificationError) as caught:
        parse_callback({"code": 200, "msg": "ok", "data": {**_RECORD, "failCode": True}})
    assert caught.value.reason == (
        "unexpected callback shape: data.failCode must be a string, an integer or null"
    )


def test_an_unknown_route_is_refused_naming_the_known_ones():
    with pytest.raises(ConfigurationError) as caught:
        KieClient(api_key="k" * 32, route="beta")
    assert str(caught.value) == "route must be one of 'market', 'legacy', got 'beta'"


@pytest.mark.parametrize(
    ("env", "given", "chosen"),
    [
        (None, " Legacy ", "legacy"),
        ("", None, "market"),
        (" LEGACY ", None, "legacy"),
        ("legacy", "market", "market"),
    ],
)
def test_the_clients_route_ignores_case_and_spaces(monkeypatch, env, given, chosen):
    if env is None:
        monkeypatch.delenv("KIE_ROUTE", raising=False)
    else:
        monkeypatch.setenv("KIE_ROUTE", env)
    with KieClient("k", route=given, rate_limit=None) as client:
        assert f"route='{chosen}'" in repr(client)


def test_a_bad_kie_route_is_named_with_the_known_ones(monkeypatch):
    monkeypatch.setenv("KIE_ROUTE", "marketplace")
    with pytest.raises(ConfigurationError) as caught:
        KieClient("k")
    assert str(caught.value) == "$KIE_ROUTE must be one of 'market', 'legacy', got 'marketplace'"


@pytest.mark.parametrize(
    ("client_route", "task", "route", "read_on"),
    [
        ("legacy", InstrumentalTask("m-1", "market"), None, "market"),
        ("market", InstrumentalTask("m-1", "legacy"), None, "legacy"),
        ("legacy", InstrumentalTask("m-1", "market"), "market", "market"),
        ("legacy", InstrumentalTask("m-1"), None, "legacy"),
        ("legacy", InstrumentalTask("m-1"), "market", "market"),
        ("market", "m-1", "legacy", "legacy"),
        ("legacy", "m-1", None, "legacy"),
    ],
)
def test_a_task_is_read_on_its_own_route_else_the_calls_else_the_clients(
    make_client, mock_api, client_route, task, route, read_on
):
    market = mock_api.get(MARKET_RECORD_PATH).respond(
        200, json={"code": 200, "msg": "success", "data": _RECORD}
    )
    legacy = mock_api.get(RECORD_PATH).mock(return_value=record("PENDING", task_id="m-1"))
    details = make_client(route=client_route).get_task(task, route=route)
    assert (details.task_id, details.route) == ("m-1", read_on)
    assert (market.call_count, legacy.call_count) == ((read_on == "market"), (read_on == "legacy"))


@pytest.mark.parametrize(
    ("task", "route", "message", "rule", "task_id"),
    [
        (
            InstrumentalTask("m-1", "legacy"),
            "market",
            "route: the task was created on the legacy route, got 'market' (task_id=m-1)",
            "task",
            "m-1",
        ),
        (
            InstrumentalTask("m-1", "beta"),
            None,
            "task.route must be one of 'market', 'legacy', got 'beta'",
            "enum",
            None,
        ),
        ("m-1", "beta", "route: must be one of 'market', 'legacy', got 'beta'", "enum", None),
        ("m-1", "Legacy", "route: must be one of 'market', 'legacy', got 'Legacy'", "enum", None),
        (
            "m-1",
            ["legacy"],
            "route: must be one of 'market', 'legacy', got ['legacy']",
            "enum",
            None,
        ),
    ],
)
def test_a_route_that_cannot_serve_the_task_is_refused_unsent(
    make_client, mock_api, task, route, message, rule, task_id
):
    with pytest.raises(InvalidRequestError) as caught:
        make_client(route="market").get_task(task, route=route)
    error = caught.value
    assert (str(error), error.field, error.rule, error.task_id) == (message, "route", rule, task_id)
    assert len(mock_api.calls) == 0


@pytest.mark.parametrize("route", ["market", "legacy"])
def test_a_get_task_error_names_the_call(make_client, mock_api, route):
    path = MARKET_RECORD_PATH if route == "market" else RECORD_PATH
    mock_api.get(path).respond(200, json={"code": 401, "msg": "bad key", "data": None})
    with pytest.raises(AuthenticationError) as caught:
        make_client(route=route, max_retries=0).get_task("m-1")
    assert str(caught.value) == "get_task: KIE answered code 401: bad key [HTTP 200] (task_id=m-1)"


@pytest.mark.parametrize(
    ("result_json", "where"),
    [
        ([{"id": 5}], "resultJson [][0].id"),
        ({"resultObject": {"sunoData": [{"id": 5}]}}, "resultJson resultObject.sunoData[0].id"),
        ({"resultObject": [{"id": 5}]}, "resultJson resultObject.[0].id"),
    ],
)
def test_an_unreadable_song_is_named_by_where_it_sits(make_client, mock_api, result_json, where):
    text = json.dumps(result_json)
    record = {**_RECORD, "state": "success", "failCode": None, "failMsg": None, "resultJson": text}
    mock_api.get(MARKET_RECORD_PATH).respond(200, json={"code": 200, "msg": "ok", "data": record})
    with pytest.raises(ResultUnreadableError) as caught:
        make_client(route="market", max_retries=0).get_task("m-1")
    assert str(caught.value) == (
        "task m-1 succeeded and is paid for, but its result cannot be read: "
        f"{where} must be a string or null, got int. Do not submit it again: the result stays "
        f"at KIE (about 14 days). resultJson begins {text!r}"
    )
    assert caught.value.snippet == text


_MAY_EXIST = (
    ". The task may have been created (KIE has no idempotency key, so it was not retried): "
    "check your callback or the task list before submitting again."
)


@pytest.mark.parametrize("route", ["market", "legacy"])
@pytest.mark.parametrize(
    ("body", "error_class", "message"),
    [
        (
            {"code": 200, "msg": "success", "data": {}},
            APIError,
            "POST {path}: the success envelope lacks the expected data "
            "(data.taskId is missing)" + _MAY_EXIST,
        ),
        (
            {"code": 200, "msg": "success", "data": None},
            APIError,
            "POST {path}: the success envelope lacks the expected data "
            "(data.taskId is missing)" + _MAY_EXIST,
        ),
        (
            {"code": 200, "msg": "success", "data": {"taskId": 5}},
            APIError,
            "POST {path}: the success envelope lacks the expected data "
            "(data.taskId must be a non-empty string, got int)" + _MAY_EXIST,
        ),
        (
            {"code": 402, "msg": "no credits", "data": None},
            InsufficientCreditsError,
            "add_instrumental: KIE answered code 402: no credits [HTTP 200]",
        ),
    ],
)
def test_a_create_answer_without_a_task_is_named(
    make_client, mock_api, route, body, error_class, message
):
    path = MARKET_CREATE_PATH if route == "market" else CREATE_PATH
    create = mock_api.post(path).respond(200, json=body)
    with pytest.raises(error_class) as caught:
        make_client(route=route, max_retries=0).add_instrumental(
            **FIELDS, callback_url="https://e.com/cb"
        )
    assert type(caught.value) is error_class and str(caught.value) == message.format(path=path)
    assert create.call_count == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"taskId": "other"},
            "get_task: asked for task m-1, KIE answered with the record of 'other'",
        ),
        (
            {"taskId": "x" * 150},
            "get_task: asked for task m-1, KIE answered with the record of "
            f"'{'x' * 100}... (50 more characters)'",
        ),
        (
            {"taskId": 5},
            "GET /api/v1/jobs/recordInfo: the success envelope lacks the expected data "
            "(data.taskId must be a non-empty string, got int) (task_id=m-1)",
        ),
        (
            {"state": 5},
            "GET /api/v1/jobs/recordInfo: the success envelope lacks the expected data "
            "(data.state must be a non-empty string, got int) (task_id=m-1)",
        ),
    ],
)
def test_a_market_record_that_is_not_the_tasks_is_an_api_error(
    make_client, mock_api, change, message
):
    record = {**_RECORD, **change}
    mock_api.get(MARKET_RECORD_PATH).respond(200, json={"code": 200, "msg": "ok", "data": record})
    with pytest.raises(APIError) as caught:
        make_client(route="market", max_retries=0).get_task("m-1")
    error = caught.value
    assert (str(error), error.code, error.http_status, error.task_id) == (message, 200, 200, "m-1")


def test_a_market_callbacks_own_task_id_wins_over_a_top_level_one():
    event = parse_callback({"code": 200, "msg": "ok", "taskId": "top", "data": {**_RECORD}})
    assert event.task_id == "m-1"


def test_a_market_callback_of_a_wrong_shape_names_the_field():
    with pytest.raises(WebhookVerificationError) as caught:
        parse_callback({"code": 200, "msg": "ok", "data": {**_RECORD, "state": 5}})
    assert caught.value.reason == (
        "unexpected callback shape: data.state must be a non-empty string, got int"
    )


@pytest.mark.parametrize(
    ("result_json", "snippet"), [({"x": 1}, "{'x': 1}"), (None, "None"), ("", "''")]
)
def test_a_missing_or_non_text_result_is_shown_as_it_came(
    make_client, mock_api, result_json, snippet
):
    record = {**_RECORD, "state": "success", "failCode": None, "failMsg": None}
    record["resultJson"] = result_json
    mock_api.get(MARKET_RECORD_PATH).respond(200, json={"code": 200, "msg": "ok", "data": record})
    with pytest.raises(ResultUnreadableError) as caught:
        make_client(route="market", max_retries=0).get_task("m-1")
    assert caught.value.snippet == snippet
    assert str(caught.value) == (
        "task m-1 succeeded and is paid for, but its result cannot be read: data.resultJson is "
        "missing or empty. Do not submit it again: the result stays at KIE (about 14 days). "
        f"resultJson begins {snippet!r}"
    )
