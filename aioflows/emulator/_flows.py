"""The emulated Flows service: deployed flows and their roles."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ._http import EmulatorRequest, EmulatorResponse, json_response
from ._identities import identity_urn
from ._paging import InvalidPageRequest, page
from ._tokens import FLOWS_RESOURCE_SERVER, flow_scope
from ._validation import flow_body_problems

if TYPE_CHECKING:
    from ._context import ServiceContext

__all__ = ["FlowStore", "FlowsService", "flow_roles", "highest_role"]

_FLOW_URL = "https://flows.globus.org/flows/"
_ROLE_ORDER = ("flow_owner", "flow_administrator", "flow_starter", "flow_viewer")
_UPDATABLE = (
    "title",
    "definition",
    "input_schema",
    "subtitle",
    "description",
    "keywords",
    "subscription_id",
    "authentication_policy_id",
    "flow_viewers",
    "flow_starters",
    "flow_administrators",
    "run_managers",
    "run_monitors",
)
# Older names of the role lists that the service still returns.
_LEGACY_ROLE_NAMES = {
    "flow_viewers": "visible_to",
    "flow_starters": "runnable_by",
    "flow_administrators": "administered_by",
}
_FULLTEXT_FIELDS = ("title", "subtitle", "description", "id", "flow_owner")


@attrs.define
class FlowStore:
    """Deployed flows by id.

    Attributes:
        flows: Flow documents as the service returns them, without
            ``user_role``.
        consent_required: Flow ids whose runs need new consent, mapped to how
            the emulator reacts: ``"reject"`` (403 ``MISSING_SCOPE`` on run)
            or ``"inactive"`` (the run goes INACTIVE at its first action).
    """

    flows: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    consent_required: dict[str, str] = attrs.field(factory=dict)


def flow_roles(flow: dict[str, Any], principals: frozenset[str]) -> set[str]:
    """Return the flow roles that a set of principals holds, implied ones included.

    Owners are administrators, administrators are starters, and starters are
    viewers. ``public`` in ``flow_viewers`` makes everyone a viewer.

    Args:
        flow: The flow document.
        principals: The caller's principal URNs.

    Returns:
        A subset of ``flow_owner``, ``flow_administrator``, ``flow_starter``
        and ``flow_viewer``.
    """
    roles: set[str] = set()
    if flow["flow_owner"] in principals:
        roles.add("flow_owner")
    if roles or principals.intersection(flow["flow_administrators"]):
        roles.add("flow_administrator")
    if roles or principals.intersection(flow["flow_starters"]):
        roles.add("flow_starter")
    viewers = flow["flow_viewers"]
    if roles or "public" in viewers or principals.intersection(viewers):
        roles.add("flow_viewer")
    return roles


def highest_role(roles: Iterable[str]) -> str | None:
    """Return the strongest flow role in a set, or None for an empty set."""
    held_roles = set(roles)
    return next((role for role in _ROLE_ORDER if role in held_roles), None)


@attrs.define
class FlowsService:
    """Request handlers for ``/flows`` and ``/flows/{flow_id}``."""

    context: ServiceContext
    store: FlowStore

    def create_flow(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``POST /flows``."""
        identity_id = self._authenticate(request)
        body = self.context.read_json(request)
        problems = flow_body_problems(body, creating=True)
        if problems:
            raise self.context.error(422, "UNPROCESSABLE_ENTITY", problems)

        flow = self._new_flow(body, identity_id)
        self.store.flows[flow["id"]] = flow
        return json_response(201, self._document(flow, identity_id))

    def list_flows(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``GET /flows`` with role and full-text filters, sorting and paging."""
        identity_id = self._authenticate(request)
        principals = self.context.principals_of(identity_id)
        requested_roles = _split(
            request.query.get("filter_roles") or request.query.get("filter_role")
        )
        words = (request.query.get("filter_fulltext") or "").lower().split()

        matching = []
        for flow in self.store.flows.values():
            roles = flow_roles(flow, principals)
            if (
                roles
                and (not requested_roles or roles & requested_roles)
                and _has_words(flow, words)
            ):
                matching.append(flow)

        ordered = _sort(matching, request.query.get("orderby") or "updated_at DESC")
        try:
            items, fields = page(ordered, request, default_limit=20, max_limit=100)
        except InvalidPageRequest as exc:
            raise self.context.error(400, "INVALID_REQUEST", str(exc)) from exc

        documents = [self._document(flow, identity_id) for flow in items]
        return json_response(200, {"flows": documents, **fields})

    def get_flow(self, request: EmulatorRequest, flow_id: str) -> EmulatorResponse:
        """Handle ``GET /flows/{flow_id}``; any role may read."""
        identity_id = self._authenticate(request)
        flow = self.find(flow_id)
        self.require(flow, identity_id, "flow_viewer", "VIEW")
        return json_response(200, self._document(flow, identity_id))

    def update_flow(self, request: EmulatorRequest, flow_id: str) -> EmulatorResponse:
        """Handle ``PUT /flows/{flow_id}``; owners and administrators may."""
        identity_id = self._authenticate(request)
        flow = self.find(flow_id)
        self.require(flow, identity_id, "flow_administrator", "UPDATE")

        body = self.context.read_json(request)
        problems = flow_body_problems(body, creating=False)
        problems += self._owner_problems(body, flow, identity_id)
        if problems:
            raise self.context.error(422, "UNPROCESSABLE_ENTITY", problems)

        self._apply_update(flow, body)
        return json_response(200, self._document(flow, identity_id))

    def delete_flow(self, request: EmulatorRequest, flow_id: str) -> EmulatorResponse:
        """Handle ``DELETE /flows/{flow_id}``; owners and administrators may."""
        identity_id = self._authenticate(request)
        flow = self.find(flow_id)
        self.require(flow, identity_id, "flow_administrator", "DELETE")

        document = self._document(flow, identity_id)
        document.update(DELETED=True, deleted_at=self.context.timestamp())
        del self.store.flows[flow_id]
        self.store.consent_required.pop(flow_id, None)
        return json_response(200, document)

    def find(self, flow_id: str) -> dict[str, Any]:
        """Return a flow, or raise a 404 error naming the id."""
        flow = self.store.flows.get(flow_id)
        if flow is None:
            raise self.context.error(
                404, "NOT_FOUND", f"No flow with id {flow_id!r} exists"
            )
        return flow

    def require(
        self, flow: dict[str, Any], identity_id: str, role: str, permission: str
    ) -> set[str]:
        """Check that an identity has a role on a flow.

        Args:
            flow: The flow document.
            identity_id: The caller.
            role: The weakest role that grants the action.
            permission: The permission named in the error, such as ``RUN``.

        Returns:
            Every role the caller has.

        Raises:
            ServiceError: 403 ``FORBIDDEN`` when the role is missing.
        """
        roles = flow_roles(flow, self.context.principals_of(identity_id))
        if role not in roles:
            raise self.context.error(
                403,
                "FORBIDDEN",
                f"You do not have the permission {permission} on the flow with id "
                f"{flow['id']}; ask one of its administrators for a role that grants it",
            )
        return roles

    def _authenticate(self, request: EmulatorRequest) -> str:
        return self.context.authenticate(request, FLOWS_RESOURCE_SERVER).identity_id

    def _new_flow(self, body: dict[str, Any], identity_id: str) -> dict[str, Any]:
        flow_id = self.context.ids.uuid()
        now = self.context.timestamp()
        owner = identity_urn(identity_id)
        flow: dict[str, Any] = {
            "id": flow_id,
            "title": body["title"],
            "subtitle": body.get("subtitle") or "",
            "description": body.get("description") or "",
            "keywords": list(body.get("keywords") or []),
            "definition": copy.deepcopy(body["definition"]),
            "input_schema": copy.deepcopy(body.get("input_schema") or {}),
            "globus_auth_scope": flow_scope(flow_id),
            "globus_auth_username": f"{flow_id}@clients.auth.globus.org",
            "principal_urn": identity_urn(flow_id),
            "synchronous": False,
            "log_supported": True,
            "types": ["Action"],
            "api_version": "1.0",
            "action_url": _FLOW_URL + flow_id,
            "flow_url": _FLOW_URL + flow_id,
            "flow_owner": owner,
            "created_by": owner,
            "created_at": now,
            "updated_at": now,
            "subscription_id": body.get("subscription_id"),
            "authentication_policy_id": body.get("authentication_policy_id"),
        }
        for field in _LEGACY_ROLE_NAMES:
            flow[field] = list(body.get(field) or [])
        for field in ("run_managers", "run_monitors"):
            flow[field] = list(body.get(field) or [])
        _sync_legacy_roles(flow)
        return flow

    def _owner_problems(
        self, body: dict[str, Any], flow: dict[str, Any], identity_id: str
    ) -> list[dict[str, Any]]:
        owner = body.get("flow_owner")
        if owner is None or owner == flow["flow_owner"]:
            return []
        if flow["flow_owner"] != identity_urn(identity_id):
            return [
                {
                    "loc": ["flow_owner"],
                    "msg": "Only the flow owner can give the flow to another owner",
                    "type": "value_error",
                }
            ]
        if not isinstance(owner, str) or not owner.startswith(
            "urn:globus:auth:identity:"
        ):
            return [
                {
                    "loc": ["flow_owner"],
                    "msg": f"Invalid flow_owner {owner!r}: use an identity URN",
                    "type": "value_error",
                }
            ]
        return []

    def _apply_update(self, flow: dict[str, Any], body: dict[str, Any]) -> None:
        for field in _UPDATABLE:
            if body.get(field) is not None or (
                field == "subscription_id" and field in body
            ):
                flow[field] = copy.deepcopy(body[field])
        if body.get("flow_owner") is not None:
            flow["flow_owner"] = body["flow_owner"]
        _sync_legacy_roles(flow)
        flow["updated_at"] = self.context.timestamp()

    def _document(self, flow: dict[str, Any], identity_id: str) -> dict[str, Any]:
        document = copy.deepcopy(flow)
        roles = flow_roles(flow, self.context.principals_of(identity_id))
        document["user_role"] = highest_role(roles)
        return document


def _sync_legacy_roles(flow: dict[str, Any]) -> None:
    for field, legacy in _LEGACY_ROLE_NAMES.items():
        flow[legacy] = list(flow[field])


def _split(text: str | None) -> set[str]:
    return {part.strip() for part in (text or "").split(",") if part.strip()}


def _has_words(flow: dict[str, Any], words: list[str]) -> bool:
    if not words:
        return True
    haystack = " ".join(
        [*(str(flow.get(field) or "") for field in _FULLTEXT_FIELDS), *flow["keywords"]]
    ).lower()
    return all(word in haystack for word in words)


def _sort(flows: list[dict[str, Any]], orderby: str) -> list[dict[str, Any]]:
    ordered = sorted(flows, key=lambda flow: flow["id"])
    # Apply the criteria from last to first; each sort is stable.
    for criterion in reversed(
        [part.strip() for part in orderby.split(",") if part.strip()]
    ):
        field, _, direction = criterion.partition(" ")
        ordered.sort(
            key=lambda flow: str(flow.get(field) or ""),
            reverse=direction.strip().upper() == "DESC",
        )
    return ordered
