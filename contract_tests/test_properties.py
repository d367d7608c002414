"""Properties over inputs generated from the spec by schemathesis strategies.

- Any spec-valid input: the wrapper sends a spec-valid request whose body equals the input.
- Any invalid value of a documented field (wrong types included): InvalidRequestError, no
  request. Filtered out, because a Python call cannot express them: bodies that are not
  objects or carry unknown keys (no such keyword argument exists), and invalid values that are
  `None` for an optional field (None means "leave it out", so the request is valid).
- Any response conforming to the response schemas parses, or is the KieError its code says.
- Arbitrary bytes, JSON and status codes give a result or a KieError, never another exception.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import schemathesis
from _support import (
    CREATE_PATH,
    CREDIT_PATH,
    MARKET_CREATE_PATH,
    RECORD_PATH,
    UPLOAD_BASE_URL,
    UPLOAD_PATH,
    create_request_schema,
    errors,
    spec,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kie_instrumental import APIError, InstrumentalTask, InvalidRequestError, KieError, TaskDetails
from kie_instrumental._validation import python_name

EXAMPLES = 200
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(spec()))
CREATE = SCHEMA[CREATE_PATH]["POST"]
PROPERTIES = spec()["components"]["schemas"]["AddInstrumentalRequest"]["properties"]
OK = {"code": 200, "msg": "success", "data": {"taskId": "t1"}}
MARKET_CREATE = SCHEMA[MARKET_CREATE_PATH]["POST"]
DEFAULT_MODEL = spec()["components"]["schemas"]["SunoModel"]["default"]


def as_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    return {python_name(key): value for key, value in body.items()}


@SETTINGS
@given(case=CREATE.as_strategy())
def test_valid_inputs_are_sent_exactly(client, mock_api, case):
    route = mock_api.post(CREATE_PATH).respond(200, json=OK)
    task = client.add_instrumental(**as_kwargs(case.body))
    assert task == InstrumentalTask("t1", "legacy")
    sent = json.loads(route.calls.last.request.content)
    # The spec checker in conftest validates the request too. A body without a model is sent
    # with the spec's default model.
    assert sent == {"model": DEFAULT_MODEL, **case.body}


@SETTINGS
@given(case=MARKET_CREATE.as_strategy())
def test_valid_market_inputs_are_sent_exactly(make_client, mock_api, case):
    route = mock_api.post(MARKET_CREATE_PATH).respond(200, json=OK)
    body = case.body
    kwargs = as_kwargs(body["input"])
    if "callBackUrl" in body:
        kwargs["callback_url"] = body["callBackUrl"]
    task = make_client(route="market").add_instrumental(**kwargs)
    assert task == InstrumentalTask("t1", "market")
    sent = json.loads(route.calls.last.request.content)
    assert sent == {**body, "input": {"model": DEFAULT_MODEL, **body["input"]}}


def expressible_negative(body: Any) -> bool:
    if not isinstance(body, dict) or not set(body) <= set(PROPERTIES):
        return False
    left_out = {k: v for k, v in body.items() if v is not None}
    return bool(errors(create_request_schema(), left_out))


@SETTINGS
@given(
    case=CREATE.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE).filter(
        lambda case: expressible_negative(case.body)
    )
)
def test_invalid_values_are_refused_before_sending(client, mock_api, case):
    route = mock_api.post(CREATE_PATH).respond(200, json=OK)
    required = spec()["components"]["schemas"]["AddInstrumentalRequest"]["required"]
    kwargs = {python_name(name): None for name in required} | as_kwargs(case.body)
    try:
        client.add_instrumental(**kwargs)
    except InvalidRequestError as error:
        assert error.field in PROPERTIES
    else:
        raise AssertionError(f"accepted an invalid body: {case.body}")
    assert route.call_count == 0


def response_strategies() -> dict[str, Any]:
    """Each response schema, lifted into a request body so schemathesis generates it."""
    document = copy.deepcopy(spec())
    names = [
        "CreateTaskResponse",
        "RecordInfoResponse",
        "CreditsResponse",
        "FileUploadResponse",
        "ErrorResponse",
    ]
    document["paths"] = {
        f"/responses/{name}": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                    },
                },
                "responses": {"200": {"description": "ok"}},
                "security": [],
            }
        }
        for name in names
    }
    lifted = schemathesis.openapi.from_dict(document)
    return {
        name: lifted[f"/responses/{name}"]["POST"].as_strategy().map(lambda c: c.body)
        for name in names
    }


RESPONSES = response_strategies()
OPERATIONS = {
    "CreateTaskResponse": (
        "post",
        CREATE_PATH,
        lambda c: c.add_instrumental(
            upload_url="https://a.b/c",
            title="t",
            tags="x",
            negative_tags="",
            callback_url="https://a.b/cb",
        ),
    ),
    "RecordInfoResponse": ("get", RECORD_PATH, lambda c: c.get_task("task-1")),
    "CreditsResponse": ("get", CREDIT_PATH, lambda c: c.get_credits()),
}


@SETTINGS
@given(data=st.data())
def test_every_conforming_response_parses_or_is_the_error_its_code_says(client, mock_api, data):
    name = data.draw(st.sampled_from(sorted(OPERATIONS)))
    body = data.draw(RESPONSES[name])
    method, path, call = OPERATIONS[name]
    getattr(mock_api, method)(path).respond(200, json=body)
    try:
        result = call(client)
    except KieError as error:
        if body["code"] == 200:  # success code: only a null/absent data, or another task's
            # record (an APIError naming both ids), may fail
            data = body.get("data")
            other_task = (
                name == "RecordInfoResponse"
                and isinstance(data, dict)
                and data.get("taskId") != "task-1"
            )
            assert data is None or (other_task and type(error) is APIError), (body, error)
        else:
            assert error.code == body["code"]
        return
    assert body["code"] == 200
    if name == "RecordInfoResponse":
        assert isinstance(result, TaskDetails) and result.status == body["data"]["status"]
        suno = (body["data"].get("response") or {}).get("sunoData") or []
        assert [t.id for t in result.tracks] == [t["id"] for t in suno]
    elif name == "CreateTaskResponse":
        assert result == InstrumentalTask(body["data"]["taskId"], "legacy")
    else:
        assert result == body["data"]


@SETTINGS
@given(body=RESPONSES["FileUploadResponse"])
def test_every_conforming_upload_response_parses(client, tmp_path, body):
    import respx

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x")
    with respx.mock(base_url=UPLOAD_BASE_URL) as router:
        router.post(UPLOAD_PATH).respond(200, json=body)
        try:
            url = client.upload_file(audio)
        except KieError as error:
            assert body["code"] != 200 or body.get("data") is None, (body, error)
        else:
            assert body["code"] == 200 and url == body["data"]["downloadUrl"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
envelopes = st.fixed_dictionaries(
    {"code": st.one_of(st.integers(-5, 1000), json_values), "msg": json_values},
    optional={"data": json_values},
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    envelopes.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b"<!DOCTYPE html><html>502</html>",
            b"error code: 1010",
            b"",
            b'{"code":200,"msg":"success","data":{"taskId":""}}',
        ]
    ),
)


@SETTINGS
@given(data=st.data(), status=st.integers(100, 999), content=bodies)
def test_arbitrary_answers_give_a_result_or_a_kie_error(client, mock_api, data, status, content):
    status = 200 if status < 200 else status  # 1xx are not final answers
    name = data.draw(st.sampled_from(sorted(OPERATIONS)))
    method, path, call = OPERATIONS[name]
    getattr(mock_api, method)(path).mock(return_value=httpx.Response(status, content=content))
    expected_type = {
        "CreateTaskResponse": InstrumentalTask,
        "RecordInfoResponse": TaskDetails,
        "CreditsResponse": float,
    }[name]
    try:
        result = call(client)
    except KieError as error:  # any other exception fails the test
        assert isinstance(error, KieError)
    else:  # success only from a 2xx answer carrying the expected data
        assert 200 <= status <= 299 and isinstance(result, expected_type)
