"""A storage backend that keeps every namespace in one human-readable JSON file."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import attrs
import filelock

from .._errors import StorageError
from ._deploy_locks import hold_file_deploy_lock
from ._file_locks import acquire_file_lock
from ._files import make_private_dirs, replace_file, resolve_path
from ._group_commit import submit_change
from ._options import check_timeout, to_path
from ._protocol import JSONValue
from ._shared_reads import shared_read
from ._state_cache import StateCache
from ._state_format import State, canonical_json, copy_value, render_state
from ._values import check_keys, check_name, decode_value, encode_value, encode_values

__all__ = ["JSONFileStorage"]

logger = logging.getLogger(__name__)


@attrs.frozen
class _Change:
    """One call's change: keys to set to JSON text, or keys to delete."""

    namespace: str
    values: Mapping[str, str] = attrs.field(factory=dict)
    deleted: tuple[str, ...] = ()


@attrs.define(eq=False)
class JSONFileStorage:
    """A storage that keeps every namespace in one JSON file.

    The file contains one JSON object, ``{namespace: {key: value}}``,
    indented with sorted keys so people can read and diff it. Constructing
    the object does no I/O. A missing file reads as empty and is created
    with mode 0600, together with missing parent directories (mode 0700),
    at the first write.

    Reads keep the last parsed state and parse the file again only when it
    changed: a stat shows that, or for a file changed in the last seconds a
    comparison of its bytes. Changes that tasks of one event loop make while
    a write is in progress are written together by the next write. Each write takes an inter-process lock on ``<path>.lock``,
    re-reads the file, applies only its own changes in the order they were
    made and replaces the file atomically, so concurrent writers in several
    processes lose no update. A write that changes nothing leaves the file
    untouched. Reads take no lock, because the atomic replace never shows a
    partial file. A symbolic link at ``path`` is followed: writes replace
    the file it points to and lock next to that file.

    Args:
        path: The state file. A relative path is resolved against the
            working directory at each call.
        timeout: Maximum seconds to wait for another process's lock before
            raising StorageError.
        deploy_timeout: Maximum seconds that :meth:`deploy_lock` waits for
            another holder of the same namespace.
    """

    path: Path = attrs.field(converter=to_path)
    timeout: float = attrs.field(
        default=30.0, kw_only=True, repr=False, validator=check_timeout
    )
    # NOTE: a guess. A holder's deploy is bounded by its Session's timeout and
    # retries, which with the defaults come to a few minutes per request.
    deploy_timeout: float = attrs.field(
        default=600.0, kw_only=True, repr=False, validator=check_timeout
    )
    _cache: StateCache = attrs.field(factory=StateCache, init=False, repr=False)

    @property
    def lock_path(self) -> Path:
        """The file that the inter-process lock uses.

        It is ``<path>.lock`` next to the file that ``path`` names after
        following symbolic links. Reading it touches the file system.
        """
        return _lock_path_of(resolve_path(self.path))

    def deploy_lock(
        self, namespace: str
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Return an exclusive section for deploying the flow of ``namespace``.

        The section excludes every task, storage object and process that
        takes the deploy lock of the same namespace in the same state file.
        It locks ``<path>.locks/<16 hex digits>.lock``, whose directory is
        created with mode 0700 and file with mode 0600. The task holding the
        section may enter it again. Entering it writes nothing to the state
        file.

        Raises:
            TypeError: ``namespace`` is not a str.
            ValueError: ``namespace`` is empty or not valid Unicode.
            StorageError: On entry, when the lock cannot be created or another
                holder kept it longer than ``deploy_timeout`` seconds.
        """
        check_name(namespace, "namespace")
        return hold_file_deploy_lock(self.path, namespace, self.deploy_timeout)

    async def get(self, namespace: str, key: str) -> JSONValue | None:
        """Return the value stored under ``key``, or None when it is missing.

        Raises:
            TypeError: ``namespace`` or ``key`` is not a str.
            ValueError: ``namespace`` or ``key`` is empty.
            StorageError: The file cannot be read or is not a valid state file.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")

        stored = (await self._read()).get(namespace, {})
        return copy_value(stored.get(key), self.path)

    async def set(self, namespace: str, key: str, value: JSONValue) -> None:
        """Store ``value`` under ``key``, replacing any previous value.

        Raises:
            TypeError: An argument has the wrong type, or ``value`` is not
                JSON-serialisable. Nothing is written then.
            ValueError: ``namespace`` or ``key`` is empty.
            StorageError: The file cannot be read or written, or the lock
                timed out.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")
        text = encode_value(namespace, key, value)

        await self._submit(_Change(namespace, values={key: text}))

    async def delete(self, namespace: str, key: str) -> None:
        """Remove ``key``. Removing a missing key writes nothing.

        Raises:
            TypeError: ``namespace`` or ``key`` is not a str.
            ValueError: ``namespace`` or ``key`` is empty.
            StorageError: The file cannot be read or written, or the lock
                timed out.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")

        await self._submit(_Change(namespace, deleted=(key,)))

    async def set_many(self, namespace: str, values: Mapping[str, JSONValue]) -> None:
        """Store every item of ``values`` in one atomic change.

        Raises:
            TypeError: An argument has the wrong type, or a value is not
                JSON-serialisable. Nothing is written then.
            ValueError: ``namespace`` or a key is empty.
            StorageError: The file cannot be read or written, or the lock
                timed out.
        """
        check_name(namespace, "namespace")
        texts = encode_values(namespace, values)
        if not texts:
            return

        await self._submit(_Change(namespace, values=texts))

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """Remove every key in ``keys`` in one atomic change, skipping missing ones.

        Raises:
            TypeError: ``namespace`` or a key is not a str, or ``keys`` is a
                single str.
            ValueError: ``namespace`` or a key is empty.
            StorageError: The file cannot be read or written, or the lock
                timed out.
        """
        check_name(namespace, "namespace")
        names = check_keys(keys)
        if not names:
            return

        await self._submit(_Change(namespace, deleted=tuple(names)))

    async def items(self, namespace: str) -> dict[str, JSONValue]:
        """Return a copy of the keys and values in ``namespace``, {} when empty.

        Raises:
            TypeError: ``namespace`` is not a str.
            ValueError: ``namespace`` is empty.
            StorageError: The file cannot be read or is not a valid state file.
        """
        check_name(namespace, "namespace")

        stored = (await self._read()).get(namespace, {})
        return {key: copy_value(value, self.path) for key, value in stored.items()}

    async def namespaces(self) -> list[str]:
        """Return the sorted names of the namespaces that contain at least one key.

        Raises:
            StorageError: The file cannot be read or is not a valid state file.
        """
        state = await self._read()
        return sorted(namespace for namespace, stored in state.items() if stored)

    async def _read(self) -> State:
        # The state is shared with the cache and other tasks, so callers
        # copy what they return.
        return await shared_read(self, self._read_blocking)

    def _read_blocking(self) -> State:
        return self._cache.read(self.path, self.path)

    async def _submit(self, change: _Change) -> None:
        # Tasks of this event loop that change the file while a write runs
        # are written together by the next write, in one worker thread.
        await submit_change(self, change, self._write_blocking)

    def _write_blocking(self, take: Callable[[], list[_Change]]) -> None:
        # Writers that reach the file through different symbolic links must
        # read, lock and replace the same file.
        target = resolve_path(self.path)
        try:
            make_private_dirs(target.parent)
        except OSError as error:
            raise StorageError(
                f"Cannot create the directory {target.parent} for the state file "
                f"{self.path}: {error.strerror or error}. Create it or choose "
                f"another path.",
                path=str(self.path),
            ) from error

        lock_path = _lock_path_of(target)
        lock = filelock.FileLock(lock_path, mode=0o600, thread_local=False)
        try:
            acquired = acquire_file_lock(lock, self.timeout)
        except OSError as error:
            raise StorageError(
                f"Cannot open the lock file {lock_path}: "
                f"{error.strerror or error}. Check the permissions of its directory.",
                path=str(self.path),
            ) from error
        if not acquired:
            raise StorageError(
                f"Timed out after {self.timeout} s waiting for the lock file "
                f"{lock_path}: another process or storage object is writing "
                f"the state file. Retry later, or raise the timeout if writes "
                f"are slow.",
                path=str(self.path),
            )

        try:
            self._apply(take(), target)
        finally:
            lock.release()

    def _apply(self, changes: Sequence[_Change], target: Path) -> None:
        state = self._cache.read(target, self.path)
        changed_state, namespaces = _apply_changes(state, changes)
        if not _differs(state, changed_state, namespaces, self.path):
            logger.debug("Left %s unchanged: the change was already stored", self.path)
            return

        data = render_state(changed_state, self.path)
        try:
            replace_file(target, data)
        except OSError as error:
            raise StorageError(
                f"Cannot write the state file {self.path}: {error.strerror or error}. "
                f"Check the free space and the permissions of its directory.",
                path=str(self.path),
            ) from error

        self._cache.remember(changed_state, data)
        logger.debug(
            "Wrote %s (%d bytes, %d changes)", self.path, len(data), len(changes)
        )


def _apply_changes(state: State, changes: Sequence[_Change]) -> tuple[State, set[str]]:
    """Return ``state`` with ``changes`` applied in order, and the namespaces touched.

    ``state`` is shared with the cache and readers, so the result copies the
    top level and each touched namespace instead of changing them.
    """
    changed = dict(state)
    namespaces: set[str] = set()
    for change in changes:
        if change.namespace not in namespaces:
            namespaces.add(change.namespace)
            stored = changed.get(change.namespace)
            if stored is not None:
                changed[change.namespace] = dict(stored)

        if change.values:
            _set_values(changed, change.namespace, change.values)
        else:
            _delete_keys(changed, change.namespace, change.deleted)
    return changed, namespaces


def _set_values(state: State, namespace: str, texts: Mapping[str, str]) -> None:
    stored = state.setdefault(namespace, {})
    for key, text in texts.items():
        stored[key] = decode_value(text)


def _delete_keys(state: State, namespace: str, keys: Iterable[str]) -> None:
    stored = state.get(namespace)
    if stored is None:
        return

    removed = [stored.pop(key) for key in keys if key in stored]
    # Drop a namespace emptied by this change, but leave other empty ones
    # alone so that a change with no effect rewrites nothing.
    if removed and not stored:
        del state[namespace]


def _differs(before: State, after: State, namespaces: set[str], path: Path) -> bool:
    """Return whether any of ``namespaces`` differs between the two states.

    Values are compared as canonical JSON, so ``1``, ``1.0`` and ``True``
    differ, and a hand-formatted file is not rewritten for equal values.
    """
    for namespace in namespaces:
        old, new = before.get(namespace), after.get(namespace)
        if old is None or new is None:
            if old is not new:
                return True
        elif canonical_json(old, path) != canonical_json(new, path):
            return True
    return False


def _lock_path_of(target: Path) -> Path:
    return target.with_name(target.name + ".lock")
