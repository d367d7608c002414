"""Every documented example pair of the spec through the wrapper under respx: each request
example is sent exactly as documented (plus Authorization and Content-Type), and each response
example maps to the documented result or error. (The conftest also validates every request the
wrapper sends against the spec with openapi-core.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import respx
from _support import (
    API_KEY,
    CREATE_PATH,
    CREDIT_PATH,
    RECORD_PATH,
    UPLOAD_BASE_URL,
    UPLOAD_PATH,
    all_examples,
    example,
    spec,
)
from kie_instrumental import (
    AuthenticationError,
    InstrumentalTask,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    TaskFailedError,
)
from kie_instrumental._validation import python_name

REQUEST_EXAMPLES = [
    e for e in all_examples() if e.where.startswith("POST " + CREATE_PATH + " request")
]
SUCCESS = example("add-instrumental 200", "documented")
DEFAULT_MODEL = spec()["components"]["schemas"]["SunoModel"]["default"]


@pytest.mark.parametrize(
    "item", REQUEST_EXAMPLES, ids=[e.where.split()[-1] for e in REQUEST_EXAMPLES]
)
def test_request_examples_are_sent_exactly_as_documented(client, mock_api, item):
    route = mock_api.post(CREATE_PATH).respond(200, json=SUCCESS)
    task = client.add_instrumental(**{python_name(k): v for k, v in item.value.items()})
    assert task == InstrumentalTask("5c79****be8e", "legacy")
    sent = route.calls.last.request
    # An example without a model is sent with the spec's default (KIE's is discontinued).
    assert json.loads(sent.content) == {"model": DEFAULT_MODEL, **item.value}
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["content-type"] == "application/json"


CREATE_ERRORS = {
    "missingCallBackUrl": (InvalidRequestError, 422),
    "insufficientCredits": (InsufficientCreditsError, 402),
    "sourceUnreachable": (InvalidRequestError, 451),
    "maintenance": (ServiceUnavailableError, 455),
}
SHARED_ERRORS = {  # components/responses, with the HTTP status they document
    ("Unauthorized", "unauthorized", 401): AuthenticationError,
    ("RateLimited", "rateLimited", 429): RateLimitError,
    ("ServerError", "serverError", 500): ServerError,
}


def _create(client):
    return client.add_instrumental(
        upload_url="https://example.com/v.mp3",
        title="t",
        tags="x",
        negative_tags="",
        callback_url="https://e.com/cb",
    )


@pytest.mark.parametrize("name", CREATE_ERRORS)
def test_create_error_examples_map_to_their_errors(make_client, mock_api, name):
    body = example("add-instrumental 200", name)
    route = mock_api.post(CREATE_PATH).respond(200, json=body)
    cls, code = CREATE_ERRORS[name]
    with pytest.raises(cls) as caught:
        _create(make_client(max_retries=0))
    assert (type(caught.value), caught.value.code, caught.value.msg) == (cls, code, body["msg"])
    assert route.call_count == 1


@pytest.mark.parametrize(("component", "name", "status"), list(SHARED_ERRORS))
@pytest.mark.parametrize("path", [CREATE_PATH, RECORD_PATH, CREDIT_PATH])
def test_shared_error_examples_map_to_their_errors(
    make_client, mock_api, component, name, status, path
):
    body = example(f"components/responses/{component}", name)
    method = "post" if path == CREATE_PATH else "get"
    getattr(mock_api, method)(path).respond(status, json=body)
    client = make_client(max_retries=0)
    call = {
        CREATE_PATH: _create,
        RECORD_PATH: lambda c: c.get_task("t"),
        CREDIT_PATH: lambda c: c.get_credits(),
    }[path]
    with pytest.raises(SHARED_ERRORS[(component, name, status)]) as caught:
        call(client)
    assert (caught.value.code, caught.value.http_status) == (body["code"], status)


def test_record_info_success_example_maps_field_for_field(client, mock_api):
    body = example("record-info 200", "success")
    mock_api.get(RECORD_PATH).respond(200, json=body)
    details = client.get_task("5c79****be8e")
    data = body["data"]
    assert (
        details.task_id,
        details.status,
        details.type,
        details.operation_type,
        details.param,
        details.error_code,
    ) == (data["taskId"], "SUCCESS", data["type"], data["operationType"], data["param"], None)
    assert details.succeeded
    for track, documented in zip(details.tracks, data["response"]["sunoData"], strict=True):
        for key, value in documented.items():
            if key == "createTime":
                continue
            assert getattr(track, python_name(key)) == value, key
    assert details.tracks[0].created_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert details.tracks[1].created_at == datetime(2025, 1, 1, tzinfo=UTC)  # epoch ms


def test_record_info_pending_example(client, mock_api):
    mock_api.get(RECORD_PATH).respond(200, json=example("record-info 200", "pending"))
    details = client.get_task("5c79****be8e")
    assert details.status == "PENDING" and details.tracks == () and not details.status.is_terminal


def test_record_info_failed_example_fails_wait(client, mock_api):
    body = example("record-info 200", "failed")
    mock_api.get(RECORD_PATH).respond(200, json=body)
    with pytest.raises(TaskFailedError) as caught:
        client.wait("5c79****be8e")
    assert (caught.value.status, caught.value.error_code, caught.value.error_message) == (
        "GENERATE_AUDIO_FAILED",
        501,
        body["data"]["errorMessage"],
    )


def test_record_info_unknown_task_example(client, mock_api):
    mock_api.get(RECORD_PATH).respond(200, json=example("record-info 200", "unknownTask"))
    with pytest.raises(NotFoundError) as caught:
        client.get_task("nope")
    assert caught.value.task_id == "nope"


def test_credits_example(client, mock_api):
    mock_api.get(CREDIT_PATH).respond(200, json=example("credit 200", "credits"))
    assert client.get_credits() == 100.5


def test_upload_example(client, tmp_path):
    body = example("file-stream-upload 200", "uploaded")
    audio = tmp_path / "vocals.wav"
    audio.write_bytes(b"RIFF")
    with respx.mock(base_url=UPLOAD_BASE_URL) as router:
        router.post(UPLOAD_PATH).respond(200, json=body)
        assert client.upload_file(audio) == body["data"]["downloadUrl"]


def test_every_response_example_is_covered_here():
    covered = {
        "documented",
        *CREATE_ERRORS,
        *(n for _, n, _ in SHARED_ERRORS),
        "success",
        "pending",
        "failed",
        "unknownTask",
        "credits",
        "uploaded",
    }
    responses = {
        e.where.split()[-1]
        for e in all_examples()
        if " request " not in e.where and "callback" not in e.where and "/jobs/" not in e.where
    }  # the Market route's examples: test_market_examples.py
    assert responses <= covered, responses - covered
