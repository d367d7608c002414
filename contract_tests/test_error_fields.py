"""Each error's documented fields as a user reads them: the defaults of every optional field,
the message with and without a task id, the repr, and the webhook error's reason."""

from __future__ import annotations

from typing import Any

import pytest
from kie_instrumental import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    InsufficientCreditsError,
    InvalidRequestError,
    KieError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    TaskFailedError,
    WaitTimeoutError,
    WebhookVerificationError,
)

API_DEFAULTS = {"code": None, "msg": None, "http_status": None, "task_id": None}
# class: (required keyword arguments, every other field with its documented default)
MINIMAL: dict[type[KieError], tuple[dict[str, Any], dict[str, Any]]] = {
    KieError: ({}, {"task_id": None}),
    ConfigurationError: ({}, {"task_id": None}),
    ClientClosedError: ({}, {"task_id": None}),
    APIError: ({}, API_DEFAULTS),
    InvalidRequestError: ({}, {**API_DEFAULTS, "field": None, "rule": None, "violations": ()}),
    AuthenticationError: ({}, API_DEFAULTS),
    InsufficientCreditsError: ({}, API_DEFAULTS),
    PermissionDeniedError: ({}, API_DEFAULTS),
    NotFoundError: ({}, API_DEFAULTS),
    RateLimitError: ({}, {**API_DEFAULTS, "retry_after": None}),
    ServiceUnavailableError: ({}, API_DEFAULTS),
    ServerError: ({}, API_DEFAULTS),
    APIConnectionError: ({"request_may_have_arrived": False}, {"task_id": None}),
    APITimeoutError: ({"request_may_have_arrived": True}, {"task_id": None}),
    TaskFailedError: (
        {"task_id": "t-1", "status": "GENERATE_AUDIO_FAILED"},
        {"error_code": None, "error_message": None},
    ),
    WaitTimeoutError: ({"task_id": "t-1", "last_status": None}, {}),
}


@pytest.mark.parametrize("cls", list(MINIMAL), ids=lambda cls: cls.__name__)
def test_optional_fields_default_as_documented(cls: type[KieError]) -> None:
    required, defaults = MINIMAL[cls]
    error = cls("boom", **required)
    assert error.message == "boom"
    assert error.args == ("boom",)
    for name, value in {**required, **defaults}.items():
        assert getattr(error, name) == value, name
        assert type(getattr(error, name)) is type(value), name


def test_every_field_given_is_kept() -> None:
    violations = ({"field": "title", "argument": "title", "rule": "maxLength", "message": "m"},)
    error = InvalidRequestError(
        "bad", field="title", rule="maxLength", violations=violations, code=422, msg="m",
        http_status=200, task_id="t-1",
    )  # fmt: skip
    assert (error.field, error.rule, error.violations) == ("title", "maxLength", violations)
    assert (error.code, error.msg, error.http_status, error.task_id) == (422, "m", 200, "t-1")
    limited = RateLimitError("slow", retry_after=2.5, code=429, msg="m", http_status=429)
    assert (limited.retry_after, limited.code, limited.msg, limited.http_status) == (
        2.5, 429, "m", 429,
    )  # fmt: skip
    failed = TaskFailedError(
        "failed", task_id="t-1", status="CREATE_TASK_FAILED", error_code=531, error_message="x"
    )
    assert (failed.task_id, failed.status, failed.error_code, failed.error_message) == (
        "t-1", "CREATE_TASK_FAILED", 531, "x",
    )  # fmt: skip
    late = WaitTimeoutError("late", task_id="t-1", last_status="PENDING")
    assert (late.task_id, late.last_status) == ("t-1", "PENDING")
    cut = APIConnectionError("cut", request_may_have_arrived=True, task_id="t-1")
    assert (cut.request_may_have_arrived, cut.task_id) == (True, "t-1")


def test_the_message_names_the_task_id_once() -> None:
    assert str(KieError("boom")) == "boom"
    assert str(KieError("boom", task_id="t-1")) == "boom (task_id=t-1)"
    assert str(KieError("task t-1 failed", task_id="t-1")) == "task t-1 failed"
    assert repr(KieError("boom", task_id="t-1")) == "KieError('boom (task_id=t-1)')"
    assert repr(NotFoundError("gone")) == "NotFoundError('gone')"


def test_a_webhook_rejection_keeps_its_reason() -> None:
    error = WebhookVerificationError("signature does not match", task_id="t-1")
    assert error.reason == "signature does not match"
    assert error.message == "webhook rejected: signature does not match"
    assert str(error) == "webhook rejected: signature does not match (task_id=t-1)"
    assert WebhookVerificationError("x").task_id is None
