"""The small JSONPath subset that flow definitions use.

Supported: ``$``, ``.name``, ``['name']``, ``[index]`` (negative too) and
``[start:end]`` slices. Filters and wildcards are not.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Final

__all__ = ["MISSING", "JSONPathError", "get_path", "set_path"]

_SEGMENT = re.compile(
    r"""\.(?P<name>[^.\[\]]+)
      | \[\s*'(?P<single>[^']*)'\s*\]
      | \[\s*"(?P<double>[^"]*)"\s*\]
      | \[\s*(?P<start>-?\d*)\s*:\s*(?P<end>-?\d*)\s*\]
      | \[\s*(?P<index>-?\d+)\s*\]""",
    re.VERBOSE,
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class JSONPathError(ValueError):
    """A path that the emulator cannot parse."""


def _segments(path: str) -> list[str | int | slice]:
    if not path.startswith("$"):
        raise JSONPathError(f"JSONPath {path!r} must start with '$'")

    segments: list[str | int | slice] = []
    position = 1
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise JSONPathError(
                f"JSONPath {path!r} has an unsupported part at {path[position:]!r}"
            )
        segments.append(_segment_of(match))
        position = match.end()
    return segments


def _segment_of(match: re.Match[str]) -> str | int | slice:
    for group in ("name", "single", "double"):
        if match.group(group) is not None:
            return match.group(group)

    if match.group("index") is not None:
        return int(match.group("index"))

    start, end = match.group("start"), match.group("end")
    return slice(int(start) if start else None, int(end) if end else None)


def get_path(document: Any, path: str) -> Any:
    """Return the value at a path.

    Args:
        document: A JSON value.
        path: A JSONPath such as ``$.a.b[0]``.

    Returns:
        The value, or :data:`MISSING` when any step does not exist.

    Raises:
        JSONPathError: If the path uses syntax outside the supported subset.
    """
    value = document
    for segment in _segments(path):
        value = _step(value, segment)
        if value is MISSING:
            return MISSING
    return value


def _step(value: Any, segment: str | int | slice) -> Any:
    if isinstance(segment, str):
        if isinstance(value, dict) and segment in value:
            return value[segment]
        return MISSING

    if not isinstance(value, list):
        return MISSING

    if isinstance(segment, slice):
        return value[segment]

    if -len(value) <= segment < len(value):
        return value[segment]
    return MISSING


def set_path(document: Any, path: str, value: Any) -> Any:
    """Return a copy of a document with a value placed at a path.

    Missing objects along the path are created. ``$`` replaces the document.

    Args:
        document: A JSON value, left unchanged.
        path: A JSONPath of names and indexes, such as ``$.a.b``.
        value: The value to place.

    Returns:
        The new document.

    Raises:
        JSONPathError: If the path has a slice or leads through a value that is
            neither an object nor a list.
    """
    segments = _segments(path)
    if not segments:
        return value

    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    target: Any = result
    for segment in segments[:-1]:
        target = _child_for_write(target, segment, path)

    _write(target, segments[-1], value, path)
    return result


def _child_for_write(target: Any, segment: str | int | slice, path: str) -> Any:
    if isinstance(segment, str) and isinstance(target, dict):
        child = target.get(segment)
        if not isinstance(child, (dict, list)):
            child = {}
            target[segment] = child
        return child

    if (
        isinstance(segment, int)
        and isinstance(target, list)
        and -len(target) <= segment < len(target)
    ):
        return target[segment]

    raise JSONPathError(f"cannot write through {segment!r} in JSONPath {path!r}")


def _write(target: Any, segment: str | int | slice, value: Any, path: str) -> None:
    if isinstance(segment, str) and isinstance(target, dict):
        target[segment] = value
        return

    if (
        isinstance(segment, int)
        and isinstance(target, list)
        and -len(target) <= segment < len(target)
    ):
        target[segment] = value
        return

    raise JSONPathError(f"cannot write {segment!r} in JSONPath {path!r}")
