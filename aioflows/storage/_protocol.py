"""The interface that every storage backend implements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = ["JSONValue", "Storage"]

#: A JSON-serialisable value: a dict with str keys, a list, str, int, a finite
#: float, bool or None, nested to any depth that ``json`` can encode.
JSONValue: TypeAlias = Any


@runtime_checkable
class Storage(Protocol):
    """An async key-value store of JSON values, grouped by namespace.

    Many managers share one store, and each manager uses its name as its
    namespace. Namespaces and keys are non-empty strings. A value that is not
    JSON-serialisable raises TypeError before anything is written. Values
    returned are copies, so mutating them does not change the store.
    """

    async def get(self, namespace: str, key: str) -> JSONValue | None:
        """Return the value stored under ``key``, or None when it is missing."""
        ...

    async def set(self, namespace: str, key: str, value: JSONValue) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""
        ...

    async def delete(self, namespace: str, key: str) -> None:
        """Remove ``key``. Removing a missing key does nothing."""
        ...

    async def set_many(self, namespace: str, values: Mapping[str, JSONValue]) -> None:
        """Store every item of ``values`` in one atomic change."""
        ...

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """Remove every key in ``keys`` in one atomic change, skipping missing ones."""
        ...

    async def items(self, namespace: str) -> dict[str, JSONValue]:
        """Return a copy of the keys and values in ``namespace``, {} when empty."""
        ...

    async def namespaces(self) -> list[str]:
        """Return the sorted names of the namespaces that contain at least one key."""
        ...
