"""kie-instrumental: a safe, typed client for KIE.AI's Add Instrumental to Music API."""

from ._version import __version__

__all__ = ["__version__"]
