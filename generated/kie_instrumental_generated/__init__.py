"""A client library for accessing KIE.AI Add Instrumental to Music"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
