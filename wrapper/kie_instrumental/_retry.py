"""When to retry, and how long to wait: design.md's table in one function.

The create POST costs credits and KIE has no idempotency key, so it is retried only when the
task certainly was not created: the connection was never made, or KIE rejected the request
(429/430 rate limit, 455 maintenance). A read timeout or a 5xx may follow a created task.
"""

from __future__ import annotations

import random

import attrs

from ._errors import (
    APIConnectionError,
    KieError,
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


def should_retry(error: KieError, *, creates_task: bool) -> bool:
    if isinstance(error, APIConnectionError):
        return not (creates_task and error.request_may_have_arrived)
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, ServiceUnavailableError):
        return not creates_task or error.code == 455
    if isinstance(error, ServerError):
        return not creates_task
    return False


def may_have_created_task(error: KieError) -> bool:
    """True when a create request failed in a way that does not rule out a created task."""
    if isinstance(error, APIConnectionError):
        return error.request_may_have_arrived
    return isinstance(error, ServerError | ServiceUnavailableError) and error.code != 455
