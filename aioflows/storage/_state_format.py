"""Parsing, checking and rendering the JSON state file of JSONFileStorage.

The state is ``{namespace: {key: value}}``. Parsed states are shared between
the cache and concurrent readers, so nothing here mutates a state it gets,
and readers receive copies made by :func:`copy_value`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._errors import StorageError
from .._json import json_type_name

__all__ = [
    "FIX_ADVICE",
    "State",
    "canonical_json",
    "copy_value",
    "parse_state",
    "render_state",
    "too_deep",
]

State = dict[str, dict[str, Any]]

FIX_ADVICE = (
    "Fix the file or move it aside; aioflows never resets a file it cannot read."
)

# Values of these types are immutable, so readers may share them.
_IMMUTABLE_TYPES = (str, int, float, bool, type(None))


def parse_state(data: bytes, path: Path) -> State:
    """Parse and check the bytes of a state file.

    Args:
        data: The content of the file.
        path: The path to name in errors.

    Raises:
        StorageError: ``data`` is not valid JSON or is not an object of objects.
    """
    try:
        state = json.loads(data, parse_constant=_reject_constant)
    except ValueError as error:
        raise StorageError(
            f"The state file {path} is not valid JSON ({error}). {FIX_ADVICE}",
            path=str(path),
        ) from error
    except RecursionError:
        raise too_deep(path) from None

    _check_shape(state, path)
    return state  # type: ignore[no-any-return]


def render_state(state: State, path: Path) -> bytes:
    """Return the file content for ``state``: indented, sorted keys, UTF-8.

    Raises:
        StorageError: ``state`` is nested too deeply or contains a str with a
            lone surrogate.
    """
    try:
        text = json.dumps(state, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    except RecursionError:
        raise too_deep(path) from None

    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        # Only a \ud800-style escape that someone put into the file can get here,
        # because set() rejects such strings.
        raise StorageError(
            f"The state file {path} contains a str with a lone surrogate escape, "
            f"which cannot be written as UTF-8. {FIX_ADVICE}",
            path=str(path),
        ) from error


def canonical_json(value: Any, path: Path) -> str:
    """Return ``value`` as compact JSON with sorted keys, for comparisons.

    Raises:
        StorageError: ``value`` is nested too deeply.
    """
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except RecursionError:
        raise too_deep(path) from None


def copy_value(value: Any, path: Path) -> Any:
    """Return a copy of a parsed value that shares no mutable object with it.

    Raises:
        StorageError: ``value`` is nested too deeply to copy.
    """
    if isinstance(value, _IMMUTABLE_TYPES):
        return value

    # The C encoder and parser copy a JSON value faster than copy.deepcopy,
    # and ensure_ascii keeps a lone surrogate from a hand-edited file intact.
    try:
        return json.loads(json.dumps(value))
    except RecursionError:
        raise too_deep(path) from None


def too_deep(path: Path) -> StorageError:
    """Return the error for a state nested deeper than Python's JSON code handles."""
    # The parser and the encoders recurse once per level of nesting, so a
    # file nested deeper than Python's recursion limit cannot be handled.
    return StorageError(
        f"The state file {path} is nested too deeply for Python's JSON parser. "
        f"{FIX_ADVICE}",
        path=str(path),
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value")


def _check_shape(state: Any, path: Path) -> None:
    if not isinstance(state, dict):
        raise StorageError(
            f"The state file {path} must contain a JSON object of namespaces, "
            f"but its top level is {json_type_name(state)}. {FIX_ADVICE}",
            path=str(path),
        )

    for namespace, stored in state.items():
        if not isinstance(stored, dict):
            raise StorageError(
                f"Namespace {namespace!r} in the state file {path} must be a JSON "
                f"object of keys, but it is {json_type_name(stored)}. {FIX_ADVICE}",
                path=str(path),
            )
