"""Validation of the principal lists in flow and run roles."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FLOW_ROLE_FIELDS", "RUN_ROLE_FIELDS", "validate_roles"]

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IDENTITY = re.compile(rf"urn:globus:auth:identity:{_UUID}")
_GROUP = re.compile(rf"urn:globus:groups:id:{_UUID}")

_IDENTITY_OR_GROUP = "an identity URN (urn:globus:auth:identity:<uuid>) or a group URN (urn:globus:groups:id:<uuid>)"

# The special principals each role accepts besides identity and group URNs.
_SPECIAL_PRINCIPALS: dict[str, frozenset[str]] = {
    "flow_viewers": frozenset({"public", "all_authenticated_users"}),
    "flow_starters": frozenset({"all_authenticated_users"}),
    "flow_administrators": frozenset(),
    "run_managers": frozenset(),
    "run_monitors": frozenset(),
}
FLOW_ROLE_FIELDS = (
    "flow_viewers",
    "flow_starters",
    "flow_administrators",
    "run_managers",
    "run_monitors",
)
RUN_ROLE_FIELDS = ("run_managers", "run_monitors")


def validate_roles(
    body: dict[str, Any], fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Check the role lists present in a request body.

    Args:
        body: The decoded request body.
        fields: The role fields to check; absent or null fields are skipped.

    Returns:
        One ``{"loc", "msg", "type"}`` entry per invalid value, empty when
        every list is valid.
    """
    problems: list[dict[str, Any]] = []
    for field in fields:
        value = body.get(field)
        if value is None:
            continue

        if not isinstance(value, list):
            problems.append(
                _problem([field], f"{field} must be a list of principal strings")
            )
            continue

        for index, principal in enumerate(value):
            if not _is_valid(field, principal):
                problems.append(_problem([field, index], _message(field, principal)))

    return problems


def _is_valid(field: str, principal: Any) -> bool:
    if not isinstance(principal, str):
        return False
    if principal in _SPECIAL_PRINCIPALS[field]:
        return True
    return bool(_IDENTITY.fullmatch(principal) or _GROUP.fullmatch(principal))


def _message(field: str, principal: Any) -> str:
    allowed = _IDENTITY_OR_GROUP
    special = sorted(_SPECIAL_PRINCIPALS[field])
    if special:
        allowed += ", or one of " + ", ".join(repr(name) for name in special)
    return f"Invalid principal {principal!r} in {field}: use {allowed}"


def _problem(loc: list[Any], message: str) -> dict[str, Any]:
    return {"loc": loc, "msg": message, "type": "value_error"}
