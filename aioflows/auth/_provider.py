"""The protocol every token provider implements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from globus_sdk.scopes import Scope

__all__ = ["TokenProvider"]


@runtime_checkable
class TokenProvider(Protocol):
    """A source of access tokens, one per resource server.

    The Session requests a token before every request. Resource servers are
    ``"flows.globus.org"`` for the Flows service, a flow's own id for running
    that flow, ``"groups.api.globus.org"`` and ``"auth.globus.org"``.
    """

    async def get_token(self, resource_server: str) -> str:
        """Return an access token for *resource_server*.

        Raises:
            LoginRequired: No token for that resource server is available.
        """
        ...

    async def token_rejected(self, resource_server: str) -> bool:
        """Learn that the service rejected the current token with HTTP 401.

        Returns:
            True when a new token may now be available, so the Session
            sends the request once more; False to give up.
        """
        ...

    def require_scopes(self, resource_server: str, scopes: Iterable[Scope]) -> None:
        """Record scopes that tokens for *resource_server* must cover."""
        ...

    def required_scopes(self) -> Mapping[str, tuple[Scope, ...]]:
        """Return every scope recorded so far, by resource server."""
        ...
