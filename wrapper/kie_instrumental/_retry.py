"""When to retry, and how long to wait: design.md's table in one function.

The create POST costs credits and KIE has no idempotency key, so it is retried only when the
task certainly was not created: the connection was never made, or KIE's body code rejected the
request (429/430 rate limit, 455 maintenance), whatever the HTTP status. A read timeout, a 5xx
without such a code, a redirect or an unreadable answer may follow a created task.
"""

from __future__ import annotations

import random

import attrs

from ._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    KieError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)
from ._polling import MIN_INTERVAL


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter, capped in attempts and in total waiting time."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_total_wait: float = 30.0
    jitter: float = 0.25

    min_delay: float = MIN_INTERVAL

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds before retry number `retry` (1-based); a server's Retry-After wins, but
        never below 1/3 s (KIE allows 3 requests/s per task)."""
        if retry_after is not None:
            return max(self.min_delay, retry_after)
        base: float = min(self.max_delay, self.initial_delay * 2 ** (retry - 1))
        return max(self.min_delay, base * (1 + self.jitter * (2 * rng.random() - 1)))


# A create answered with one of these was refused before anything was made.
_REFUSALS = (
    InvalidRequestError,
    AuthenticationError,
    InsufficientCreditsError,
    PermissionDeniedError,
    NotFoundError,
    RateLimitError,
)


def _refused(error: APIError) -> bool:
    """KIE's plain refusal: nothing was made. The body code decides first (a 429 or 455 body
    under an HTTP 500 or 503 is still KIE's refusal); a redirect never is one (a 303 says the
    POST was processed; the others are not KIE's answers)."""
    if error.http_status is not None and 300 <= error.http_status <= 399:
        return False
    if isinstance(error, ServiceUnavailableError):
        return error.code == 455  # maintenance: refused; a bare HTTP 503 proves nothing
    return isinstance(error, _REFUSALS)


def should_retry(error: KieError, *, creates_task: bool) -> bool:
    if isinstance(error, APIConnectionError):
        return not (creates_task and error.request_may_have_arrived)
    if not isinstance(error, APIError):
        return False
    if creates_task:
        # Resent only when KIE plainly refused it: a rate limit or maintenance.
        return _refused(error) and isinstance(error, RateLimitError | ServiceUnavailableError)
    return isinstance(error, RateLimitError | ServiceUnavailableError | ServerError)


def may_have_created_task(error: KieError) -> bool:
    """True when a create request failed in a way that does not rule out a created task:
    anything but a connection never made or KIE's refusal (so: an unreadable answer, a
    redirect, a 5xx without a refusing body code, an answer too large to read)."""
    if isinstance(error, APIConnectionError):
        return error.request_may_have_arrived
    return isinstance(error, APIError) and not _refused(error)
