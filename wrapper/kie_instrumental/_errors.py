"""The exception tree. Every failure a user can meet is one of these.

KieError                        task_id: str | None (set whenever a task id is known)
 ├── ConfigurationError         a bad argument of the client (named): before any request
 │    └── ClientClosedError     a call on a closed client
 ├── APIError                   code (body code, else HTTP status), msg, http_status
 │    ├── InvalidRequestError   400, 413, 422, 451; client-side validation (field, rule,
 │    │                         violations: every broken rule at once)
 │    │    └── batch.ManifestError  bad manifest rows (problems: row, column, message)
 │    ├── AuthenticationError   401
 │    ├── InsufficientCreditsError  402, 433
 │    ├── PermissionDeniedError 403 (e.g. the CDN's "error code: 1010")
 │    ├── NotFoundError         404
 │    ├── RateLimitError        429, 430 (retry_after)
 │    ├── ServiceUnavailableError   455, HTTP 503
 │    ├── ServerError           500, 501, 505, 531, 408, other 5xx
 │    ├── ResponseTooLargeError an answer far above any real one; reading stopped
 │    └── ResultUnreadableError a task succeeded (and is paid for) but its result cannot be
 │                              read (snippet: a bounded excerpt of what KIE sent)
 ├── APIConnectionError         the request failed in transit (request_may_have_arrived)
 │    └── APITimeoutError       read, write or pool timeout
 ├── TaskFailedError            the task ended in failure (status, error_code, error_message)
 ├── WaitTimeoutError          wait() passed its deadline (last_status)
 ├── WebhookVerificationError   a callback failed verification (reason)
 └── webhooks.DedupStoreFull    the in-memory callback store holds only live keys (503)

Every error survives pickle and copy.deepcopy with all its fields (process pools and task
queues send exceptions between processes): `KieError.__reduce__` rebuilds an error from its
state without calling `__init__`, so subclasses with keyword-only fields need nothing more.

Errors never hold the API key or the webhook secret: they keep plain strings and numbers, and
the clients raise them outside `except` blocks so no httpx exception (whose request carries the
Authorization header) hangs on `__cause__` or `__context__`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ClientClosedError",
    "ConfigurationError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "KieError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ResultUnreadableError",
    "ServerError",
    "ServiceUnavailableError",
    "TaskFailedError",
    "WaitTimeoutError",
    "WebhookVerificationError",
]

TASK_MAY_EXIST = (
    "The task may have been created (KIE has no idempotency key, so it was not retried): "
    "check your callback or the task list before submitting again."
)


class KieError(Exception):
    """Base of every error this package raises."""

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.task_id = task_id

    def __str__(self) -> str:
        if self.task_id is not None and self.task_id not in self.message:
            return f"{self.message} (task_id={self.task_id})"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The default calls cls(*args), which breaks every class with keyword-only fields.
        return (_rebuild, (type(self), self.args, dict(vars(self))))


def _rebuild(cls: type[KieError], args: tuple[Any, ...], state: dict[str, Any]) -> KieError:
    error = cls.__new__(cls, *args)
    error.args = args
    vars(error).update(state)
    return error


class ConfigurationError(KieError):
    """The client cannot be used as configured (for example, no API key)."""


class ClientClosedError(ConfigurationError):
    """The client (or the http_client given to it) was closed; nothing was sent."""


class APIError(KieError):
    """KIE answered, and the answer is an error (or not the answer expected)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.code = code
        self.msg = msg
        self.http_status = http_status


class InvalidRequestError(APIError):
    """The request breaks a rule: found client-side (field, rule set) or by KIE.

    Client-side, every broken rule of the request is reported at once: `violations` holds one
    dict per rule (field: wire name, argument: keyword, rule: schema keyword, message); `field`
    and `rule` are the first one's.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        violations: tuple[dict[str, str], ...] = (),
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, msg=msg, http_status=http_status, task_id=task_id)
        self.field = field
        self.rule = rule
        self.violations = violations


class AuthenticationError(APIError):
    """The API key is missing or invalid (401)."""


class InsufficientCreditsError(APIError):
    """The account's credits, or the sub-key's quota, are spent (402, 433)."""


class PermissionDeniedError(APIError):
    """Refused (403), for example by the CDN in front of KIE."""


class NotFoundError(APIError):
    """Not found (404)."""


class RateLimitError(APIError):
    """Too many requests (429, 430). `retry_after` is the server's hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, msg=msg, http_status=http_status, task_id=task_id)
        self.retry_after = retry_after


class ServiceUnavailableError(APIError):
    """KIE is under maintenance (455) or unavailable (HTTP 503)."""


class ServerError(APIError):
    """KIE failed (500, 501, 505, 531, 408, other 5xx)."""


class ResponseTooLargeError(APIError):
    """An answer larger than any real one (a misbehaving server or proxy): reading stopped at
    the limit. `code` and `http_status` are the answer's HTTP status."""


class ResultUnreadableError(APIError):
    """The task succeeded, so it is paid for, but its result could not be read.

    `task_id` is always set: the task's result may still be fetched (KIE keeps it about 14
    days) once the client understands its shape. `snippet` is at most a few hundred
    characters of what KIE sent.
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        snippet: str,
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, msg=msg, http_status=http_status, task_id=task_id)
        self.snippet = snippet


class APIConnectionError(KieError):
    """The request failed in transit.

    `request_may_have_arrived` is False only when the connection was never made, which is the
    one case where resending a task-creating request cannot charge twice.
    """

    def __init__(
        self, message: str, *, request_may_have_arrived: bool, task_id: str | None = None
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.request_may_have_arrived = request_may_have_arrived


class APITimeoutError(APIConnectionError):
    """No answer within the timeout (read, write or pool)."""


class TaskFailedError(KieError):
    """The task reached a failed terminal status."""

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        status: str,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.status = status
        self.error_code = error_code
        self.error_message = error_message


class WaitTimeoutError(KieError):
    """wait() reached its deadline before the task finished."""

    def __init__(self, message: str, *, task_id: str, last_status: str | None) -> None:
        super().__init__(message, task_id=task_id)
        self.last_status = last_status


class WebhookVerificationError(KieError):
    """A callback failed verification; `reason` says which rule it broke."""

    def __init__(self, reason: str, *, task_id: str | None = None) -> None:
        super().__init__(f"webhook rejected: {reason}", task_id=task_id)
        self.reason = reason
