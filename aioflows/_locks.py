"""Locks that make deploys of one storage namespace single-flight."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import cast

import anyio
import anyio.lowlevel
import attrs

__all__ = ["DeployLock", "ReentrantLock", "namespace_lock"]


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


StorageSection = Callable[[str], contextlib.AbstractAsyncContextManager[None]]


@attrs.define(eq=False)
class DeployLock:
    """The deploy lock of one storage namespace in one event loop.

    Entering it with ``async with`` takes only the in-process lock, enough
    for a quick look at stored state. :meth:`exclusive` also takes the
    storage's own ``deploy_lock(namespace)`` when the storage offers one,
    so storage objects and processes that share a state file deploy one at
    a time too.
    """

    local: ReentrantLock = attrs.field(factory=ReentrantLock)
    # How deep the owning task is inside exclusive(). The storage section is
    # entered once, at depth 0, because a file lock may not be reentrant.
    _exclusive_depth: int = attrs.field(default=0, init=False)

    async def __aenter__(self) -> None:
        await self.local.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.local.__aexit__(exc_type, exc, traceback)

    @contextlib.asynccontextmanager
    async def exclusive(self, storage: object, namespace: str) -> AsyncIterator[None]:
        """Hold the in-process lock and the storage's section for *namespace*.

        Callers re-read stored state after entering, because another
        process may have deployed while they waited.
        """
        async with self.local:
            section = _storage_section(storage)
            if self._exclusive_depth > 0 or section is None:
                async with self._nested():
                    yield
                return

            async with section(namespace), self._nested():
                yield

    @contextlib.asynccontextmanager
    async def _nested(self) -> AsyncIterator[None]:
        self._exclusive_depth += 1
        try:
            yield
        finally:
            self._exclusive_depth -= 1


def _storage_section(storage: object) -> StorageSection | None:
    """Return the storage's optional ``deploy_lock`` method, or None.

    ``deploy_lock`` is not part of the Storage protocol, so storages that
    lack it still work, with in-process locking only.
    """
    section = getattr(storage, "deploy_lock", None)
    if not callable(section):
        return None
    return cast(StorageSection, section)


# One lock per (storage, namespace) in each event loop, so managers that
# share a namespace, such as one built per web request for the same flow,
# deploy one at a time. An anyio lock belongs to the event loop that first
# used it, so a storage reused by a later anyio.run gets fresh locks.
_NAMESPACE_LOCKS: anyio.lowlevel.RunVar[
    weakref.WeakKeyDictionary[object, dict[str, DeployLock]]
] = anyio.lowlevel.RunVar("aioflows_namespace_locks")


def namespace_lock(storage: object, namespace: str) -> DeployLock | None:
    """Return the deploy lock shared by every manager of *namespace* in *storage*.

    Must be called in a running event loop. Returns None for a storage
    object that cannot be weakly referenced or hashed; the caller then
    falls back to a lock of its own.
    """
    by_storage = _NAMESPACE_LOCKS.get(None)
    if by_storage is None:
        by_storage = weakref.WeakKeyDictionary()
        _NAMESPACE_LOCKS.set(by_storage)

    try:
        locks = by_storage.setdefault(storage, {})
    except TypeError:
        return None
    return locks.setdefault(namespace, DeployLock())
