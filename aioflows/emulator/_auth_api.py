"""The emulated Globus Auth token endpoints (``/v2/oauth2/token...``).

Errors follow OAuth 2.0 (RFC 6749, section 5.2): a 400 or 401 with
``{"error": ..., "error_description": ...}``.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs

from ._http import EmulatorRequest, EmulatorResponse, ServiceError, json_response

if TYPE_CHECKING:
    from ._context import ServiceContext

__all__ = ["AuthService"]


def _oauth_error(status: int, error: str, description: str) -> ServiceError:
    document = {"error": error, "error_description": description}
    return ServiceError(json_response(status, document))


@attrs.define
class AuthService:
    """Request handlers for the token, revoke and introspect endpoints."""

    context: ServiceContext

    def token(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``POST /v2/oauth2/token`` for the two supported grants.

        ``client_credentials`` needs a client id and secret (any pair is
        accepted) and issues tokens acting as the client's identity.
        ``refresh_token`` needs a refresh token that the emulator issued.
        """
        form = _form(request)
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            return self._client_credentials(request, form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        raise _oauth_error(
            400,
            "unsupported_grant_type",
            f"grant_type {grant_type!r} is not supported by the emulator; "
            "use client_credentials or refresh_token",
        )

    def revoke(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``POST /v2/oauth2/token/revoke``; unknown tokens succeed too."""
        token = _form(request).get("token")
        if not token:
            raise _oauth_error(
                400, "invalid_request", "The form field 'token' is missing"
            )
        self.context.tokens.revoke(token)
        return json_response(200, {"active": False})

    def introspect(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``POST /v2/oauth2/token/introspect``; needs client credentials."""
        form = _form(request)
        client_id = _client_credentials(request, form)[0]
        token = form.get("token") or ""
        grant = self.context.tokens.lookup(token, self.context.now())
        if grant is None:
            return json_response(200, {"active": False})

        identity = self.context.identities.get(grant.identity_id)
        issued = self.context.now()
        document: dict[str, Any] = {
            "active": True,
            "token_type": "Bearer",
            "scope": grant.scope,
            "client_id": grant.client_id or client_id,
            "username": identity.username,
            "name": identity.name,
            "email": identity.email,
            "exp": int(min(grant.expires_at, issued + 10 * 365 * 86400)),
            "iat": int(issued),
            "nbf": int(issued),
            "sub": identity.id,
            "aud": [grant.resource_server, grant.client_id or client_id],
            "iss": "https://auth.globus.org",
        }
        return json_response(200, document)

    def _client_credentials(
        self, request: EmulatorRequest, form: dict[str, str]
    ) -> EmulatorResponse:
        client_id, _ = _client_credentials(request, form)
        identity = self.context.identities.client(client_id)
        return self._issue(identity.id, form, client_id=client_id, with_refresh=False)

    def _refresh(self, form: dict[str, str]) -> EmulatorResponse:
        refresh_token = form.get("refresh_token") or ""
        try:
            response = self.context.tokens.use_refresh_token(
                refresh_token, self.context.now()
            )
        except KeyError:
            raise _oauth_error(
                400,
                "invalid_grant",
                "The refresh token is unknown, revoked or was replaced by rotation",
            ) from None
        return json_response(200, response)

    def _issue(
        self,
        identity_id: str,
        form: dict[str, str],
        *,
        client_id: str,
        with_refresh: bool,
    ) -> EmulatorResponse:
        scopes = (form.get("scope") or "").split()
        if not scopes:
            raise _oauth_error(
                400, "invalid_scope", "The form field 'scope' is missing or empty"
            )
        try:
            response = self.context.tokens.issue(
                identity_id,
                [" ".join(scopes)],
                self.context.now(),
                client_id=client_id,
                with_refresh=with_refresh,
            )
        except ValueError as exc:
            raise _oauth_error(
                400, "invalid_scope", f"Cannot parse scope {form.get('scope')!r}: {exc}"
            ) from exc
        return json_response(200, response)


def _form(request: EmulatorRequest) -> dict[str, str]:
    try:
        return dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise _oauth_error(
            400, "invalid_request", "The form body is not UTF-8"
        ) from exc


def _client_credentials(
    request: EmulatorRequest, form: dict[str, str]
) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _oauth_error(
                401,
                "invalid_client",
                "The Basic authorization header is not valid base64",
            ) from exc
        client_id, _, secret = decoded.partition(":")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")

    if not client_id or not secret:
        raise _oauth_error(
            401,
            "invalid_client",
            "Client authentication needs a client id and a client secret",
        )
    return client_id, secret
