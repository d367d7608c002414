"""What the core asks of a rate limiter: the protocols a limiter implements (`_ratelimit`'s local
one, `redis_backend.RedisRateLimit`, or the user's own). Interfaces only, no code: apart from
`_ratelimit`, so that mutating the limiter (`make mutation`) leaves the runtime-checked
protocols as they are (a mutated method would add members every limiter then lacks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._ratelimit import Slot

Kind = Literal["create", "poll"]  # "poll": every request to api.kie.ai that creates nothing


class Limiter(Protocol):
    """What the core asks of a rate limiter (`_ratelimit.RateLimiter`, or a shared one such as
    `kie_instrumental.redis_backend.RedisRateLimit`)."""

    def reserve(self, kind: Kind = "poll") -> float:
        """Take a permit for one request of `kind`; return the seconds to wait before sending."""
        ...

    def back_off(self, seconds: float) -> None:
        """KIE answered 429: send nothing for `seconds`."""
        ...


@runtime_checkable
class SlotLimiter(Protocol):
    def acquire(self, kind: Kind = "poll") -> Slot | float:
        """A slot to send now, or the seconds to wait before asking again (holding nothing)."""
        ...

    def finished(self, slot: Slot) -> None:
        """The answer arrived, or the request was abandoned in flight: its period starts now."""
        ...

    def back_off(self, seconds: float) -> None: ...


@runtime_checkable
class AsyncSlotLimiter(Protocol):
    """The awaitable twins of SlotLimiter's methods, for a limiter that does I/O."""

    async def acquire_async(self, kind: Kind = "poll") -> Slot | float: ...

    async def finished_async(self, slot: Slot) -> None: ...

    async def back_off_async(self, seconds: float) -> None: ...
