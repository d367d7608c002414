"""Error mapping as design.md's table: every documented body code, and HTTP errors with JSON,
HTML, plain-text and empty bodies, raise exactly the class in the table, never a foreign
exception. The expected classes are written here, independently of the wrapper's table."""

from __future__ import annotations

import copy
import inspect
import pickle
from concurrent.futures import ProcessPoolExecutor

import httpx
import pytest
from _support import CREATE_PATH, CREDIT_PATH, RECORD_PATH, VALID_FIELDS
from kie_instrumental import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    KieError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    ServiceUnavailableError,
    TaskFailedError,
    WaitTimeoutError,
    _errors,
)

# design.md, "Errors": body code or HTTP status -> class.
TABLE = {
    400: InvalidRequestError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    451: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    433: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    430: RateLimitError,
    455: ServiceUnavailableError,
    503: ServiceUnavailableError,
    500: ServerError,
    501: ServerError,
    505: ServerError,
    531: ServerError,
    408: ServerError,
    502: ServerError,
    504: ServerError,
    405: APIError,
    409: APIError,
    418: APIError,
    999: APIError,
}
# kie-api.md section 2: every body code KIE documents for this API and its siblings.
DOCUMENTED_BODY_CODES = [
    400,
    401,
    402,
    404,
    405,
    408,
    409,
    413,
    422,
    429,
    430,
    433,
    451,
    455,
    500,
    501,
    505,
    531,
]
HTTP_STATUSES = [401, 402, 403, 404, 422, 429, 430, 455, 500, 502, 503, 531]
BODIES = {
    "json": lambda status: {"json": {"code": status, "msg": "nope", "data": None}},
    "html": lambda status: {"html": "<!DOCTYPE html><html><body>Bad gateway</body></html>"},
    "text": lambda status: {"text": "error code: 1010"},
    "empty": lambda status: {"content": b""},
}
CALLS = {
    "create": ("post", CREATE_PATH, lambda c: c.add_instrumental(**VALID_FIELDS)),
    "get_task": ("get", RECORD_PATH, lambda c: c.get_task("task-1")),
    "credits": ("get", CREDIT_PATH, lambda c: c.get_credits()),
}


def raised(client, mock_api, call: str, response: httpx.Response) -> KieError:
    method, path, invoke = CALLS[call]
    getattr(mock_api, method)(path).mock(return_value=response)
    with pytest.raises(KieError) as caught:  # any other exception fails the test
        invoke(client)
    return caught.value


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("code", DOCUMENTED_BODY_CODES)
def test_body_code_with_http_200_raises_the_tables_class(client, mock_api, call, code):
    error = raised(
        client, mock_api, call, httpx.Response(200, json={"code": code, "msg": "why", "data": None})
    )
    assert type(error) is TABLE[code]
    assert (error.code, error.msg, error.http_status) == (code, "why", 200)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("status", HTTP_STATUSES)
def test_http_status_with_any_body_raises_the_tables_class(client, mock_api, call, body, status):
    error = raised(client, mock_api, call, httpx.Response(status, **BODIES[body](status)))
    assert type(error) is TABLE[status]
    assert error.code == status and error.http_status == status
    if body in ("html", "empty"):
        assert ("HTML page" if body == "html" else "empty body") in str(error)


@pytest.mark.parametrize(("code", "cls"), [(499, APIError), (599, ServerError), (600, APIError)])
def test_the_5xx_range_ends_at_599(client, mock_api, code, cls):
    answer = httpx.Response(200, json={"code": code, "msg": "m"})
    error = raised(client, mock_api, "credits", answer)
    assert type(error) is cls and error.code == code


@pytest.mark.parametrize(
    ("content", "described"),
    [
        (b" \r\n", "empty body"),
        (b"<HTML><body>Bad gateway</body></HTML>", "an HTML page"),
        (b" <!doctype html><p>", "an HTML page"),
        (b"error\n code:\t1010 ", "error code: 1010"),
        (b"x" * 300, "x" * 200),
    ],
)
def test_a_body_that_is_not_json_is_described_in_the_error(client, mock_api, content, described):
    error = raised(client, mock_api, "credits", httpx.Response(502, content=content))
    assert str(error) == f"get_credits: KIE answered code 502: {described} [HTTP 502]"


def test_cdn_block_is_a_permission_error_quoting_the_body(client, mock_api):
    error = raised(client, mock_api, "credits", httpx.Response(403, text="error code: 1010"))
    assert type(error) is PermissionDeniedError
    assert "error code: 1010" in str(error)


def test_body_code_decides_before_http_status(client, mock_api):
    error = raised(
        client,
        mock_api,
        "credits",
        httpx.Response(500, json={"code": 402, "msg": "no credits", "data": None}),
    )
    assert type(error) is InsufficientCreditsError and error.http_status == 500


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    "body",
    [
        {"code": 200, "msg": "success", "data": None},
        {"code": 200, "msg": "success"},
        {"code": 200, "msg": "success", "data": {"unexpected": True}},
        {"code": 200, "msg": "success", "data": "a string"},
    ],
    ids=["data null", "no data", "other keys", "data a string"],
)
def test_success_envelope_without_the_expected_data_is_an_api_error(client, mock_api, call, body):
    error = raised(client, mock_api, call, httpx.Response(200, json=body))
    assert isinstance(error, APIError)
    if call == "get_task" and body.get("data") is None:
        assert type(error) is NotFoundError  # record-info's answer for an unknown task
        assert error.task_id == "task-1"
    else:
        assert type(error) is APIError


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"code": 200, "msg": "success", "data": None}, "data (the remaining credits) is missing"),
        ({"code": 200, "msg": "success", "data": -1}, "data must not be negative, got -1"),
        ({"code": 200, "data": 3}, "KeyError: 'msg'"),
    ],
    ids=["data null", "negative", "no msg"],
)
def test_an_unreadable_credits_answer_names_what_is_wrong(make_client, mock_api, body, problem):
    error = raised(make_client(max_retries=0), mock_api, "credits", httpx.Response(200, json=body))
    assert type(error) is APIError
    assert str(error) == (
        f"GET /api/v1/chat/credit: the success envelope lacks the expected data ({problem})"
    )


def test_a_credits_error_names_the_call(make_client, mock_api):
    body = {"code": 500, "msg": "busy", "data": None}
    client = make_client(max_retries=0)
    error = raised(client, mock_api, "credits", httpx.Response(200, json=body))
    assert type(error) is ServerError
    assert str(error) == "get_credits: KIE answered code 500: busy [HTTP 200]"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<html></html>",
        b"not json",
        b"[1,2]",
        b"null",
        b'{"code": "200"}',
        b'{"code": true}',
        b"\xff\xfe",
    ],
)
def test_http_200_without_an_envelope_is_an_api_error(client, mock_api, content):
    error = raised(client, mock_api, "create", httpx.Response(200, content=content))
    assert type(error) is APIError


@pytest.mark.parametrize("status", [200, 299])
def test_a_2xx_without_an_envelope_says_so(client, mock_api, status):
    error = raised(client, mock_api, "credits", httpx.Response(status, content=b"ok"))
    assert (str(error), error.code, error.http_status) == (
        f"get_credits: HTTP {status} without a KIE envelope (ok)",
        status,
        status,
    )


def test_rate_limit_error_carries_retry_after(make_client, mock_api):
    client = make_client(max_retries=0)
    error = raised(
        client,
        mock_api,
        "credits",
        httpx.Response(
            429, headers={"Retry-After": "7"}, json={"code": 429, "msg": "slow down", "data": None}
        ),
    )
    assert isinstance(error, RateLimitError) and error.retry_after == 7.0


def test_errors_about_a_task_carry_its_id(client, mock_api):
    error = raised(
        client, mock_api, "get_task", httpx.Response(401, json={"code": 401, "msg": "bad key"})
    )
    assert error.task_id == "task-1" and "task-1" in str(error)


def test_an_oversized_answer_is_a_typed_error_about_its_task(make_client, mock_api):
    mock_api.get(RECORD_PATH).mock(return_value=httpx.Response(200, content=b" " * (3 << 20)))
    with pytest.raises(ResponseTooLargeError) as caught:
        make_client(max_retries=0).get_task("task-1")
    error = caught.value
    assert (error.code, error.http_status, error.task_id) == (200, 200, "task-1")
    assert str(error).startswith(
        "GET /api/v1/generate/record-info: the answer (HTTP 200) is larger"
    )


def test_a_failed_poll_and_an_unreadable_record_carry_the_task_id(make_client, mock_api):
    client = make_client(max_retries=0)
    mock_api.get(RECORD_PATH).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError) as caught:
        client.get_task("task-1")
    assert caught.value.task_id == "task-1"
    unreadable = {"code": 200, "msg": "success", "data": {"taskId": "task-1", "status": 5}}
    mock_api.get(RECORD_PATH).mock(return_value=httpx.Response(200, json=unreadable))
    with pytest.raises(APIError) as caught:
        client.get_task("task-1")
    error = caught.value
    assert type(error) is APIError
    assert (error.code, error.http_status, error.task_id) == (200, 200, "task-1")


@pytest.mark.parametrize("call", CALLS)
def test_a_body_code_other_than_200_is_an_error_even_201(make_client, mock_api, call):
    answer = httpx.Response(200, json={"code": 201, "msg": "created", "data": None})
    error = raised(make_client(max_retries=0), mock_api, call, answer)
    assert type(error) is APIError
    assert (error.code, error.msg, error.http_status) == (201, "created", 200)
    assert ": KIE answered code 201: created [HTTP 200]" in str(error)


# -- a redirect from KIE is an error naming where it pointed, never followed -------------------

ELSEWHERE = "https://elsewhere.example/api"


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("status", [300, 302, 399])
def test_a_redirect_is_an_error_naming_its_location(make_client, mock_api, call, status):
    answer = httpx.Response(status, headers={"Location": ELSEWHERE}, text="moved")
    error = raised(make_client(max_retries=0), mock_api, call, answer)
    assert type(error) is APIError
    assert (error.code, error.http_status) == (status, status)
    assert error.msg == f"a redirect to {ELSEWHERE}, not followed (moved)"
    assert f": KIE answered code {status}: {error.msg} [HTTP {status}]" in str(error)
    assert mock_api.calls.call_count == 1  # the Location was not requested


@pytest.mark.parametrize("call", CALLS)
def test_a_redirect_without_a_location_points_nowhere(make_client, mock_api, call):
    answer = httpx.Response(301, json={"code": 301, "msg": "gone"})
    error = raised(make_client(max_retries=0), mock_api, call, answer)
    assert type(error) is APIError
    assert (error.code, error.msg) == (301, "a redirect to nowhere, not followed (gone)")


def test_a_long_location_is_cut_to_200_characters(make_client, mock_api):
    location = ELSEWHERE + "/" + "a" * (300 - len(ELSEWHERE) - 1)
    answer = httpx.Response(307, headers={"Location": location}, content=b"")
    error = raised(make_client(max_retries=0), mock_api, "credits", answer)
    assert error.msg == (
        f"a redirect to {location[:200]}... (100 more characters), not followed (empty body)"
    )


@pytest.mark.parametrize(
    ("status", "cls", "msg"),
    [(400, InvalidRequestError, "nope"), (299, APIError, None)],
)
def test_no_status_outside_300_to_399_is_read_as_a_redirect(
    make_client, mock_api, status, cls, msg
):
    answer = httpx.Response(status, headers={"Location": ELSEWHERE}, text="nope")
    error = raised(make_client(max_retries=0), mock_api, "credits", answer)
    assert type(error) is cls
    assert error.msg == msg
    assert "redirect" not in str(error)


def test_a_redirect_about_a_task_carries_its_id(make_client, mock_api):
    answer = httpx.Response(302, headers={"Location": ELSEWHERE})
    error = raised(make_client(max_retries=0), mock_api, "get_task", answer)
    assert (type(error), error.task_id) == (APIError, "task-1")


# -- errors cross process boundaries (process pools, task queues) --------------------------------


def _error_classes() -> list[type[KieError]]:
    """Every class of the tree: those `_errors` exports and any subclass defined elsewhere."""
    found: dict[type[KieError], None] = {}
    pending = [getattr(_errors, name) for name in _errors.__all__]
    while pending:
        cls = pending.pop()
        if isinstance(cls, type) and issubclass(cls, KieError) and cls not in found:
            found[cls] = None
            pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__qualname__)


def _filled(cls: type[KieError]) -> KieError:
    """An instance with every field set to a distinctive value taken from its signature."""
    args, kwargs = [], {}
    for parameter in list(inspect.signature(cls).parameters.values()):
        annotation = str(parameter.annotation)
        value: object = f"{parameter.name} of {cls.__name__}"
        if "bool" in annotation:
            value = True
        elif "int" in annotation:
            value = 418
        elif "float" in annotation:
            value = 2.5
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    return cls(*args, **kwargs)


def _same(copy_: BaseException, original: KieError) -> None:
    assert type(copy_) is type(original)
    assert (copy_.args, str(copy_), repr(copy_)) == (original.args, str(original), repr(original))
    assert vars(copy_) == vars(original)
    # every field set from the signature is there, not only the message
    assert all(value is not None for value in vars(original).values())


ERROR_CLASSES = _error_classes()


def test_the_tree_is_found_whole():
    assert len(ERROR_CLASSES) >= len(_errors.__all__)
    assert {TaskFailedError, WaitTimeoutError, APITimeoutError} <= set(ERROR_CLASSES)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_survives_pickle_and_deepcopy(cls):
    original = _filled(cls)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        _same(pickle.loads(pickle.dumps(original, protocol)), original)  # noqa: S301 - our own bytes
    _same(copy.deepcopy(original), original)
    _same(copy.copy(original), original)


def _raise(error: BaseException) -> None:
    raise error


def test_every_error_crosses_a_process_pool():
    originals = [_filled(cls) for cls in ERROR_CLASSES]
    with ProcessPoolExecutor(max_workers=1) as pool:
        futures = [pool.submit(_raise, error) for error in originals]
        for future, original in zip(futures, originals, strict=True):
            received = future.exception(timeout=60)
            assert received is not None
            _same(received, original)
