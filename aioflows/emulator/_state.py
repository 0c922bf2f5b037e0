"""The emulator's state machine: routes a request to a service and returns its response.

Everything here is synchronous and does no I/O, so the in-process transport
and the loopback server can share one state without locks: each request is
handled whole, between two awaits of the event loop.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import attrs

from ._auth_api import AuthService
from ._clock import Clock
from ._context import ServiceContext
from ._engine import RunTiming
from ._flows import FlowsService, FlowStore
from ._groups import GroupsService, GroupStore
from ._http import EmulatorRequest, EmulatorResponse, ServiceError
from ._identities import Identity, IdentityRegistry
from ._ids import IdSource
from ._runs import RunsService, RunStore
from ._tokens import AccessGrant, RefreshGrant, TokenRegistry

__all__ = ["ROUTES", "EmulatorState"]

logger = logging.getLogger(__name__)

_Handler = Callable[..., EmulatorResponse]

# Method, path template and handler name, in matching order: fixed paths
# come before templates that would also match them.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/flows", "flows.create_flow"),
    ("GET", "/flows", "flows.list_flows"),
    ("GET", "/flows/{flow_id}", "flows.get_flow"),
    ("PUT", "/flows/{flow_id}", "flows.update_flow"),
    ("DELETE", "/flows/{flow_id}", "flows.delete_flow"),
    ("POST", "/flows/{flow_id}/run", "runs.run_flow"),
    ("POST", "/flows/{flow_id}/validate_run", "runs.validate_run"),
    ("GET", "/runs", "runs.list_runs"),
    ("GET", "/runs/{run_id}", "runs.get_run"),
    ("POST", "/runs/{run_id}/cancel", "runs.cancel_run"),
    ("POST", "/runs/{run_id}/resume", "runs.resume_run"),
    ("GET", "/runs/{run_id}/log", "runs.get_run_log"),
    ("GET", "/v2/groups/my_groups", "groups.my_groups"),
    ("POST", "/v2/groups", "groups.create_group"),
    ("GET", "/v2/groups/{group_id}", "groups.get_group"),
    ("PUT", "/v2/groups/{group_id}", "groups.update_group"),
    ("DELETE", "/v2/groups/{group_id}", "groups.delete_group"),
    ("GET", "/v2/subscription_info/{subscription_id}", "groups.subscription_info"),
    ("POST", "/v2/oauth2/token", "auth.token"),
    ("POST", "/v2/oauth2/token/revoke", "auth.revoke"),
    ("POST", "/v2/oauth2/token/introspect", "auth.introspect"),
)
_COMPILED = tuple(
    (
        method,
        template,
        handler,
        re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"),
    )
    for method, template, handler in ROUTES
)
STATE_FORMAT_VERSION = 1


@attrs.define
class EmulatorState:
    """Flows, runs, groups, identities and tokens, and the handlers over them.

    Attributes:
        context: Time, ids, identities, tokens and groups shared by handlers.
        flows: The Flows handlers and store.
        runs: The run handlers and store.
        groups: The Groups handlers and store.
        auth: The Auth token handlers.
    """

    context: ServiceContext
    flows: FlowsService
    runs: RunsService
    groups: GroupsService
    auth: AuthService

    @classmethod
    def create(
        cls, *, ids: IdSource, clock: Clock, identity_id: str, timing: RunTiming
    ) -> EmulatorState:
        """Build an empty state with one default user.

        Args:
            ids: The generator of ids and tokens.
            clock: The emulator clock.
            identity_id: The default user's identity id.
            timing: How long run states take.

        Returns:
            The new state.
        """
        group_store = GroupStore()
        context = ServiceContext(
            ids=ids,
            clock=clock,
            identities=IdentityRegistry.with_default_user(identity_id),
            tokens=TokenRegistry(ids=ids),
            groups=group_store,
        )
        flows = FlowsService(context, FlowStore())
        return cls(
            context=context,
            flows=flows,
            runs=RunsService(context, flows, RunStore(), timing),
            groups=GroupsService(context, group_store),
            auth=AuthService(context),
        )

    def route_of(self, method: str, path: str) -> str:
        """Return the path template a request matches, or its path when none does."""
        normalized = _normalize(path)
        for _, template, _, pattern in _COMPILED:
            if pattern.match(normalized):
                return template
        return normalized

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Apply one request to the state.

        Args:
            request: The parsed request.

        Returns:
            The response. A bad request gets an error response rather
            than an exception.
        """
        path = _normalize(request.path)
        allowed = []
        for method, _, handler_name, pattern in _COMPILED:
            match = pattern.match(path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            return self._call(handler_name, request, match.groupdict())

        if allowed:
            error = self.context.error(
                405,
                "METHOD_NOT_ALLOWED",
                f"{request.method} is not allowed on {path}; use {', '.join(allowed)}",
            )
        else:
            error = self.context.error(
                404, "NOT_FOUND", f"The emulator serves no path {path!r}"
            )
        return error.response

    def _call(
        self, handler_name: str, request: EmulatorRequest, arguments: dict[str, str]
    ) -> EmulatorResponse:
        service_name, method_name = handler_name.split(".")
        handler: _Handler = getattr(getattr(self, service_name), method_name)
        try:
            return handler(request, **arguments)
        except ServiceError as error:
            logger.debug(
                "%s %s returned %d", request.method, request.path, error.response.status
            )
            return error.response

    def to_json(self) -> dict[str, Any]:
        """Return the state as a JSON document for the state file.

        The static development token is configuration, not state, and is left
        out. Issued tokens are kept so refresh tokens survive a restart.
        """
        tokens = self.context.tokens
        return {
            "version": STATE_FORMAT_VERSION,
            "default_identity_id": self.context.identities.default_id,
            "identities": [
                identity.to_json()
                for identity in self.context.identities.by_id.values()
            ],
            "flows": self.flows.store.flows,
            "consent_required": self.flows.store.consent_required,
            "runs": self.runs.store.runs,
            "groups": self.groups.store.groups,
            "subscriptions": self.groups.store.subscriptions,
            "access_tokens": {
                token: attrs.asdict(grant) for token, grant in tokens.access.items()
            },
            "refresh_tokens": {
                token: attrs.asdict(grant) for token, grant in tokens.refresh.items()
            },
        }

    def load_json(self, document: dict[str, Any]) -> None:
        """Replace the state's contents with a document from :meth:`to_json`.

        Raises:
            ValueError: If the document has another format version.
            KeyError: If a required part is missing.
        """
        version = document.get("version")
        if version != STATE_FORMAT_VERSION:
            raise ValueError(
                f"state format version {version!r} is not supported; this emulator reads version {STATE_FORMAT_VERSION}"
            )

        identities = IdentityRegistry(default_id=document["default_identity_id"])
        for item in document["identities"]:
            identities.by_id[item["id"]] = Identity(**item)
        self.context.identities = identities

        self.flows.store.flows = document["flows"]
        self.flows.store.consent_required = document["consent_required"]
        self.runs.store.runs = document["runs"]
        self.groups.store.groups = document["groups"]
        self.groups.store.subscriptions = document["subscriptions"]
        self.context.tokens.access = {
            token: AccessGrant(**grant)
            for token, grant in document["access_tokens"].items()
        }
        self.context.tokens.refresh = {
            token: RefreshGrant(**grant)
            for token, grant in document["refresh_tokens"].items()
        }


def _normalize(path: str) -> str:
    if len(path) > 1 and path.endswith("/"):
        return path.rstrip("/") or "/"
    return path
