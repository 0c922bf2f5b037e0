"""Checks on flow definitions and input schemas before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["check_definition", "check_json_object"]


def check_json_object(value: Any, field: str) -> dict[str, Any]:
    """Return *value* as a plain dict after checking it serialises to JSON.

    Raises:
        TypeError: *value* is not a mapping, or holds values JSON cannot
            represent. The message names *field*.
    """
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{field} must be a mapping (a JSON object), got {type(value).__name__}"
        )
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{field} is not JSON-serialisable: {error}") from None

    result: dict[str, Any] = json.loads(text)
    return result


def check_definition(value: Any, field: str = "flow_definition") -> dict[str, Any]:
    """Return a flow definition as a plain dict after checking its shape.

    Raises:
        TypeError: Not a JSON-serialisable mapping.
        ValueError: ``StartAt`` is not a string or ``States`` is not a
            non-empty mapping.
    """
    definition = check_json_object(value, field)
    if not isinstance(definition.get("StartAt"), str):
        raise ValueError(f"{field} must have a 'StartAt' string naming the first state")

    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        raise ValueError(f"{field} must have a non-empty 'States' mapping")

    if definition["StartAt"] not in states:
        raise ValueError(
            f"{field} starts at {definition['StartAt']!r}, which is not one of its States"
        )
    return definition
