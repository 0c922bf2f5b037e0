"""Deploy locks: one exclusive section per namespace while a flow is deployed.

A manager holds the deploy lock of its namespace from reading the stored
flow id to storing the id of the flow it created or updated. The file
backends lock a file per namespace next to the state file, so the section
excludes other tasks, other storage objects and other processes that use
the same file. The task holding a deploy lock may enter it again, because
a manager that replaces a missing flow calls ``register_flow`` while it
holds the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from weakref import WeakKeyDictionary

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs
import filelock

from .._errors import StorageError
from ._file_locks import acquire_file_lock
from ._files import make_private_dirs, resolve_path

__all__ = ["deploy_lock_path", "hold_file_deploy_lock", "hold_memory_deploy_lock"]

logger = logging.getLogger(__name__)

# Hex digits of the namespace's SHA-256 in the lock file name. 64 bits make a
# collision unlikely, and a collision would only make two namespaces wait
# for each other.
_DIGEST_LENGTH = 16


@attrs.define(eq=False)
class _TaskLock:
    """An anyio lock that the task holding it may enter again without waiting."""

    _lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)
    _owner: object | None = attrs.field(default=None, init=False)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[bool]:
        """Hold the lock for the block.

        Yields True when this call took the lock, and False when the current
        task already held it.
        """
        task = anyio.get_current_task().id
        if self._owner == task:
            yield False
            return

        async with self._lock:
            self._owner = task
            try:
                yield True
            finally:
                self._owner = None


# An anyio lock works only in the event loop that first used it, so each
# event loop gets its own task locks.
_file_task_locks: anyio.lowlevel.RunVar[dict[Path, _TaskLock]] = anyio.lowlevel.RunVar(
    "aioflows_file_deploy_locks"
)
_memory_task_locks: anyio.lowlevel.RunVar[
    WeakKeyDictionary[object, dict[str, _TaskLock]]
] = anyio.lowlevel.RunVar("aioflows_memory_deploy_locks")


def deploy_lock_path(state_path: Path, namespace: str) -> Path:
    """Return the lock file of ``namespace`` for the state file ``state_path``.

    The file is ``<state path>.locks/<first 16 hex digits of the SHA-256 of
    the namespace>.lock``, where the state path has every symbolic link
    followed. So a storage that opens the state file through a link and one
    that opens it directly use the same lock. This function reads the file
    system to follow links, so call it from a worker thread.
    """
    target = resolve_path(state_path)
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()
    return target.with_name(target.name + ".locks") / f"{digest[:_DIGEST_LENGTH]}.lock"


@contextlib.asynccontextmanager
async def hold_file_deploy_lock(
    state_path: Path, namespace: str, max_wait: float
) -> AsyncIterator[None]:
    """Hold the deploy lock of ``namespace`` for the state file ``state_path``.

    Tasks of this event loop wait for each other in the event loop. Only the
    task that holds the in-process lock waits for other processes, in a
    worker thread.

    Raises:
        StorageError: The lock directory or file cannot be created, or
            another holder kept the lock for more than ``max_wait`` seconds.
    """
    lock_path = await anyio.to_thread.run_sync(deploy_lock_path, state_path, namespace)

    async with _file_task_lock(lock_path).hold() as taken:
        if not taken:
            yield
            return

        lock = await anyio.to_thread.run_sync(
            _acquire_blocking, lock_path, state_path, namespace, max_wait
        )
        try:
            yield
        finally:
            # Release even when the task is being cancelled, or the lock
            # stays held until this process ends.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lock.release)
            logger.debug("Released the deploy lock of namespace %r", namespace)


@contextlib.asynccontextmanager
async def hold_memory_deploy_lock(owner: object, namespace: str) -> AsyncIterator[None]:
    """Hold the deploy lock of ``namespace`` in the storage object ``owner``."""
    async with _memory_task_lock(owner, namespace).hold():
        yield


def _file_task_lock(lock_path: Path) -> _TaskLock:
    locks = _file_task_locks.get(None)
    if locks is None:
        locks = {}
        _file_task_locks.set(locks)
    return locks.setdefault(lock_path, _TaskLock())


def _memory_task_lock(owner: object, namespace: str) -> _TaskLock:
    locks = _memory_task_locks.get(None)
    if locks is None:
        locks = WeakKeyDictionary()
        _memory_task_locks.set(locks)
    return locks.setdefault(owner, {}).setdefault(namespace, _TaskLock())


def _acquire_blocking(
    lock_path: Path, state_path: Path, namespace: str, timeout: float
) -> filelock.BaseFileLock:
    try:
        make_private_dirs(lock_path.parent)
    except OSError as error:
        raise StorageError(
            f"Cannot create the lock directory {lock_path.parent} for the deploy "
            f"lock of namespace {namespace!r}: {error.strerror or error}. Check the "
            f"permissions of the directory of {state_path} or choose another path.",
            path=str(state_path),
        ) from error

    lock = filelock.FileLock(lock_path, mode=0o600, thread_local=False)
    try:
        acquired = _acquire_logging_wait(lock, lock_path, namespace, timeout)
    except OSError as error:
        raise StorageError(
            f"Cannot open the lock file {lock_path} for the deploy lock of namespace "
            f"{namespace!r}: {error.strerror or error}. Check the permissions of "
            f"its directory.",
            path=str(state_path),
        ) from error

    if not acquired:
        raise StorageError(
            f"Timed out after {timeout} s waiting for the deploy lock of namespace "
            f"{namespace!r} ({lock_path}): another process or storage object is "
            f"deploying this namespace's flow. Retry later, or raise deploy_timeout "
            f"if deploys are slow.",
            path=str(state_path),
        )
    logger.debug("Took the deploy lock of namespace %r (%s)", namespace, lock_path)
    return lock


def _acquire_logging_wait(
    lock: filelock.BaseFileLock, lock_path: Path, namespace: str, timeout: float
) -> bool:
    # A deploy can take minutes when the service replies with Retry-After, so log
    # why this process waits.
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        logger.info(
            "Waiting up to %s s for the deploy lock of namespace %r (%s), which "
            "another process or storage object holds",
            timeout,
            namespace,
            lock_path,
        )
    else:
        return True

    return acquire_file_lock(lock, timeout)
