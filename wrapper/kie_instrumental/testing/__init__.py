"""Test helpers for this package's users: a fake KIE server, a fake clock, signed callbacks and
a loopback server for any ASGI app.

    from kie_instrumental.testing import FakeClock, FakeKie, serve_app, signed_callback

FakeKie and serve_app need the `fake` extra (pip install 'kie-instrumental[fake]'); they are
imported only when used, so FakeClock and signed_callback work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._clock import FakeClock

if TYPE_CHECKING:
    from ._fake import FakeKie
    from ._server import serve_app
    from ._signing import SignedCallback, signed_callback

__all__ = ["FakeClock", "FakeKie", "SignedCallback", "serve_app", "signed_callback"]


def __getattr__(name: str) -> Any:
    if name == "FakeKie":
        from ._fake import FakeKie

        return FakeKie
    if name == "serve_app":
        from ._server import serve_app

        return serve_app
    if name in ("SignedCallback", "signed_callback"):
        from . import _signing

        return getattr(_signing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
