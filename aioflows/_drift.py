"""Drift: how a deployed flow differs from the request a sync would send.

A deployed flow (``GET /flows/{id}``) is compared field by field with
:meth:`FlowsManager.flow_request`.

Only the fields that aioflows sends are compared, because a field it leaves
out is not managed by it: a sync would not restore it either. The compared
fields and their rules:

- ``definition`` and ``input_schema``: equal as JSON values. Key order is
  ignored and numbers compare by value, so ``1`` equals ``1.0``, because a
  service may store or return a number in another form. ``true`` and ``1``
  differ.
- ``title``, ``subtitle``, ``description``, ``subscription_id``: equal
  strings; a missing or null field counts as ``""`` (``None`` for
  ``subscription_id``).
- ``keywords``: equal as sets.
- ``flow_viewers``, ``flow_starters``, ``flow_administrators``: equal as
  sets after removing the flow's owner (``flow_owner``), whom the service
  treats as an implicit administrator.

A 404 marks the flow ``deleted``; no flow id marks it ``not-deployed``.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping
from typing import Any

import attrs

from ._errors import APIError
from ._principals import FLOW_ROLE_FIELDS
from .managers import FlowsManager

__all__ = [
    "COMPARED_FIELDS",
    "FieldDrift",
    "RemoteState",
    "compare_flow",
    "compare_remote",
]

log = logging.getLogger(__name__)

_JSON_FIELDS = ("definition", "input_schema")
_TEXT_FIELDS = ("title", "subtitle", "description")
_ID_FIELDS = ("subscription_id",)
_SET_FIELDS = ("keywords",)

COMPARED_FIELDS = (
    *_JSON_FIELDS,
    *_TEXT_FIELDS,
    *_SET_FIELDS,
    *_ID_FIELDS,
    *FLOW_ROLE_FIELDS,
)


class RemoteState(str, enum.Enum):
    """The state of a deployed flow compared with its local definition."""

    IN_SYNC = "in-sync"
    DRIFTED = "drifted"
    DELETED = "deleted"
    NOT_DEPLOYED = "not-deployed"


@attrs.frozen
class FieldDrift:
    """One field whose deployed value differs from the local one.

    Attributes:
        field: The field's name in the flow document.
        expected: The value a sync sends.
        actual: The deployed value (None when the service omits it).
    """

    field: str
    expected: Any
    actual: Any

    def as_dict(self) -> dict[str, Any]:
        """Return the drift as a JSON-serialisable dict."""
        return {"field": self.field, "expected": self.expected, "actual": self.actual}


def compare_flow(
    desired: Mapping[str, Any], deployed: Mapping[str, Any]
) -> tuple[FieldDrift, ...]:
    """Compare a create or update request with a deployed flow document.

    Args:
        desired: The request body a sync sends.
        deployed: The document ``GET /flows/{id}`` returned.

    Returns:
        One FieldDrift per compared field that differs, in the order of
        COMPARED_FIELDS. Fields absent from *desired* are not compared.
    """
    owner = deployed.get("flow_owner")
    drifts: list[FieldDrift] = []
    for field in COMPARED_FIELDS:
        if field not in desired:
            continue
        expected = desired[field]
        actual = deployed.get(field)
        if not _same(field, expected, actual, owner):
            drifts.append(FieldDrift(field, expected, actual))
    return tuple(drifts)


def _same(field: str, expected: Any, actual: Any, owner: Any) -> bool:
    if field in _JSON_FIELDS:
        return _json_equal(expected, actual)
    if field in _TEXT_FIELDS:
        return (expected or "") == (actual or "")
    if field in _SET_FIELDS:
        return _as_set(expected) == _as_set(actual)
    if field in FLOW_ROLE_FIELDS:
        return _as_set(expected) - {owner} == _as_set(actual) - {owner}
    return bool(expected == actual)


def _json_equal(expected: Any, actual: Any) -> bool:
    """Return whether two parsed JSON values are equal, comparing numbers by value.

    The walk uses a stack instead of recursion, so a deep document cannot
    raise RecursionError.
    """
    pending = [(expected, actual)]
    while pending:
        left, right = pending.pop()
        if isinstance(left, Mapping):
            if not isinstance(right, Mapping) or left.keys() != right.keys():
                return False
            pending.extend((left[key], right[key]) for key in left)
        elif isinstance(left, (list, tuple)):
            if not isinstance(right, (list, tuple)) or len(left) != len(right):
                return False
            pending.extend(zip(left, right, strict=True))
        elif not _same_scalar(left, right):
            return False
    return True


def _same_scalar(left: Any, right: Any) -> bool:
    # bool is a subclass of int, but JSON's true is not the number 1.
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _as_set(value: Any) -> frozenset[Any]:
    if not isinstance(value, list):
        return frozenset() if value is None else frozenset({_canonical(value)})
    return frozenset(
        item if isinstance(item, str) else _canonical(item) for item in value
    )


async def compare_remote(
    manager: FlowsManager, flow_id: str | None
) -> tuple[RemoteState, tuple[FieldDrift, ...]]:
    if flow_id is None:
        return RemoteState.NOT_DEPLOYED, ()

    try:
        deployed = await manager.get_flow()
    except APIError as error:
        if error.http_status != 404:
            raise
        log.warning(
            "Flow %r: flow %s was deleted outside aioflows (HTTP 404)",
            manager.name,
            flow_id,
        )
        return RemoteState.DELETED, ()

    drift = compare_flow(manager.flow_request(), deployed)
    if not drift:
        return RemoteState.IN_SYNC, ()
    log.warning(
        "Flow %r: flow %s differs from its local definition in %s",
        manager.name,
        flow_id,
        ", ".join(item.field for item in drift),
    )
    return RemoteState.DRIFTED, drift
