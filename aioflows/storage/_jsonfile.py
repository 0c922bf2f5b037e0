"""A storage backend that keeps every namespace in one human-readable JSON file."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs
import filelock

from .._errors import StorageError
from .._json import json_type_name
from ._deploy_locks import hold_file_deploy_lock
from ._file_locks import acquire_file_lock
from ._files import make_private_dirs, replace_file, resolve_path
from ._loop_locks import loop_lock
from ._options import check_timeout, to_path
from ._protocol import JSONValue
from ._values import check_keys, check_name, decode_value, encode_value, encode_values

__all__ = ["JSONFileStorage"]

logger = logging.getLogger(__name__)

State = dict[str, dict[str, Any]]

_FIX_ADVICE = (
    "Fix the file or move it aside; aioflows never resets a file it cannot read."
)


@attrs.define(eq=False)
class JSONFileStorage:
    """A storage that keeps every namespace in one JSON file.

    The file contains one JSON object, ``{namespace: {key: value}}``,
    indented with sorted keys so people can read and diff it. Constructing
    the object does no I/O. A missing file reads as empty and is created
    with mode 0600, together with missing parent directories (mode 0700),
    at the first write.

    Each write takes an in-process lock and then an inter-process lock on
    ``<path>.lock``. It re-reads the file, applies only its own change and
    replaces the file atomically, so concurrent writers in several
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

        state = await anyio.to_thread.run_sync(_read_state, self.path)
        return state.get(namespace, {}).get(key)

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

        await self._update(lambda state: _set_values(state, namespace, {key: text}))

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

        await self._update(lambda state: _delete_keys(state, namespace, [key]))

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

        await self._update(lambda state: _set_values(state, namespace, texts))

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

        await self._update(lambda state: _delete_keys(state, namespace, names))

    async def items(self, namespace: str) -> dict[str, JSONValue]:
        """Return a copy of the keys and values in ``namespace``, {} when empty.

        Raises:
            TypeError: ``namespace`` is not a str.
            ValueError: ``namespace`` is empty.
            StorageError: The file cannot be read or is not a valid state file.
        """
        check_name(namespace, "namespace")

        state = await anyio.to_thread.run_sync(_read_state, self.path)
        return state.get(namespace, {})

    async def namespaces(self) -> list[str]:
        """Return the sorted names of the namespaces that contain at least one key.

        Raises:
            StorageError: The file cannot be read or is not a valid state file.
        """
        state = await anyio.to_thread.run_sync(_read_state, self.path)
        return sorted(namespace for namespace, stored in state.items() if stored)

    async def _update(self, change: Callable[[State], None]) -> None:
        # The in-process lock keeps tasks from tying up one worker thread each
        # while they wait for the inter-process lock.
        async with loop_lock(self):
            await anyio.to_thread.run_sync(self._update_blocking, change)

    def _update_blocking(self, change: Callable[[State], None]) -> None:
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
            self._apply(change, target)
        finally:
            lock.release()

    def _apply(self, change: Callable[[State], None], target: Path) -> None:
        state = _read_state(target, reported_path=self.path)
        before = _canonical(state, self.path)

        change(state)
        if _canonical(state, self.path) == before:
            logger.debug("Left %s unchanged: the change was already stored", self.path)
            return

        data = _render(state, self.path)
        try:
            replace_file(target, data)
        except OSError as error:
            raise StorageError(
                f"Cannot write the state file {self.path}: {error.strerror or error}. "
                f"Check the free space and the permissions of its directory.",
                path=str(self.path),
            ) from error
        logger.debug("Wrote %s (%d bytes)", self.path, len(data))


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


def _lock_path_of(target: Path) -> Path:
    return target.with_name(target.name + ".lock")


def _read_state(path: Path, reported_path: Path | None = None) -> State:
    """Read and check the state file; a missing file reads as empty.

    Args:
        path: The file to read.
        reported_path: The path to name in errors, when it differs from ``path``
            (the configured path of a file reached through a link).

    Raises:
        StorageError: The file cannot be read, is not valid JSON or is not an
            object of objects.
    """
    name = path if reported_path is None else reported_path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StorageError(
            f"Cannot read the state file {name}: {error.strerror or error}. "
            f"Check that it is a file this user may read.",
            path=str(name),
        ) from error

    try:
        state = json.loads(data, parse_constant=_reject_constant)
    except ValueError as error:
        raise StorageError(
            f"The state file {name} is not valid JSON ({error}). {_FIX_ADVICE}",
            path=str(name),
        ) from error
    except RecursionError:
        raise _too_deep(name) from None

    _check_shape(state, name)
    return state  # type: ignore[no-any-return]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value")


def _check_shape(state: Any, path: Path) -> None:
    if not isinstance(state, dict):
        raise StorageError(
            f"The state file {path} must contain a JSON object of namespaces, "
            f"but its top level is {json_type_name(state)}. {_FIX_ADVICE}",
            path=str(path),
        )

    for namespace, stored in state.items():
        if not isinstance(stored, dict):
            raise StorageError(
                f"Namespace {namespace!r} in the state file {path} must be a JSON "
                f"object of keys, but it is {json_type_name(stored)}. {_FIX_ADVICE}",
                path=str(path),
            )


def _canonical(state: State, path: Path) -> str:
    try:
        return json.dumps(
            state, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except RecursionError:
        raise _too_deep(path) from None


def _render(state: State, path: Path) -> bytes:
    try:
        text = json.dumps(state, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    except RecursionError:
        raise _too_deep(path) from None

    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        # Only a \ud800-style escape that someone put into the file can get here,
        # because set() rejects such strings.
        raise StorageError(
            f"The state file {path} contains a str with a lone surrogate escape, "
            f"which cannot be written as UTF-8. {_FIX_ADVICE}",
            path=str(path),
        ) from error


def _too_deep(path: Path) -> StorageError:
    # The parser and the encoders recurse once per level of nesting, so a
    # file nested deeper than Python's recursion limit cannot be handled.
    return StorageError(
        f"The state file {path} is nested too deeply for Python's JSON parser. "
        f"{_FIX_ADVICE}",
        path=str(path),
    )
