"""A token provider that serves tokens it was given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
from globus_sdk.scopes import Scope

from .._errors import LoginRequired
from ._scopes import ScopeRegistry

__all__ = ["StaticTokenProvider"]


@attrs.define(init=False)
class StaticTokenProvider:
    """Serve fixed access tokens, looked up by resource server.

    Useful for scripts holding tokens from elsewhere, for tests, and for the
    emulator's development token. It cannot refresh a rejected token.

    Args:
        tokens: Access tokens keyed by resource server.
        default: The token for any resource server missing from *tokens*;
            None means such a lookup raises LoginRequired.
    """

    _tokens: dict[str, str] = attrs.field(repr=False)
    _default: str | None = attrs.field(repr=False)
    _scopes: ScopeRegistry = attrs.field(repr=False)

    def __init__(
        self, tokens: Mapping[str, str] | None = None, default: str | None = None
    ) -> None:
        tokens = dict(tokens or {})
        for resource_server, token in tokens.items():
            if not isinstance(token, str) or not token:
                raise ValueError(
                    f"the token for {resource_server!r} must be a non-empty string"
                )
        if default is not None and (not isinstance(default, str) or not default):
            raise ValueError("default must be a non-empty string or None")

        self.__attrs_init__(tokens, default, ScopeRegistry())

    def __repr__(self) -> str:
        servers = ", ".join(sorted(self._tokens)) or "none"
        fallback = "yes" if self._default is not None else "no"
        return f"StaticTokenProvider(resource_servers=[{servers}], default={fallback})"

    async def get_token(self, resource_server: str) -> str:
        """Return the token for *resource_server*, else the default.

        Raises:
            LoginRequired: Neither a token for *resource_server* nor a
                default was given.
        """
        token = self._tokens.get(resource_server, self._default)
        if token is None:
            scopes = [
                str(scope)
                for scope in self._scopes.for_resource_server(resource_server)
            ]
            raise LoginRequired(
                f"No access token for resource server {resource_server!r}. "
                "Pass one to StaticTokenProvider (tokens={...} or default=...), "
                "or log in with a provider that can fetch it.",
                required_scopes=scopes,
                resource_server=resource_server,
            )
        return token

    async def token_rejected(self, resource_server: str) -> bool:
        """Return False: a fixed token cannot be replaced."""
        return False

    def require_scopes(self, resource_server: str, scopes: Iterable[Scope]) -> None:
        """Record scopes that tokens for *resource_server* must cover."""
        self._scopes.add(resource_server, scopes)

    def required_scopes(self) -> Mapping[str, tuple[Scope, ...]]:
        """Return every scope recorded so far, by resource server."""
        return self._scopes.as_mapping()
