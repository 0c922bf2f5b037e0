"""A storage backend that keeps every namespace in one SQLite database."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
import attrs

from .._errors import StorageError
from ._deploy_locks import hold_file_deploy_lock
from ._files import create_private_file, make_private_dirs
from ._loop_locks import loop_lock
from ._options import check_timeout, to_path
from ._protocol import JSONValue
from ._values import check_keys, check_name, decode_value, encode_value, encode_values

__all__ = ["SQLiteStorage"]

logger = logging.getLogger(__name__)

TABLE = "aioflows_storage"

# The value column contains JSON text as encode_value() produces it.
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID
"""

_FIX_ADVICE = (
    "Fix the database or move it aside; "
    "aioflows never resets a database it cannot read."
)

# Prefixes of the SQLite error names (Python 3.11 and later) that mean another
# connection holds a lock, such as SQLITE_BUSY_RECOVERY or SQLITE_LOCKED.
_BUSY_ERROR_PREFIXES = ("SQLITE_BUSY", "SQLITE_LOCKED")

# Maximum seconds that one attempt waits in SQLite's busy handler.
_BUSY_SLICE = 0.25

# Seconds to wait between attempts, doubling from the first to the maximum.
_RETRY_FIRST_DELAY = 0.01
_RETRY_MAX_DELAY = 0.2

_T = TypeVar("_T")

# A key mapped to None is deleted; any other key is set to its JSON text.
Changes: TypeAlias = "Mapping[str, str | None]"


@attrs.define(eq=False)
class SQLiteStorage:
    """A storage that keeps every namespace in one SQLite database.

    Values are JSON text in the table ``aioflows_storage(namespace, key,
    value)``. The database uses write-ahead logging (WAL), so readers do not
    wait for a writer. Each call opens its own connection in a worker
    thread and closes it before returning, so there is nothing to close and
    the object may be shared by any number of tasks.

    Constructing the object does no I/O. Reading a missing database returns
    nothing and creates nothing. The first write creates the database with
    mode 0600 and missing parent directories with mode 0700. Each change is
    one transaction, and a change that stores what is already stored
    commits nothing.

    Args:
        path: The database file. A relative path is resolved against the
            working directory at each call.
        timeout: Maximum seconds to wait for another connection's lock
            (SQLite's busy timeout) before raising StorageError.
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

    def deploy_lock(
        self, namespace: str
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Return an exclusive section for deploying the flow of ``namespace``.

        The section excludes every task, storage object and process that
        takes the deploy lock of the same namespace in the same database. It
        locks ``<path>.locks/<16 hex digits>.lock`` with ``filelock``, not
        SQLite, so it blocks no reader or writer of the database. The lock
        directory is created with mode 0700 and the file with mode 0600. The
        task holding the section may enter it again.

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
            StorageError: The database cannot be read or is not valid.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")

        rows = await self._select(
            f"SELECT key, value FROM {TABLE} WHERE namespace = ? AND key = ?",
            (namespace, key),
        )
        return self._decode_rows(namespace, rows).get(key)

    async def set(self, namespace: str, key: str, value: JSONValue) -> None:
        """Store ``value`` under ``key``, replacing any previous value.

        Raises:
            TypeError: An argument has the wrong type, or ``value`` is not
                JSON-serialisable. Nothing is written then.
            ValueError: ``namespace`` or ``key`` is empty.
            StorageError: The database cannot be written, or the lock timed out.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")
        text = encode_value(namespace, key, value)

        await self._change(namespace, {key: text})

    async def delete(self, namespace: str, key: str) -> None:
        """Remove ``key``. Removing a missing key commits nothing.

        Raises:
            TypeError: ``namespace`` or ``key`` is not a str.
            ValueError: ``namespace`` or ``key`` is empty.
            StorageError: The database cannot be written, or the lock timed out.
        """
        check_name(namespace, "namespace")
        check_name(key, "key")

        await self._change(namespace, {key: None})

    async def set_many(self, namespace: str, values: Mapping[str, JSONValue]) -> None:
        """Store every item of ``values`` in one transaction.

        Raises:
            TypeError: An argument has the wrong type, or a value is not
                JSON-serialisable. Nothing is written then.
            ValueError: ``namespace`` or a key is empty.
            StorageError: The database cannot be written, or the lock timed out.
        """
        check_name(namespace, "namespace")
        texts = encode_values(namespace, values)

        await self._change(namespace, texts)

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """Remove every key in ``keys`` in one transaction, skipping missing ones.

        Raises:
            TypeError: ``namespace`` or a key is not a str, or ``keys`` is a
                single str.
            ValueError: ``namespace`` or a key is empty.
            StorageError: The database cannot be written, or the lock timed out.
        """
        check_name(namespace, "namespace")
        names = check_keys(keys)

        await self._change(namespace, dict.fromkeys(names))

    async def items(self, namespace: str) -> dict[str, JSONValue]:
        """Return a copy of the keys and values in ``namespace``, {} when empty.

        Raises:
            TypeError: ``namespace`` is not a str.
            ValueError: ``namespace`` is empty.
            StorageError: The database cannot be read or is not valid.
        """
        check_name(namespace, "namespace")

        rows = await self._select(
            f"SELECT key, value FROM {TABLE} WHERE namespace = ?", (namespace,)
        )
        return self._decode_rows(namespace, rows)

    async def namespaces(self) -> list[str]:
        """Return the sorted names of the namespaces that contain at least one key.

        Raises:
            StorageError: The database cannot be read or is not valid.
        """
        rows = await self._select(f"SELECT DISTINCT namespace FROM {TABLE}", ())
        return sorted(str(row[0]) for row in rows)

    async def _select(self, query: str, parameters: tuple[str, ...]) -> list[Any]:
        return await anyio.to_thread.run_sync(
            _select_blocking, self.path, self.timeout, query, parameters
        )

    async def _change(self, namespace: str, changes: Changes) -> None:
        if not changes:
            return

        # The in-process lock keeps tasks from tying up one worker thread each
        # while they wait in SQLite's busy handler.
        async with loop_lock(self):
            await anyio.to_thread.run_sync(
                _change_blocking, self.path, self.timeout, namespace, changes
            )

    def _decode_rows(self, namespace: str, rows: list[Any]) -> dict[str, JSONValue]:
        decoded: dict[str, JSONValue] = {}
        for key, text in rows:
            try:
                decoded[key] = decode_value(text)
            except (TypeError, ValueError) as error:
                raise self._value_error(
                    namespace, key, f"is not valid JSON ({error})"
                ) from error
            except RecursionError:
                raise self._value_error(
                    namespace, key, "is nested too deeply for Python's JSON parser"
                ) from None
        return decoded

    def _value_error(self, namespace: str, key: str, problem: str) -> StorageError:
        return StorageError(
            f"The value of key {key!r} in namespace {namespace!r} in the SQLite "
            f"database {self.path} {problem}. {_FIX_ADVICE}",
            path=str(self.path),
        )


def _select_blocking(
    path: Path, timeout: float, query: str, parameters: tuple[str, ...]
) -> list[Any]:
    if not path.exists():
        return []

    def select(remaining: float) -> list[Any]:
        with _connect(path, remaining) as connection:
            if not _has_table(connection):
                return []
            return connection.execute(query, parameters).fetchall()

    return _retry_while_busy(path, timeout, select)


def _change_blocking(
    path: Path, timeout: float, namespace: str, changes: Changes
) -> None:
    _create_database_file(path)

    def change(remaining: float) -> int:
        with _connect(path, remaining) as connection:
            _prepare_database(connection)
            return _apply_in_transaction(connection, namespace, changes)

    changed = _retry_while_busy(path, timeout, change)
    if changed:
        logger.debug("Changed %d keys of namespace %r in %s", changed, namespace, path)
    else:
        logger.debug("Left %s unchanged: the change was already stored", path)


def _retry_while_busy(
    path: Path, timeout: float, operation: Callable[[float], _T]
) -> _T:
    """Run ``operation`` until it succeeds or ``timeout`` seconds have passed.

    ``operation`` gets its busy timeout as argument: at most _BUSY_SLICE
    seconds, so that a cancelled task stops waiting soon after. SQLite also
    skips the busy handler in some cases and reports SQLITE_BUSY at once.
    SQLite 3.40.1 did so when two processes switched a new database to WAL
    together.
    Each operation is one transaction that is rolled back on error, so
    running it again is safe.

    Raises:
        StorageError: ``operation`` raised a sqlite3 error that is not a busy
            error, or was still busy when the time was up.
    """
    deadline = time.monotonic() + timeout
    delay = _RETRY_FIRST_DELAY
    while True:
        remaining = max(deadline - time.monotonic(), 0.0)
        try:
            return operation(min(remaining, _BUSY_SLICE))
        except sqlite3.Error as error:
            if not _is_busy(error) or time.monotonic() + delay >= deadline:
                raise _storage_error(path, timeout, error) from error
            logger.debug("Retrying on %s in %.3f s: %s", path, delay, error)

        anyio.from_thread.check_cancelled()
        time.sleep(delay)
        delay = min(2 * delay, _RETRY_MAX_DELAY)


def _prepare_database(connection: sqlite3.Connection) -> None:
    # WAL mode is stored in the database file, so only the first writer
    # switches it, and the others skip the exclusive lock that switching takes.
    (journal_mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    if str(journal_mode).lower() != "wal":
        connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(_SCHEMA)


def _apply_in_transaction(
    connection: sqlite3.Connection, namespace: str, changes: Changes
) -> int:
    """Apply ``changes`` in one transaction and return how many rows changed.

    The transaction starts with BEGIN IMMEDIATE, which takes the write lock
    before the reads, so no other writer can change a row between the
    comparison and the write. A change with no effect is rolled back.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        changed = _apply_changes(connection, namespace, changes)
        connection.execute("COMMIT" if changed else "ROLLBACK")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return changed


def _apply_changes(
    connection: sqlite3.Connection, namespace: str, changes: Changes
) -> int:
    changed = 0
    for key, text in changes.items():
        row = connection.execute(
            f"SELECT value FROM {TABLE} WHERE namespace = ? AND key = ?",
            (namespace, key),
        ).fetchone()
        stored = None if row is None else str(row[0])

        if text is None and stored is not None:
            connection.execute(
                f"DELETE FROM {TABLE} WHERE namespace = ? AND key = ?", (namespace, key)
            )
            changed += 1
        elif text is not None and not _same_value(stored, text):
            connection.execute(
                f"INSERT OR REPLACE INTO {TABLE} (namespace, key, value) "
                f"VALUES (?, ?, ?)",
                (namespace, key, text),
            )
            changed += 1
    return changed


def _same_value(stored: str | None, text: str) -> bool:
    # Compare decoded values so a row written in another JSON style still
    # matches. A row that is not valid JSON never matches and gets replaced.
    if stored is None:
        return False
    try:
        decoded = json.loads(stored)
        canonical = json.dumps(
            decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except (TypeError, ValueError, RecursionError):
        return False
    return canonical == text


def _create_database_file(path: Path) -> None:
    # Creating the file here, not in sqlite3.connect, gives it mode 0600.
    # SQLite gives its -wal and -shm files the mode of the database file.
    try:
        make_private_dirs(path.parent)
        create_private_file(path)
    except OSError as error:
        raise StorageError(
            f"Cannot create the SQLite database {path}: {error.strerror or error}. "
            f"Check the permissions of its directory or choose another path.",
            path=str(path),
        ) from error


def _has_table(connection: sqlite3.Connection) -> bool:
    row = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone()
    return row is not None


@contextlib.contextmanager
def _connect(path: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """Open a connection that never creates the file, and close it on exit.

    Args:
        path: The database file.
        timeout: SQLite's busy timeout for this connection, in seconds.
    """
    # mode=rw makes SQLite fail on a missing file instead of creating one
    # with its default mode. isolation_level=None leaves transactions to us.
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=rw"
    connection = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def _is_busy(error: sqlite3.Error) -> bool:
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        return name.startswith(_BUSY_ERROR_PREFIXES)

    # Python 3.10 has no error names, so fall back to SQLite's messages.
    message = str(error)
    return "database is locked" in message or "database table is locked" in message


def _storage_error(path: Path, timeout: float, error: sqlite3.Error) -> StorageError:
    name = getattr(error, "sqlite_errorname", None)
    if _is_busy(error):
        message = (
            f"Timed out after {timeout} s waiting for the lock on the SQLite database "
            f"{path}: another connection is writing to it. Retry later, or raise the "
            f"timeout if writes are slow."
        )
    elif name == "SQLITE_CANTOPEN" or "unable to open" in str(error):
        message = (
            f"Cannot open the SQLite database {path}: {error}. Check that it is a "
            f"file that this user may read and write, in a directory it may write."
        )
    else:
        message = f"The SQLite database {path} cannot be used: {error}. {_FIX_ADVICE}"
    return StorageError(message, path=str(path))
