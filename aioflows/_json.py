"""Helpers shared by code that reports on parsed JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["json_type_name"]


def json_type_name(value: Any) -> str:
    """Name the JSON type of a parsed value as a person would, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
