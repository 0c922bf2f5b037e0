"""In-process locks that belong to one event loop each."""

from __future__ import annotations

from weakref import WeakKeyDictionary

import anyio
import anyio.lowlevel

__all__ = ["loop_lock"]

# An anyio.Lock works only in the event loop that first used it, but one
# storage object may serve several anyio.run calls, on asyncio and trio alike.
_locks: anyio.lowlevel.RunVar[WeakKeyDictionary[object, anyio.Lock]] = (
    anyio.lowlevel.RunVar("aioflows_storage_locks")
)


def loop_lock(owner: object) -> anyio.Lock:
    """Return the lock of ``owner`` in the running event loop, creating it on first use.

    The lock goes away with ``owner`` or with the event loop.
    """
    locks = _locks.get(None)
    if locks is None:
        locks = WeakKeyDictionary()
        _locks.set(locks)

    lock = locks.get(owner)
    if lock is None:
        lock = locks[owner] = anyio.Lock()
    return lock
