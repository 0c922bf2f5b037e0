"""A storage backend that keeps values in memory for the life of the object."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

import anyio.lowlevel
import attrs

from ._deploy_locks import hold_memory_deploy_lock
from ._protocol import JSONValue
from ._values import check_keys, check_name, decode_value, encode_value, encode_values

__all__ = ["MemoryStorage"]


@attrs.define(eq=False)
class MemoryStorage:
    """A storage that keeps everything in memory and loses it when dropped.

    Useful for tests and for programs that register their flows on every
    start. Values are kept as JSON text, so each read returns a fresh copy
    and later changes to a stored object do not reach the store. Every
    method is a checkpoint and makes its change without awaiting, so
    concurrent tasks never see a half-applied ``set_many`` or
    ``delete_many``.
    """

    _data: dict[str, dict[str, str]] = attrs.field(factory=dict, init=False, repr=False)

    def deploy_lock(
        self, namespace: str
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Return an exclusive section for deploying the flow of ``namespace``.

        The section excludes the other tasks of this event loop that take
        the deploy lock of the same namespace in this object. The task
        holding it may enter it again.

        Raises:
            TypeError: ``namespace`` is not a str.
            ValueError: ``namespace`` is empty or not valid Unicode.
        """
        check_name(namespace, "namespace")
        return hold_memory_deploy_lock(self, namespace)

    async def get(self, namespace: str, key: str) -> JSONValue | None:
        """Return the value stored under ``key``, or None when it is missing.

        Raises:
            TypeError: ``namespace`` or ``key`` is not a str.
            ValueError: ``namespace`` or ``key`` is empty.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")
        await anyio.lowlevel.checkpoint()

        text = self._data.get(namespace, {}).get(key)
        return None if text is None else decode_value(text)

    async def set(self, namespace: str, key: str, value: JSONValue) -> None:
        """Store ``value`` under ``key``, replacing any previous value.

        Raises:
            TypeError: An argument has the wrong type, or ``value`` is not
                JSON-serialisable.
            ValueError: ``namespace`` or ``key`` is empty.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")
        text = encode_value(namespace, key, value)
        await anyio.lowlevel.checkpoint()

        self._data.setdefault(namespace, {})[key] = text

    async def delete(self, namespace: str, key: str) -> None:
        """Remove ``key``. Removing a missing key does nothing.

        Raises:
            TypeError: ``namespace`` or ``key`` is not a str.
            ValueError: ``namespace`` or ``key`` is empty.
        """
        check_name(namespace, "namespace")
        await self.delete_many(namespace, [check_name(key, "key")])

    async def set_many(self, namespace: str, values: Mapping[str, JSONValue]) -> None:
        """Store every item of ``values`` in one atomic change.

        Raises:
            TypeError: An argument has the wrong type, or a value is not
                JSON-serialisable. Nothing is stored then.
            ValueError: ``namespace`` or a key is empty.
        """
        check_name(namespace, "namespace")
        texts = encode_values(namespace, values)
        await anyio.lowlevel.checkpoint()

        if texts:
            self._data.setdefault(namespace, {}).update(texts)

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """Remove every key in ``keys`` in one atomic change, skipping missing ones.

        Raises:
            TypeError: ``namespace`` or a key is not a str, or ``keys`` is a
                single str.
            ValueError: ``namespace`` or a key is empty.
        """
        check_name(namespace, "namespace")
        names = check_keys(keys)
        await anyio.lowlevel.checkpoint()

        stored = self._data.get(namespace, {})
        for key in names:
            stored.pop(key, None)
        if not stored:
            self._data.pop(namespace, None)

    async def items(self, namespace: str) -> dict[str, JSONValue]:
        """Return a copy of the keys and values in ``namespace``, {} when empty.

        Raises:
            TypeError: ``namespace`` is not a str.
            ValueError: ``namespace`` is empty.
        """
        check_name(namespace, "namespace")
        await anyio.lowlevel.checkpoint()

        stored = self._data.get(namespace, {})
        return {key: decode_value(text) for key, text in stored.items()}

    async def namespaces(self) -> list[str]:
        """Return the sorted names of the namespaces that contain at least one key."""
        await anyio.lowlevel.checkpoint()
        return sorted(namespace for namespace, stored in self._data.items() if stored)
