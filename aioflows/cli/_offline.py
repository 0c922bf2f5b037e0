"""The token provider of commands that send no request, such as ``sync --dry-run``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
from globus_sdk.scopes import Scope

from .._errors import LoginRequired
from ..auth import ScopeRegistry

__all__ = ["NoRequestTokens"]


@attrs.define
class NoRequestTokens:
    """Raise LoginRequired for every token lookup, so that no request is sent.

    Commands that only read the state file use it in place of credentials.
    The Session gets a token before each request, so a request that such a
    command sends by mistake fails with a clear error instead of going out.

    Args:
        command: The command line that needs no token, for the error message.
    """

    command: str
    _scopes: ScopeRegistry = attrs.field(factory=ScopeRegistry, init=False, repr=False)

    async def get_token(self, resource_server: str) -> str:
        """Raise LoginRequired: this command must not send requests.

        Raises:
            LoginRequired: Always.
        """
        raise LoginRequired(
            f"'{self.command}' sends no request and has no access token, yet it "
            f"tried to send one to resource server {resource_server!r}. This is a "
            "bug in aioflows; please report it. Set AIOFLOWS_ACCESS_TOKEN or add "
            "--emulator to go on.",
            resource_server=resource_server,
        )

    async def token_rejected(self, resource_server: str) -> bool:
        """Return False: there is no token to replace."""
        return False

    def require_scopes(self, resource_server: str, scopes: Iterable[Scope]) -> None:
        """Record scopes that tokens for *resource_server* must cover."""
        self._scopes.add(resource_server, scopes)

    def required_scopes(self) -> Mapping[str, tuple[Scope, ...]]:
        """Return every scope recorded so far, by resource server."""
        return self._scopes.as_mapping()
