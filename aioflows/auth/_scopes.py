"""The registry of scopes that managers ask token providers to cover."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
from globus_sdk.scopes import Scope

__all__ = ["ScopeRegistry"]


@attrs.define
class ScopeRegistry:
    """Scopes by resource server, in the order they were first recorded.

    Token providers hold one of these so that a later login can ask for
    every scope that the program's managers need.
    """

    _scopes: dict[str, dict[str, Scope]] = attrs.field(factory=dict, repr=False)

    def add(self, resource_server: str, scopes: Iterable[Scope]) -> None:
        """Record *scopes* for *resource_server*, ignoring ones already known."""
        known = self._scopes.setdefault(resource_server, {})
        for scope in scopes:
            if not isinstance(scope, Scope):
                raise TypeError(
                    f"scopes for {resource_server!r} must be globus_sdk Scope "
                    f"objects, got {type(scope).__name__}: {scope!r}"
                )
            known.setdefault(str(scope), scope)

    def for_resource_server(self, resource_server: str) -> tuple[Scope, ...]:
        """Return the scopes recorded for one resource server."""
        return tuple(self._scopes.get(resource_server, {}).values())

    def as_mapping(self) -> Mapping[str, tuple[Scope, ...]]:
        """Return every recorded scope, by resource server."""
        return {server: tuple(found.values()) for server, found in self._scopes.items()}
