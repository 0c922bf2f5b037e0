"""Access and refresh tokens that the emulated Globus Auth issues and checks.

Each issued access token belongs to one resource server, as in Globus Auth:
``flows.globus.org`` for the Flows service, the flow id for running one flow,
``groups.api.globus.org`` for Groups and ``auth.globus.org`` for Auth. A static
development token is accepted for every resource server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
from globus_sdk.scopes import ScopeParser

from ._ids import IdSource

__all__ = [
    "ANY_RESOURCE_SERVER",
    "AUTH_RESOURCE_SERVER",
    "FLOWS_RESOURCE_SERVER",
    "GROUPS_RESOURCE_SERVER",
    "AccessGrant",
    "RefreshGrant",
    "TokenRegistry",
    "check_static_token",
    "flow_scope",
    "resource_server_of",
]

FLOWS_RESOURCE_SERVER = "flows.globus.org"
GROUPS_RESOURCE_SERVER = "groups.api.globus.org"
AUTH_RESOURCE_SERVER = "auth.globus.org"
ANY_RESOURCE_SERVER = "*"

# The Flows service's client id, which its scopes carry in their URLs.
_FLOWS_CLIENT_ID = "eec9b274-0c81-4334-bdc2-54e90e689b9a"
_SCOPE_URL_PREFIX = "https://auth.globus.org/scopes/"
_SCOPE_URN_PREFIX = "urn:globus:auth:scope:"
_OPENID_SCOPES = frozenset({"openid", "profile", "email"})


def check_static_token(token: str, name: str = "static_token") -> None:
    """Check that a static development token can be sent as a bearer token.

    Args:
        token: The token.
        name: The argument or option that supplied it, for the message.

    Raises:
        ValueError: If the token is empty or has a character outside visible
            ASCII (RFC 5234 VCHAR): an empty token would let a bare
            ``Authorization: Bearer`` header in, and a space, control
            character or non-ASCII letter does not survive the header.
    """
    if not token:
        raise ValueError(
            f"{name} must not be empty; pass a token of visible ASCII characters, "
            "or none to draw a random one"
        )
    if not all("!" <= character <= "~" for character in token):
        raise ValueError(
            f"{name} must contain only visible ASCII characters, without spaces "
            "or control characters, because it is sent in an Authorization header"
        )


def flow_scope(flow_id: str) -> str:
    """Return the user scope that running a flow needs.

    Args:
        flow_id: The flow id.

    Returns:
        The scope string, such as
        ``https://auth.globus.org/scopes/<id>/flow_<id with underscores>_user``.
    """
    return f"{_SCOPE_URL_PREFIX}{flow_id}/flow_{flow_id.replace('-', '_')}_user"


def resource_server_of(scope: str) -> str:
    """Return the resource server that a scope string belongs to.

    Args:
        scope: One scope string without dependent scopes.

    Returns:
        The resource server name, or the client id in a scope URL for
        scopes of other clients such as flows.
    """
    if scope in _OPENID_SCOPES:
        return AUTH_RESOURCE_SERVER

    if scope.startswith(_SCOPE_URN_PREFIX):
        return scope[len(_SCOPE_URN_PREFIX) :].split(":", 1)[0]

    if scope.startswith(_SCOPE_URL_PREFIX):
        client_id = scope[len(_SCOPE_URL_PREFIX) :].split("/", 1)[0]
        if client_id == _FLOWS_CLIENT_ID:
            return FLOWS_RESOURCE_SERVER
        return client_id

    return scope


@attrs.frozen
class AccessGrant:
    """The grant behind an access token.

    Attributes:
        identity_id: The identity the token acts as.
        resource_server: The one resource server that accepts it, or ``"*"``
            for the static development token.
        scope: The space-separated scopes granted.
        expires_at: Expiry time in seconds since the Unix epoch.
        client_id: The client it was issued to, or None.
    """

    identity_id: str
    resource_server: str
    scope: str
    expires_at: float
    client_id: str | None = None


@attrs.frozen
class RefreshGrant:
    """The grant behind a refresh token: new access tokens for one resource server."""

    identity_id: str
    resource_server: str
    scope: str
    client_id: str | None = None


@attrs.define
class TokenRegistry:
    """Issued tokens and the static development tokens.

    Attributes:
        ids: The generator of new token strings.
        lifetime: Lifetime of new access tokens in seconds.
        rotate_refresh_tokens: When true, a refresh replaces the refresh token
            and the old one stops working.
        static: Static tokens mapped to the identity id they act as.
        access: Issued access tokens.
        refresh: Issued refresh tokens.
    """

    ids: IdSource
    lifetime: int = 172_800
    rotate_refresh_tokens: bool = False
    static: dict[str, str] = attrs.field(factory=dict, repr=False)
    access: dict[str, AccessGrant] = attrs.field(factory=dict, repr=False)
    refresh: dict[str, RefreshGrant] = attrs.field(factory=dict, repr=False)

    def lookup(self, token: str, now: float) -> AccessGrant | None:
        """Return the grant of a live access token.

        Args:
            token: The bearer token.
            now: The current time in seconds since the Unix epoch.

        Returns:
            The grant, or None when the token is unknown, revoked or expired.
        """
        identity_id = self.static.get(token)
        if identity_id is not None:
            return AccessGrant(identity_id, ANY_RESOURCE_SERVER, "", float("inf"))

        grant = self.access.get(token)
        if grant is None or grant.expires_at <= now:
            return None
        return grant

    def issue(
        self,
        identity_id: str,
        scopes: Iterable[str],
        now: float,
        *,
        client_id: str | None = None,
        with_refresh: bool = False,
    ) -> dict[str, Any]:
        """Issue one access token per resource server for a list of scopes.

        Args:
            identity_id: The identity the tokens act as.
            scopes: Scope strings; dependent scopes in brackets are ignored.
            now: The current time in seconds since the Unix epoch.
            client_id: The client receiving the tokens.
            with_refresh: Whether each token response includes a refresh token.

        Returns:
            A token response: the first resource server's token at the top
            level and the rest in ``other_tokens``.

        Raises:
            ValueError: If no scope is given.
        """
        by_server = _group_by_resource_server(scopes)
        if not by_server:
            raise ValueError("no scope requested")

        responses = [
            self._issue_one(identity_id, server, " ".join(names), now, client_id)
            for server, names in by_server.items()
        ]
        if with_refresh:
            for response in responses:
                response["refresh_token"] = self._new_refresh_token(
                    identity_id, response, client_id
                )

        first, *others = responses
        first["other_tokens"] = others
        return first

    def use_refresh_token(self, refresh_token: str, now: float) -> dict[str, Any]:
        """Issue a new access token from a refresh token.

        Args:
            refresh_token: A refresh token this registry issued.
            now: The current time in seconds since the Unix epoch.

        Returns:
            A token response for the refresh token's resource server.

        Raises:
            KeyError: If the refresh token is unknown or was revoked.
        """
        grant = self.refresh[refresh_token]
        response = self._issue_one(
            grant.identity_id,
            grant.resource_server,
            grant.scope,
            now,
            grant.client_id,
        )
        if self.rotate_refresh_tokens:
            del self.refresh[refresh_token]
            refresh_token = self._new_refresh_token(
                grant.identity_id, response, grant.client_id
            )

        response["refresh_token"] = refresh_token
        response["other_tokens"] = []
        return response

    def revoke(self, token: str) -> None:
        """Forget an access or refresh token; an unknown token is ignored."""
        self.access.pop(token, None)
        self.refresh.pop(token, None)

    def _issue_one(
        self,
        identity_id: str,
        resource_server: str,
        scope: str,
        now: float,
        client_id: str | None,
    ) -> dict[str, Any]:
        token = self.ids.token()
        self.access[token] = AccessGrant(
            identity_id, resource_server, scope, now + self.lifetime, client_id
        )
        return {
            "access_token": token,
            "scope": scope,
            "expires_in": self.lifetime,
            "token_type": "Bearer",
            "resource_server": resource_server,
        }

    def _new_refresh_token(
        self, identity_id: str, response: dict[str, Any], client_id: str | None
    ) -> str:
        token = self.ids.token()
        self.refresh[token] = RefreshGrant(
            identity_id, response["resource_server"], response["scope"], client_id
        )
        return token


def _group_by_resource_server(scopes: Iterable[str]) -> dict[str, list[str]]:
    by_server: dict[str, list[str]] = {}
    for text in scopes:
        for scope in ScopeParser.parse(text):
            name = scope.scope_string
            by_server.setdefault(resource_server_of(name), []).append(name)
    return by_server
