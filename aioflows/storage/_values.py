"""Argument checks and the canonical JSON encoding that every backend shares."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ._protocol import JSONValue

__all__ = [
    "check_keys",
    "check_name",
    "decode_value",
    "encode_value",
    "encode_values",
]

_ALLOWED_VALUES = "dicts with str keys, lists, str, int, finite float, bool and None"


def check_name(name: object, argument: str) -> str:
    """Return ``name`` if it is a non-empty str that UTF-8 can encode.

    Args:
        name: The namespace or key to check.
        argument: The argument name to put in the error message.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is empty or contains a lone surrogate.
    """
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError(f"{argument} must be a non-empty str")

    # Python decodes a file name that is not UTF-8 into lone surrogates, and
    # neither the JSON file nor SQLite can store such a str.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{argument} must be valid Unicode, but {name!r} contains a lone "
            f"surrogate (a file name that is not UTF-8 decodes to one); "
            f"rename the source of the {argument} to UTF-8 text"
        ) from None
    return name


def check_keys(keys: Iterable[str]) -> list[str]:
    """Return ``keys`` as a list after checking each key.

    A single str is rejected because iterating it would yield its characters.

    Raises:
        TypeError: ``keys`` is a str or bytes, or a key is not a str.
        ValueError: A key is empty.
    """
    if isinstance(keys, (str, bytes)):
        raise TypeError(
            f"keys must be an iterable of str such as a list, not a single "
            f"{type(keys).__name__} ({keys!r}); pass [{keys!r}] to delete one key"
        )
    return [check_name(key, "key") for key in keys]


def encode_value(namespace: str, key: str, value: JSONValue) -> str:
    """Encode ``value`` as compact JSON with sorted keys.

    Equal values always give the same text, so backends compare the text to
    detect an unchanged value. The value must survive a round trip unchanged:
    tuples and dict keys that are not str are rejected because JSON would
    turn them into lists and str keys.

    Raises:
        TypeError: ``value`` is not JSON-serialisable. The message names the
            namespace and key.
    """
    try:
        text = json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        text.encode("utf-8")
        unchanged = json.loads(text) == value
    except UnicodeEncodeError:
        reason = "it contains a str with a lone surrogate, which UTF-8 cannot encode"
        raise _value_error(namespace, key, reason) from None
    except RecursionError:
        raise _value_error(namespace, key, "it is nested too deeply") from None
    except (TypeError, ValueError) as error:
        raise _value_error(namespace, key, str(error)) from error

    if not unchanged:
        reason = "JSON would change it (a tuple or a dict key that is not a str)"
        raise _value_error(namespace, key, reason)
    return text


def encode_values(namespace: str, values: Mapping[str, JSONValue]) -> dict[str, str]:
    """Check every key and encode every value of ``values``.

    Raises:
        TypeError: ``values`` is not a mapping, a key is not a str, or a value
            is not JSON-serialisable.
        ValueError: A key is empty.
    """
    if not isinstance(values, Mapping):
        raise TypeError(
            f"values must be a mapping of str keys to JSON values, "
            f"not {type(values).__name__}"
        )
    return {
        check_name(key, "key"): encode_value(namespace, key, value)
        for key, value in values.items()
    }


def decode_value(text: str) -> Any:
    """Decode JSON text produced by :func:`encode_value` into a fresh object."""
    return json.loads(text)


def _value_error(namespace: str, key: str, reason: str) -> TypeError:
    return TypeError(
        f"Cannot store the value of key {key!r} in namespace {namespace!r}: "
        f"{reason}. Store only {_ALLOWED_VALUES}."
    )
