"""Globus principal URNs and the role lists of flows and runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FLOW_ROLE_FIELDS",
    "MAX_PRINCIPALS",
    "RUN_ROLE_FIELDS",
    "check_role_lists",
    "check_uuid",
    "group_urn",
    "identity_urn",
]

FLOW_ROLE_FIELDS = ("flow_viewers", "flow_starters", "flow_administrators")
RUN_ROLE_FIELDS = ("run_managers", "run_monitors")

# The maximum number of principals in one role list. Larger audiences belong in a
# Globus group, which counts as one principal.
MAX_PRINCIPALS = 16

_GROUP_PREFIX = "urn:globus:groups:id:"
_IDENTITY_PREFIX = "urn:globus:auth:identity:"
_URN = re.compile(
    r"^urn:globus:(?:groups:id|auth:identity):"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)

# Special principals and the only role list each may appear in.
_SPECIAL_PRINCIPALS = {
    "public": "flow_viewers",
    "all_authenticated_users": "flow_starters",
}


def check_uuid(value: Any, field: str) -> str:
    """Return *value* as a canonical lower-case UUID string.

    Raises:
        ValueError: *value* is not a UUID string.
    """
    if not isinstance(value, str):
        raise ValueError(
            f"{field} must be a UUID string, got {type(value).__name__}: {value!r}"
        )
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{field} must be a UUID, got {value!r}") from None
    canonical = str(parsed)
    if value.strip().lower() != canonical:
        raise ValueError(
            f"{field} must be a UUID in the 8-4-4-4-12 form, got {value!r}"
        )
    return canonical


def group_urn(group_id: str) -> str:
    """Return the principal URN of a Globus group, from its id or its URN."""
    if isinstance(group_id, str) and group_id.startswith(_GROUP_PREFIX):
        group_id = group_id[len(_GROUP_PREFIX) :]
    return _GROUP_PREFIX + check_uuid(group_id, "group id")


def identity_urn(identity_id: str) -> str:
    """Return the principal URN of a Globus Auth identity, from its id or URN."""
    if isinstance(identity_id, str) and identity_id.startswith(_IDENTITY_PREFIX):
        identity_id = identity_id[len(_IDENTITY_PREFIX) :]
    return _IDENTITY_PREFIX + check_uuid(identity_id, "identity id")


def check_role_lists(
    fields: Mapping[str, Any], role_fields: Iterable[str]
) -> dict[str, list[str]]:
    """Check the role lists among *fields* and return them cleaned.

    Duplicates are dropped, keeping the first of each.

    Raises:
        ValueError: A list is not a list of strings, names a bare UUID or a
            malformed URN, uses ``public`` or ``all_authenticated_users``
            outside the one list that allows it, or contains more than
            MAX_PRINCIPALS distinct principals. The message names the field.
    """
    cleaned: dict[str, list[str]] = {}
    for field in role_fields:
        if field in fields:
            cleaned[field] = _check_role_list(field, fields[field])
    return cleaned


def _check_role_list(field: str, principals: Any) -> list[str]:
    if isinstance(principals, str) or not isinstance(principals, Iterable):
        raise ValueError(
            f"{field} must be a list of principal URNs, got "
            f"{type(principals).__name__}: {principals!r}"
        )

    unique = list(dict.fromkeys(principals))
    for principal in unique:
        _check_principal(field, principal)

    if len(unique) > MAX_PRINCIPALS:
        raise ValueError(
            f"{field} has {len(unique)} distinct principals; at most "
            f"{MAX_PRINCIPALS} are allowed. Use a Globus group for larger sets."
        )
    return unique


def _check_principal(field: str, principal: Any) -> None:
    if not isinstance(principal, str):
        raise ValueError(f"{field} must contain strings, got {principal!r}")

    allowed_in = _SPECIAL_PRINCIPALS.get(principal)
    if allowed_in is not None:
        if field != allowed_in:
            raise ValueError(
                f"{field} cannot contain {principal!r}; it is accepted only in {allowed_in}"
            )
        return

    if _URN.match(principal):
        return
    hint = ""
    try:
        uuid.UUID(principal)
        hint = " (a bare UUID; write urn:globus:auth:identity:<id> or urn:globus:groups:id:<id>)"
    except ValueError:
        pass
    raise ValueError(
        f"{field} contains {principal!r}, which is not a principal URN of the form "
        f"urn:globus:auth:identity:<uuid> or urn:globus:groups:id:<uuid>{hint}"
    )
