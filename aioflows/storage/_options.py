"""Converters and validators for the constructor arguments of the file backends."""

from __future__ import annotations

import math
import os
from pathlib import Path

import attrs

__all__ = ["check_timeout", "to_path"]


def to_path(path: str | os.PathLike[str]) -> Path:
    """Convert ``path`` to a Path without touching the file system.

    Raises:
        ValueError: ``path`` is empty, which would mean the working directory.
    """
    if not os.fspath(path):
        raise ValueError("path must not be empty; pass the file to store state in")
    return Path(path)


def check_timeout(
    instance: object, attribute: attrs.Attribute[float], value: float
) -> None:
    """Check that a timeout is a positive finite number of seconds.

    Raises:
        TypeError: ``value`` is not an int or float.
        ValueError: ``value`` is zero, negative, infinite or NaN.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{attribute.name} must be a number of seconds, not {type(value).__name__}"
        )
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(
            f"{attribute.name} must be a positive finite number of seconds, "
            f"not {value!r}"
        )
