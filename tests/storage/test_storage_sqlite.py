"""SQLiteStorage guarantees that one process can check: modes, WAL, no-op writes, errors."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from aioflows._errors import StorageError
from aioflows.storage import SQLiteStorage, _sqlite

pytestmark = pytest.mark.anyio


@pytest.fixture
def zero_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@contextlib.contextmanager
def raw_connection(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def snapshot(path: Path) -> tuple[int, int, int, bytes]:
    """Return what a write would change: inode, mtime, size and content."""
    status = path.stat()
    return (status.st_ino, status.st_mtime_ns, status.st_size, path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def file_names(directory: Path) -> list[str]:
    return sorted([path.name async for path in anyio.Path(directory).iterdir()])


async def test_database_private_with_zero_umask(
    tmp_path: Path, zero_umask: None
) -> None:
    path = tmp_path / "new" / "state.db"

    await SQLiteStorage(path).set("flows", "flow_id", "4a5b")

    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


async def test_wal_files_private_with_zero_umask(
    tmp_path: Path, zero_umask: None
) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path)
    await storage.set("flows", "flow_id", "old")

    # An open reader keeps SQLite from removing the -wal and -shm files.
    with raw_connection(path) as reader:
        reader.execute("SELECT count(*) FROM aioflows_storage").fetchone()
        await storage.set("flows", "flow_id", "new")

        assert mode(tmp_path / "state.db-wal") == 0o600
        assert mode(tmp_path / "state.db-shm") == 0o600


async def test_database_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    await SQLiteStorage(path).set("flows", "flow_id", "4a5b")

    with raw_connection(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_table_has_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    await SQLiteStorage(path).set("flows", "flow_id", "4a5b")

    with raw_connection(path) as connection:
        columns = connection.execute("PRAGMA table_info(aioflows_storage)").fetchall()
        rows = connection.execute("SELECT * FROM aioflows_storage").fetchall()
    assert [(column[1], column[2], column[5]) for column in columns] == [
        ("namespace", "TEXT", 1),
        ("key", "TEXT", 2),
        ("value", "TEXT", 0),
    ]
    assert rows == [("flows", "flow_id", '"4a5b"')]


async def test_missing_database_reads_empty(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "state.db"
    storage = SQLiteStorage(path)

    assert await storage.get("flows", "flow_id") is None
    assert await storage.items("flows") == {}
    assert await storage.namespaces() == []
    assert not path.parent.exists()


async def test_empty_file_reads_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()

    assert await SQLiteStorage(path).namespaces() == []


def test_constructor_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "state.db"

    SQLiteStorage(path)

    assert not path.parent.exists()


async def test_unchanged_value_commits_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path)
    await storage.set_many("flows", {"flow_id": "4a5b", "config": {"a": [1, 2.0]}})
    before = snapshot(path)

    await storage.set("flows", "flow_id", "4a5b")
    await storage.set_many("flows", {"config": {"a": [1, 2.0]}, "flow_id": "4a5b"})
    await storage.delete("flows", "absent")
    await storage.delete_many("absent-namespace", ["absent"])

    assert snapshot(path) == before
    assert await file_names(tmp_path) == ["state.db"]


async def test_unchanged_value_keeps_hand_edits(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path)
    await storage.set("flows", "other", 1)
    with raw_connection(path) as connection:
        connection.execute(
            "INSERT INTO aioflows_storage VALUES ('flows', 'config', '{\"b\": 1, \"a\": 2}')"
        )
    before = snapshot(path)

    await storage.set("flows", "config", {"a": 2, "b": 1})

    assert snapshot(path) == before


async def test_corrupt_database_raises(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    content = b"this is not an SQLite database, it only has a .db name" * 100
    path.write_bytes(content)
    storage = SQLiteStorage(path)

    with pytest.raises(StorageError, match="not a database") as raised:
        await storage.get("flows", "flow_id")
    with pytest.raises(StorageError, match="not a database"):
        await storage.set("flows", "flow_id", "4a5b")

    assert str(path) in str(raised.value)
    assert "aioflows never resets a database it cannot read" in str(raised.value)
    assert raised.value.path == str(path)
    assert path.read_bytes() == content


async def test_invalid_json_row_raises(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path)
    await storage.set("flows", "other", 1)
    with raw_connection(path) as connection:
        connection.execute(
            "INSERT INTO aioflows_storage VALUES ('flows', 'broken', '{')"
        )

    with pytest.raises(StorageError, match="key 'broken' in namespace 'flows'"):
        await storage.items("flows")


async def test_deep_json_row_raises(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path)
    await storage.set("flows", "flow_id", "4a5b")
    deep = "[" * 100_000 + "]" * 100_000
    with raw_connection(path) as connection:
        connection.execute("UPDATE aioflows_storage SET value = ?", (deep,))

    with pytest.raises(StorageError, match="nested too deeply") as raised:
        await storage.items("flows")

    assert "key 'flow_id' in namespace 'flows'" in str(raised.value)
    assert raised.value.path == str(path)


async def test_set_replaces_invalid_json_row(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path)
    await storage.set("flows", "other", 1)
    with raw_connection(path) as connection:
        connection.execute(
            "INSERT INTO aioflows_storage VALUES ('flows', 'broken', '{')"
        )

    await storage.set("flows", "broken", "fixed")

    assert await storage.get("flows", "broken") == "fixed"


async def test_foreign_table_raises(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with raw_connection(path) as connection:
        connection.execute("CREATE TABLE aioflows_storage (something_else TEXT)")

    with pytest.raises(StorageError, match="no such column"):
        await SQLiteStorage(path).items("flows")


async def test_held_lock_times_out(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path, timeout=0.2)
    await storage.set("flows", "flow_id", "old")

    with raw_connection(path) as other_writer:
        other_writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageError, match=r"Timed out after 0\.2 s"):
            await storage.set("flows", "flow_id", "new")
        other_writer.execute("ROLLBACK")

    assert await storage.get("flows", "flow_id") == "old"


async def test_cancel_while_waiting_for_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    # Without cancellation the set would end with a StorageError after 5 s.
    storage = SQLiteStorage(path, timeout=5)
    await storage.set("flows", "flow_id", "old")

    with raw_connection(path) as other_writer:
        other_writer.execute("BEGIN IMMEDIATE")
        with anyio.move_on_after(0.2) as scope:
            await storage.set("flows", "flow_id", "new")
        other_writer.execute("ROLLBACK")

    assert scope.cancelled_caught
    assert await storage.get("flows", "flow_id") == "old"


async def test_immediate_busy_error_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite 3.40.1 reported SQLITE_BUSY without waiting when two processes
    # switched a new database to WAL at once. The first two attempts fail so.
    path = tmp_path / "state.db"
    failures = [sqlite3.OperationalError("database is locked")] * 2
    original = _sqlite._prepare_database

    def prepare(connection: sqlite3.Connection) -> None:
        if failures:
            raise failures.pop()
        original(connection)

    monkeypatch.setattr(_sqlite, "_prepare_database", prepare)
    await SQLiteStorage(path, timeout=5).set("flows", "flow_id", "4a5b")

    assert failures == []
    assert await SQLiteStorage(path).get("flows", "flow_id") == "4a5b"


async def test_reads_while_other_writes(tmp_path: Path) -> None:
    # WAL lets readers continue while another connection holds the write lock.
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path, timeout=0.2)
    await storage.set("flows", "flow_id", "4a5b")

    with raw_connection(path) as other_writer:
        other_writer.execute("BEGIN IMMEDIATE")
        value = await storage.get("flows", "flow_id")
        other_writer.execute("ROLLBACK")

    assert value == "4a5b"


async def test_directory_path_raises(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Cannot open the SQLite database"):
        await SQLiteStorage(tmp_path).get("flows", "flow_id")


async def test_parent_is_file_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")

    with pytest.raises(StorageError, match="Cannot create the SQLite database"):
        await SQLiteStorage(blocker / "state.db").set("flows", "flow_id", "4a5b")


async def test_two_instances_share_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SQLiteStorage(path)
    second = SQLiteStorage(path)

    async with anyio.create_task_group() as group:
        for index in range(20):
            storage = first if index % 2 else second
            group.start_soon(storage.set, "flows", f"key-{index}", index)

    assert await first.items("flows") == {f"key-{index}": index for index in range(20)}


def test_repr_shows_path(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "state.db")

    assert repr(storage) == f"SQLiteStorage(path={tmp_path / 'state.db'!r})"


def test_constructor_rejects_bad_timeout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timeout must be"):
        SQLiteStorage(tmp_path / "state.db", timeout=0)
