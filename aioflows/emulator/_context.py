"""The context shared by every emulated service: time, ids, identities, tokens and groups."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

from ._clock import Clock, format_timestamp
from ._http import EmulatorRequest, ServiceError, service_error
from ._identities import IdentityRegistry, identity_urn
from ._ids import IdSource
from ._tokens import ANY_RESOURCE_SERVER, AccessGrant, TokenRegistry

if TYPE_CHECKING:
    from ._groups import GroupStore

__all__ = ["MAX_JSON_DEPTH", "ServiceContext"]

_BEARER = "bearer "

# Request bodies nested deeper than this get 422. The handlers copy, walk and
# save bodies recursively, so the limit keeps them far below Python's default
# recursion limit of 1000 frames.
# NOTE: the real services' limit is not known; 100 levels is an estimate that
# no hand-written flow definition or run input comes close to.
MAX_JSON_DEPTH = 100
_TOO_DEEP = f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep"


@attrs.define
class ServiceContext:
    """Shared services for the request handlers.

    Attributes:
        ids: The generator of ids and tokens.
        clock: The emulator's clock.
        identities: Known identities and the default user.
        tokens: Issued and static tokens.
        groups: The groups, which decide group principals in role lists.
    """

    ids: IdSource
    clock: Clock
    identities: IdentityRegistry
    tokens: TokenRegistry
    groups: GroupStore

    def now(self) -> float:
        """Return the emulator time in seconds since the Unix epoch."""
        return self.clock.now()

    def timestamp(self) -> str:
        """Return the emulator time formatted as the services do."""
        return format_timestamp(self.clock.now())

    def error(self, status: int, code: str, detail: Any) -> ServiceError:
        """Build an error response in the Flows and Groups shape with a new debug id."""
        return service_error(status, code, detail, debug_id=self.ids.uuid())

    def authenticate(
        self,
        request: EmulatorRequest,
        resource_server: str,
        *,
        required_scope: str | None = None,
    ) -> AccessGrant:
        """Check the bearer token of a request.

        Args:
            request: The request.
            resource_server: The resource server the token must belong to.
            required_scope: When given, a live token for another resource
                server gets 403 ``MISSING_SCOPE`` naming this scope,
                as the Flows service does on runs; otherwise it is a 401.

        Returns:
            The token's grant.

        Raises:
            ServiceError: 401 when the token is missing, unknown or expired,
                or when it belongs to another resource server.
        """
        header = request.headers.get("authorization", "")
        if not header.lower().startswith(_BEARER):
            raise self.error(
                401, "AUTHENTICATION_ERROR", "Missing Authorization: Bearer header"
            )

        grant = self.tokens.lookup(header[len(_BEARER) :].strip(), self.now())
        if grant is None:
            raise self.error(
                401, "AUTHENTICATION_ERROR", "Expired or invalid Bearer token"
            )

        if grant.resource_server in (ANY_RESOURCE_SERVER, resource_server):
            return grant

        if required_scope is not None:
            raise self.error(
                403,
                "MISSING_SCOPE",
                f"This action requires the following scope: {required_scope}",
            )
        raise self.error(
            401,
            "AUTHENTICATION_ERROR",
            f"The Bearer token was issued for {grant.resource_server}, "
            f"not for {resource_server}",
        )

    def principals_of(self, identity_id: str) -> frozenset[str]:
        """Return every principal URN an identity matches in a role list.

        Args:
            identity_id: The identity id.

        Returns:
            The identity URN, the URN of each group it is an active member
            of, and ``all_authenticated_users``.
        """
        group_urns = {
            f"urn:globus:groups:id:{group_id}"
            for group_id in self.groups.groups_of(identity_id)
        }
        return frozenset(
            {identity_urn(identity_id), "all_authenticated_users", *group_urns}
        )

    def read_json(self, request: EmulatorRequest) -> Any:
        """Decode a JSON request body.

        Raises:
            ServiceError: 422 when the body is not valid JSON or is nested
                more than ``MAX_JSON_DEPTH`` levels deep.
        """
        if not request.body:
            return {}

        try:
            document = json.loads(request.body)
        except ValueError as exc:
            raise self._invalid_body(f"Invalid JSON: {exc}") from exc
        except RecursionError as exc:
            raise self._invalid_body(_TOO_DEEP) from exc

        if _nesting_exceeds(document, MAX_JSON_DEPTH):
            raise self._invalid_body(_TOO_DEEP)
        return document

    def _invalid_body(self, message: str) -> ServiceError:
        problem = {"loc": ["body"], "msg": message, "type": "value_error"}
        return self.error(422, "UNPROCESSABLE_ENTITY", [problem])


def _nesting_exceeds(document: Any, limit: int) -> bool:
    # Iterative, so that measuring a deep document cannot itself recurse too deep.
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue

        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
