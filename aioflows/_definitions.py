"""Checks on flow definitions and input schemas before anything is sent."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["check_definition", "check_json_object"]

# Locations of bad values longer than this keep only their end in messages.
_MAX_LOCATION_LENGTH = 200


def check_json_object(value: Any, field: str) -> dict[str, Any]:
    """Return *value* as a plain dict after checking it serialises to JSON.

    The JSON text must also encode to UTF-8, which is what is sent, so a
    string with a lone surrogate is rejected here rather than inside httpx.

    Raises:
        TypeError: *value* is not a mapping, contains values JSON cannot
            represent, or is nested too deeply to serialise. The message
            names *field* and, when it can, where the bad value sits.
    """
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{field} must be a mapping (a JSON object), got {type(value).__name__}"
        )
    # json.dumps takes only dicts as objects, so any other mapping is copied.
    value = dict(value)
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
        result: dict[str, Any] = json.loads(text)
    except RecursionError:
        raise TypeError(
            f"{field} is nested too deeply to serialise as JSON; reduce its nesting"
        ) from None
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{field} is not JSON-serialisable: {_describe_invalid(value, error)}"
        ) from None
    return result


def _describe_invalid(value: Any, error: Exception) -> str:
    found = _find_invalid(value)
    if found is None:
        return str(error)
    subject, location, description = found
    if len(location) > _MAX_LOCATION_LENGTH:
        location = "…" + location[-_MAX_LOCATION_LENGTH:]
    return f"{subject} at {location or 'the top level'} is {description}"


def _find_invalid(value: Any) -> tuple[str, str, str] | None:
    """Find a key or value that JSON cannot carry.

    Returns ``"the value"`` or ``"the key …"``, its location as ``['a'][0]``
    and a description of what is wrong with it.

    Walks without recursion, so deep values cannot overflow the stack, and
    visits each container once, so a cycle ends the walk. Returns None when
    every value is valid (the error is then a cycle).
    """
    seen: set[int] = set()
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        location, item = pending.pop()
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:
                continue
            seen.add(id(item))

        if isinstance(item, dict):
            children: list[tuple[str, Any]] = []
            for key, child in item.items():
                description = _describe_invalid_scalar(key)
                if description is not None:
                    return f"the key {key!r}", location, description
                children.append((f"{location}[{key!r}]", child))
            pending.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            pending.extend(
                (f"{location}[{index}]", child)
                for index, child in reversed(list(enumerate(item)))
            )
        else:
            description = _describe_invalid_scalar(item)
            if description is not None:
                return "the value", location, description
    return None


def _describe_invalid_scalar(item: Any) -> str | None:
    if item is None or isinstance(item, (bool, int)):
        return None
    if isinstance(item, float):
        return None if math.isfinite(item) else f"{item!r}, not a JSON number"
    if isinstance(item, str):
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            return "a string with a lone surrogate, which UTF-8 cannot encode"
        return None
    return f"a {type(item).__name__}, not a JSON value"


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
