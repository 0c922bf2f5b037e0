"""A lock that the task holding it may take again."""

from __future__ import annotations

import weakref
from types import TracebackType

import anyio
import attrs

__all__ = ["ReentrantLock", "namespace_lock"]


@attrs.define(eq=False)
class ReentrantLock:
    """An anyio lock that its owning task may acquire again without waiting.

    A manager holds its lock through a sync and calls ``on_change``, which
    usually calls ``register_flow``, which takes the same lock: reentry lets
    that call proceed while other tasks keep waiting.
    """

    _lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)
    _owner: object | None = attrs.field(default=None, init=False)
    _depth: int = attrs.field(default=0, init=False)

    async def __aenter__(self) -> None:
        task = anyio.get_current_task().id
        if self._owner == task:
            self._depth += 1
            return

        await self._lock.acquire()
        self._owner = task
        self._depth = 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


# One lock per (storage, namespace), so managers that share a namespace, such
# as one built per web request for the same flow, deploy one at a time.
_NAMESPACE_LOCKS: weakref.WeakKeyDictionary[object, dict[str, ReentrantLock]] = (
    weakref.WeakKeyDictionary()
)


def namespace_lock(storage: object, namespace: str) -> ReentrantLock | None:
    """Return the deploy lock shared by every manager of *namespace* in *storage*.

    Returns None for a storage object that cannot be weakly referenced or
    hashed; the caller then falls back to a lock of its own.
    """
    try:
        locks = _NAMESPACE_LOCKS.setdefault(storage, {})
    except TypeError:
        return None
    return locks.setdefault(namespace, ReentrantLock())
