"""Evaluation of Choice state rules against a run's state.

Simple rules (one ``Variable`` and one comparison, or ``And``, ``Or`` and
``Not`` of such rules) are evaluated. A rule using a comparison the emulator
does not know never matches, so the state falls back to its ``Default``.
"""

from __future__ import annotations

import fnmatch
import operator
from collections.abc import Callable
from typing import Any

from ._jsonpath import MISSING, JSONPathError, get_path

__all__ = ["choose_next"]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Each family checks the type of both sides before comparing.
_FAMILIES: dict[str, Callable[[Any], bool]] = {
    "String": lambda value: isinstance(value, str),
    "Numeric": _is_number,
    "Boolean": lambda value: isinstance(value, bool),
    "Timestamp": lambda value: isinstance(value, str),
}
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda value: value is None,
    "IsString": lambda value: isinstance(value, str),
    "IsNumeric": _is_number,
    "IsBoolean": lambda value: isinstance(value, bool),
    "IsTimestamp": lambda value: isinstance(value, str),
}


def choose_next(spec: dict[str, Any], document: Any) -> str | None:
    """Pick the next state of a Choice state.

    Args:
        spec: The Choice state.
        document: The run state that ``Variable`` paths read from.

    Returns:
        The ``Next`` of the first matching rule, else the ``Default``, or None
        when neither exists.
    """
    for rule in spec.get("Choices") or []:
        if isinstance(rule, dict) and _matches(rule, document):
            target = rule.get("Next")
            if isinstance(target, str):
                return target

    default = spec.get("Default")
    return default if isinstance(default, str) else None


def _matches(rule: dict[str, Any], document: Any) -> bool:
    if "And" in rule:
        return all(_matches(part, document) for part in rule["And"] or [])
    if "Or" in rule:
        return any(_matches(part, document) for part in rule["Or"] or [])
    if "Not" in rule:
        return isinstance(rule["Not"], dict) and not _matches(rule["Not"], document)

    value = _read(document, rule.get("Variable"))
    for key, expected in rule.items():
        if key in ("Variable", "Next", "Comment"):
            continue
        return _compare(key, value, expected, document)
    return False


def _compare(key: str, value: Any, expected: Any, document: Any) -> bool:
    if key == "IsPresent":
        return (value is not MISSING) == bool(expected)
    if value is MISSING:
        return False

    if key in _TYPE_TESTS:
        return _TYPE_TESTS[key](value) == bool(expected)

    if key.endswith("Path"):
        key, expected = key[: -len("Path")], _read(document, expected)

    if key == "StringMatches":
        return (
            isinstance(value, str)
            and isinstance(expected, str)
            and fnmatch.fnmatchcase(value, expected)
        )

    for family, is_type in _FAMILIES.items():
        if key.startswith(family) and key[len(family) :] in _ORDER:
            if not (is_type(value) and is_type(expected)):
                return False
            return _ORDER[key[len(family) :]](value, expected)

    return False


def _read(document: Any, path: Any) -> Any:
    if not isinstance(path, str):
        return MISSING
    try:
        return get_path(document, path)
    except JSONPathError:
        return MISSING
