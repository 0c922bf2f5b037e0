"""Storage backends against damaged, odd and hostile state files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from aioflows import JSONFileStorage, SQLiteStorage, StorageError

pytestmark = pytest.mark.anyio

FLOW_ID = "0a0a0a0a-0000-4000-8000-000000000001"
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000


async def test_deep_state_file_reported(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"flows": {"flow_id": ' + DEEP_ARRAY + "}}", encoding="utf-8")

    with pytest.raises(StorageError):
        await JSONFileStorage(path).get("flows", "flow_id")


async def test_deep_sqlite_value_reported(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    storage = SQLiteStorage(path)
    await storage.set("flows", "flow_id", FLOW_ID)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE aioflows_storage SET value = ?", (DEEP_ARRAY,))
    connection.close()

    with pytest.raises(StorageError):
        await storage.get("flows", "flow_id")


async def test_symlinked_state_file_followed(tmp_path: Path) -> None:
    target = tmp_path / "shared" / "state.json"
    target.parent.mkdir()
    target.write_text("{}", encoding="utf-8")
    link = tmp_path / "state.json"
    os.symlink(target, link)

    await JSONFileStorage(link).set("flows", "flow_id", FLOW_ID)

    assert link.is_symlink()
    assert await JSONFileStorage(target).get("flows", "flow_id") == FLOW_ID


@pytest.mark.parametrize("backend", [JSONFileStorage, SQLiteStorage])
async def test_surrogate_namespace_rejected(
    tmp_path: Path, backend: type[JSONFileStorage] | type[SQLiteStorage]
) -> None:
    storage = backend(tmp_path / "state")

    with pytest.raises((TypeError, ValueError), match="namespace"):
        await storage.set("caf\udce9", "flow_id", FLOW_ID)


async def test_truncated_state_file_detected(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    await storage.set_many("one", {"flow_id": FLOW_ID, "flow_checksum": "c" * 64})
    await storage.set_many("two", {"flow_id": FLOW_ID, "flow_checksum": "d" * 64})
    complete = path.read_bytes()
    undetected: list[int] = []

    # Every cut but the final newline must be reported, never read as less state.
    for length in range(len(complete.rstrip(b"\n"))):
        path.write_bytes(complete[:length])
        try:
            await storage.items("one")
        except StorageError:
            continue
        undetected.append(length)

    assert undetected == []


async def test_lock_path_is_directory(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    (tmp_path / "state.json.lock").mkdir()

    with pytest.raises(StorageError, match="lock file"):
        await JSONFileStorage(path, timeout=0.5).set("flows", "flow_id", FLOW_ID)

    assert not path.exists()
