"""The read cache of JSONFileStorage: parse once, see every change, hand out copies."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import aioflows.storage
import aioflows.storage._state_cache as state_cache
from aioflows._errors import StorageError
from aioflows.storage import JSONFileStorage
from aioflows.storage._state_format import State

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("storage_worker.py")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record the path of each state file that the cache parses."""
    parsed: list[Path] = []
    original = state_cache.parse_state  # type: ignore[attr-defined]

    def parse(data: bytes, path: Path) -> State:
        parsed.append(path)
        return original(data, path)

    monkeypatch.setattr(state_cache, "parse_state", parse)
    return parsed


@pytest.fixture
def trusted_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust a file's identity however recent its times, as for an old file.

    Files written by a test are seconds old, so without this the cache
    compares their bytes at every read and never relies on the stat alone.
    """
    monkeypatch.setattr(state_cache, "_RACY_NS", -3600 * 1_000_000_000)


@pytest.fixture
def fixed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every version of a file look like the same file to the cache.

    This is what a file system does that reuses a freed inode number for the
    next version and gives two versions of equal size equal times.
    """
    monkeypatch.setattr(state_cache, "_identity", lambda status: (1, 2, 3, 4, 5))


def worker_environment() -> dict[str, str]:
    # The worker imports aioflows from this checkout, installed or not.
    root = Path(aioflows.storage.__file__).resolve().parents[2]
    environment = dict(os.environ)
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), existing]))
    return environment


def write_state(path: Path, state: dict[str, dict[str, object]]) -> None:
    """Replace ``path`` as a writer in another process does: new file, rename."""
    temporary = path.with_name("replacement.tmp")
    temporary.write_text(json.dumps(state), encoding="utf-8")
    os.replace(temporary, path)


async def run_writer_process(path: Path, backend: str, prefix: str) -> None:
    """Store key ``<prefix>-0`` from a separate Python process."""
    go = path.with_name("go")
    go.touch()
    command = [
        sys.executable,
        str(WORKER),
        "--backend",
        backend,
        "--kind",
        "jsonfile",
        "--path",
        str(path),
        "--ready",
        str(path.with_name(f"ready-{prefix}")),
        "--go",
        str(go),
        "set",
        prefix,
        "1",
    ]
    with anyio.fail_after(60):
        result = await anyio.run_process(command, env=worker_environment(), check=False)
    assert result.returncode == 0, result.stderr.decode()


async def test_repeated_reads_parse_once(tmp_path: Path, parses: list[Path]) -> None:
    path = tmp_path / "state.json"
    write_state(path, {"flows": {"flow_id": "4a5b"}})
    storage = JSONFileStorage(path)

    await storage.get("flows", "flow_id")
    await storage.items("flows")
    await storage.namespaces()

    assert parses == [path]


async def test_own_write_needs_no_parse(tmp_path: Path, parses: list[Path]) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "flow_id", "4a5b")

    assert await storage.get("flows", "flow_id") == "4a5b"
    assert parses == []


@pytest.mark.parametrize("trust", ["recent-file", "trusted-identity"])
async def test_other_process_write_seen(
    tmp_path: Path, anyio_backend: str, request: pytest.FixtureRequest, trust: str
) -> None:
    if trust == "trusted-identity":
        request.getfixturevalue("trusted_identity")
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    await storage.set("shared", "mine", 1)
    assert await storage.items("shared") == {"mine": 1}

    await run_writer_process(path, anyio_backend, "other")

    assert await storage.items("shared") == {
        "mine": 1,
        "other-0": {"writer": "other", "index": 0},
    }


async def test_other_storage_write_seen(tmp_path: Path, trusted_identity: None) -> None:
    path = tmp_path / "state.json"
    reader = JSONFileStorage(path)
    await reader.set("flows", "flow_id", "old")
    assert await reader.get("flows", "flow_id") == "old"

    await JSONFileStorage(path).set("flows", "flow_id", "new")

    assert await reader.get("flows", "flow_id") == "new"


async def test_repeated_identity_compares_bytes(
    tmp_path: Path, fixed_identity: None
) -> None:
    path = tmp_path / "state.json"
    write_state(path, {"flows": {"flow_id": "aaaa"}})
    storage = JSONFileStorage(path)
    assert await storage.get("flows", "flow_id") == "aaaa"

    write_state(path, {"flows": {"flow_id": "bbbb"}})

    assert await storage.get("flows", "flow_id") == "bbbb"


async def test_settled_identity_skips_read(
    tmp_path: Path, fixed_identity: None, trusted_identity: None
) -> None:
    # The counterpart of the test above: once the identity is trusted, a
    # read relies on the stat alone and does not open the file.
    path = tmp_path / "state.json"
    write_state(path, {"flows": {"flow_id": "aaaa"}})
    storage = JSONFileStorage(path)
    assert await storage.get("flows", "flow_id") == "aaaa"

    write_state(path, {"flows": {"flow_id": "bbbb"}})

    assert await storage.get("flows", "flow_id") == "aaaa"


async def test_edit_in_place_seen(tmp_path: Path, trusted_identity: None) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    await storage.set("flows", "flow_id", "4a5b")
    assert await storage.get("flows", "flow_id") == "4a5b"

    with path.open("r+b") as file:
        file.truncate(0)
        file.write(b'{"flows": {"flow_id": "edited by hand"}}')

    assert await storage.get("flows", "flow_id") == "edited by hand"


async def test_removed_file_reads_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    await storage.set("flows", "flow_id", "4a5b")
    assert await storage.get("flows", "flow_id") == "4a5b"

    path.unlink()

    assert await storage.get("flows", "flow_id") is None
    assert await storage.namespaces() == []


async def test_corrupt_replacement_raises(
    tmp_path: Path, trusted_identity: None
) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    await storage.set("flows", "flow_id", "4a5b")
    assert await storage.get("flows", "flow_id") == "4a5b"

    temporary = tmp_path / "replacement.tmp"
    temporary.write_bytes(b'{"flows": {"flow_id": "4a')
    os.replace(temporary, path)

    with pytest.raises(StorageError, match="not valid JSON"):
        await storage.get("flows", "flow_id")


async def test_get_copies_cached_value(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "config", {"roles": ["admin"]})

    first: Any = await storage.get("flows", "config")
    first["roles"].append("viewer")

    assert await storage.get("flows", "config") == {"roles": ["admin"]}


async def test_items_copies_cached_values(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "config", {"roles": ["admin"]})

    first = await storage.items("flows")
    first["config"]["roles"].append("viewer")
    first["added"] = 1

    assert await storage.items("flows") == {"config": {"roles": ["admin"]}}


async def test_concurrent_readers_get_own_copies(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "config", {"roles": ["admin"]})
    results: list[Any] = []

    async def read() -> None:
        results.append(await storage.get("flows", "config"))

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(read)
    results[0]["roles"].append("viewer")

    assert [result["roles"] for result in results[1:]] == [["admin"]] * 9
    assert len({id(result) for result in results}) == 10


async def test_write_leaves_returned_items(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set_many("flows", {"flow_id": "old", "checksum": "c1"})
    before = await storage.items("flows")

    await storage.set_many("flows", {"flow_id": "new", "checksum": "c2"})

    assert before == {"flow_id": "old", "checksum": "c1"}
