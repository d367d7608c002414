"""Test helpers for this package's users: a fake KIE server and a fake clock.

    from kie_instrumental.testing import FakeKie, FakeClock

FakeKie needs the `fake` extra (pip install 'kie-instrumental[fake]'); it is imported only
when used, so FakeClock works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._clock import FakeClock

if TYPE_CHECKING:
    from ._fake import FakeKie

__all__ = ["FakeClock", "FakeKie"]


def __getattr__(name: str) -> Any:
    if name == "FakeKie":
        from ._fake import FakeKie

        return FakeKie
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
