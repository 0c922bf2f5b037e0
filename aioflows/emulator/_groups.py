"""The emulated Groups service: groups, memberships and subscriptions."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import attrs

from ._http import EmulatorRequest, EmulatorResponse, json_response
from ._tokens import GROUPS_RESOURCE_SERVER

if TYPE_CHECKING:
    from ._context import ServiceContext

__all__ = ["GroupStore", "GroupsService"]

_MANAGING_ROLES = frozenset({"admin", "manager"})
_UPDATABLE_FIELDS = ("name", "description")


@attrs.define
class GroupStore:
    """Groups by id and subscriptions by id.

    Attributes:
        groups: Group records. Each is the service's group document plus a
            ``memberships`` object mapping identity ids to roles.
        subscriptions: Subscription records: ``{"group_id", "info"}``.
    """

    groups: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    subscriptions: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def groups_of(self, identity_id: str) -> list[str]:
        """Return the ids of the groups an identity is a member of."""
        return [
            group_id
            for group_id, record in self.groups.items()
            if identity_id in record["memberships"]
        ]

    def add(
        self,
        group_id: str,
        name: str,
        *,
        owner_id: str,
        description: str = "",
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a group with one admin.

        Args:
            group_id: The new group's id.
            name: The group name.
            owner_id: The identity id of its first admin.
            description: The group description.
            parent_id: The parent group id, or None.

        Returns:
            The stored record.
        """
        record: dict[str, Any] = {
            "name": name,
            "description": description,
            "parent_id": parent_id,
            "id": group_id,
            "group_type": "regular",
            "enforce_session": False,
            "session_limit": 28800,
            "session_timeouts": {},
            "policies": {
                "group_visibility": "private",
                "group_members_visibility": "managers",
            },
            "subscription_id": None,
            "subscription_info": None,
            "memberships": {owner_id: "admin"},
        }
        self.groups[group_id] = record
        return record

    def attach_subscription(
        self, subscription_id: str, group_id: str, name: str
    ) -> None:
        """Make a group the subscription group of a new subscription.

        Args:
            subscription_id: The subscription id.
            group_id: An existing group id.
            name: The subscription name.

        Raises:
            KeyError: If the group does not exist.
        """
        info = {
            "name": name,
            "subscriber_name": name,
            "is_high_assurance": False,
            "is_baa": False,
            "connectors": {},
        }
        record = self.groups[group_id]
        record.update(
            group_type="plus", subscription_id=subscription_id, subscription_info=info
        )
        self.subscriptions[subscription_id] = {"group_id": group_id, "info": info}


@attrs.define
class GroupsService:
    """Request handlers of the Groups API (``/v2/groups``, ``/v2/subscription_info``)."""

    context: ServiceContext
    store: GroupStore

    def my_groups(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``GET /v2/groups/my_groups``."""
        identity_id = self._authenticate(request)
        documents = [
            self._document(record, identity_id)
            for record in self.store.groups.values()
            if identity_id in record["memberships"]
        ]
        return json_response(200, documents)

    def create_group(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``POST /v2/groups``."""
        identity_id = self._authenticate(request)
        body = self.context.read_json(request)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise self._invalid("name", "A group needs a non-empty string name")

        parent_id = body.get("parent_id")
        if parent_id is not None and parent_id not in self.store.groups:
            raise self._invalid("parent_id", f"No group has the id {parent_id!r}")

        record = self.store.add(
            self.context.ids.uuid(),
            name,
            owner_id=identity_id,
            description=str(body.get("description") or ""),
            parent_id=parent_id,
        )
        return json_response(200, self._document(record, identity_id))

    def get_group(self, request: EmulatorRequest, group_id: str) -> EmulatorResponse:
        """Handle ``GET /v2/groups/{group_id}``."""
        identity_id = self._authenticate(request)
        record = self._find(group_id)
        visible = record["policies"]["group_visibility"] == "authenticated"
        if identity_id not in record["memberships"] and not visible:
            raise self._forbidden(group_id)
        return json_response(200, self._document(record, identity_id))

    def update_group(self, request: EmulatorRequest, group_id: str) -> EmulatorResponse:
        """Handle ``PUT /v2/groups/{group_id}``; only admins and managers may."""
        identity_id = self._authenticate(request)
        record = self._find(group_id)
        if record["memberships"].get(identity_id) not in _MANAGING_ROLES:
            raise self._forbidden(group_id)

        body = self.context.read_json(request)
        if not isinstance(body, dict):
            raise self._invalid("body", "The request body must be a JSON object")

        for field in _UPDATABLE_FIELDS:
            value = body.get(field)
            if value is None:
                continue
            if not isinstance(value, str):
                raise self._invalid(field, f"{field} must be a string")
            record[field] = value

        return json_response(200, self._document(record, identity_id))

    def delete_group(self, request: EmulatorRequest, group_id: str) -> EmulatorResponse:
        """Handle ``DELETE /v2/groups/{group_id}``; only admins may."""
        identity_id = self._authenticate(request)
        record = self._find(group_id)
        if record["memberships"].get(identity_id) != "admin":
            raise self._forbidden(group_id)

        document = self._document(record, identity_id)
        del self.store.groups[group_id]
        return json_response(200, document)

    def subscription_info(
        self, request: EmulatorRequest, subscription_id: str
    ) -> EmulatorResponse:
        """Handle ``GET /v2/subscription_info/{subscription_id}``."""
        self._authenticate(request)
        subscription = self.store.subscriptions.get(subscription_id)
        if subscription is None:
            raise self.context.error(
                404, "NOT_FOUND", f"No subscription has the id {subscription_id!r}"
            )

        # Like the real service, this view leaves out the names.
        restricted = {
            key: copy.deepcopy(value)
            for key, value in subscription["info"].items()
            if key in ("is_high_assurance", "is_baa", "connectors")
        }
        document = {
            "group_id": subscription["group_id"],
            "subscription_id": subscription_id,
            "subscription_info": restricted,
        }
        return json_response(200, document)

    def _authenticate(self, request: EmulatorRequest) -> str:
        return self.context.authenticate(request, GROUPS_RESOURCE_SERVER).identity_id

    def _find(self, group_id: str) -> dict[str, Any]:
        record = self.store.groups.get(group_id)
        if record is None:
            raise self.context.error(
                404, "NOT_FOUND", f"No group has the id {group_id!r}"
            )
        return record

    def _forbidden(self, group_id: str) -> Exception:
        return self.context.error(
            403,
            "FORBIDDEN",
            f"You do not have the role this action needs on group {group_id}",
        )

    def _invalid(self, field: str, message: str) -> Exception:
        detail = [{"loc": [field], "msg": message, "type": "value_error"}]
        return self.context.error(422, "UNPROCESSABLE_ENTITY", detail)

    def _document(self, record: dict[str, Any], identity_id: str) -> dict[str, Any]:
        document = {
            key: copy.deepcopy(value)
            for key, value in record.items()
            if key != "memberships"
        }
        role = record["memberships"].get(identity_id)
        document["my_memberships"] = []
        if role is not None:
            identity = self.context.identities.get(identity_id)
            document["my_memberships"].append(
                {
                    "group_id": record["id"],
                    "identity_id": identity_id,
                    "username": identity.username,
                    "role": role,
                    "status": "active",
                }
            )
        return document
