"""JSONFileStorage guarantees that one process can check: format, modes, no-op writes, errors."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import anyio
import filelock
import pytest

from aioflows._errors import StorageError
from aioflows.storage import JSONFileStorage

pytestmark = pytest.mark.anyio


@pytest.fixture
def zero_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def snapshot(path: Path) -> tuple[int, int, int, bytes]:
    """Return what a rewrite would change: inode, mtime, size and content."""
    status = path.stat()
    return (status.st_ino, status.st_mtime_ns, status.st_size, path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def file_names(directory: Path) -> list[str]:
    return sorted([path.name async for path in anyio.Path(directory).iterdir()])


async def test_file_format_readable(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)

    await storage.set("two-hop-transfer", "flow_id", "4a5b")
    await storage.set_many("another", {"z": [1, 2], "a": {"y": "é", "b": None}})

    assert path.read_text("utf-8") == (
        "{\n"
        '  "another": {\n'
        '    "a": {\n'
        '      "b": null,\n'
        '      "y": "é"\n'
        "    },\n"
        '    "z": [\n'
        "      1,\n"
        "      2\n"
        "    ]\n"
        "  },\n"
        '  "two-hop-transfer": {\n'
        '    "flow_id": "4a5b"\n'
        "  }\n"
        "}\n"
    )


async def test_file_survives_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    await JSONFileStorage(path).set("flows", "flow_id", "4a5b")

    assert await JSONFileStorage(path).get("flows", "flow_id") == "4a5b"


async def test_missing_file_reads_empty(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "state.json"
    storage = JSONFileStorage(path)

    assert await storage.get("flows", "flow_id") is None
    assert await storage.items("flows") == {}
    assert await storage.namespaces() == []
    assert not path.parent.exists()


def test_constructor_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "state.json"

    JSONFileStorage(path)

    assert not path.parent.exists()


async def test_open_existing_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    await JSONFileStorage(path).set("flows", "flow_id", "4a5b")
    (tmp_path / "state.json.lock").unlink(missing_ok=True)
    before = snapshot(path)

    storage = JSONFileStorage(path)
    await storage.get("flows", "flow_id")
    await storage.items("flows")
    await storage.namespaces()

    assert snapshot(path) == before
    assert await file_names(tmp_path) == ["state.json"]


async def test_unchanged_value_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    await storage.set_many("flows", {"flow_id": "4a5b", "config": {"a": [1, 2.0]}})
    before = snapshot(path)

    await storage.set("flows", "flow_id", "4a5b")
    await storage.set_many("flows", {"config": {"a": [1, 2.0]}, "flow_id": "4a5b"})
    await storage.delete("flows", "absent")
    await storage.delete_many("absent-namespace", ["absent"])

    assert snapshot(path) == before


async def test_unchanged_value_keeps_hand_edits(tmp_path: Path) -> None:
    # The comparison is between decoded values, so a file in another JSON
    # style is not rewritten by a change that stores what is already there.
    path = tmp_path / "state.json"
    path.write_text('{"empty": {}, "flows": {"config": {"b": 1, "a": 2}}}')
    before = snapshot(path)

    await JSONFileStorage(path).set("flows", "config", {"a": 2, "b": 1})

    assert snapshot(path) == before


async def test_empty_namespace_not_listed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"empty": {}, "flows": {"flow_id": "4a5b"}}')

    assert await JSONFileStorage(path).namespaces() == ["flows"]


async def test_file_private_with_zero_umask(tmp_path: Path, zero_umask: None) -> None:
    path = tmp_path / "new" / "nested" / "state.json"

    await JSONFileStorage(path).set("flows", "flow_id", "4a5b")

    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700


async def test_lock_file_private_with_zero_umask(
    tmp_path: Path, zero_umask: None
) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)

    await storage.set("flows", "flow_id", "4a5b")

    assert mode(storage.lock_path) == 0o600


async def test_temporary_file_private_before_rename(
    tmp_path: Path, zero_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    modes: list[int] = []
    original = os.replace

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        modes.append(mode(Path(source)))
        original(source, target)

    monkeypatch.setattr(os, "replace", replace)
    await JSONFileStorage(path).set("flows", "flow_id", "4a5b")

    assert modes == [0o600]


async def test_write_makes_file_private(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")
    path.chmod(0o644)

    await JSONFileStorage(path).set("flows", "flow_id", "4a5b")

    assert mode(path) == 0o600


async def test_failed_write_keeps_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    await storage.set("flows", "flow_id", "old")
    before = path.read_bytes()

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(
        StorageError, match=r"Cannot write the state file .*No space left"
    ):
        await storage.set("flows", "flow_id", "new")

    assert path.read_bytes() == before
    assert [name for name in await file_names(tmp_path) if name.endswith(".tmp")] == []


CORRUPT_FILES = [
    pytest.param(b"", "not valid JSON", id="empty"),
    pytest.param(b'{"flows": {"flow_id": "4a', "not valid JSON", id="truncated"),
    pytest.param(b"\xff\xfe{}", "not valid JSON", id="not-utf8"),
    pytest.param(b'{"flows": {"x": NaN}}', "not valid JSON", id="nan"),
    pytest.param(b"[]", "top level is an array", id="top-level-list"),
    pytest.param(b'"text"', "top level is a string", id="top-level-str"),
    pytest.param(b'{"flows": 1}', "'flows' .* is a number", id="namespace-int"),
    pytest.param(b'{"flows": ["a"]}', "'flows' .* is an array", id="namespace-list"),
]


@pytest.mark.parametrize(("content", "reason"), CORRUPT_FILES)
async def test_corrupt_file_read_raises(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)

    with pytest.raises(StorageError, match=reason) as raised:
        await JSONFileStorage(path).get("flows", "flow_id")

    assert str(path) in str(raised.value)
    assert "aioflows never resets a file it cannot read" in str(raised.value)
    assert raised.value.path == str(path)


@pytest.mark.parametrize(("content", "reason"), CORRUPT_FILES)
async def test_corrupt_file_never_overwritten(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    storage = JSONFileStorage(path)

    with pytest.raises(StorageError, match=reason):
        await storage.set("flows", "flow_id", "4a5b")
    with pytest.raises(StorageError, match=reason):
        await storage.delete_many("flows", ["flow_id"])
    with pytest.raises(StorageError, match=reason):
        await storage.namespaces()

    assert path.read_bytes() == content


async def test_lone_surrogate_in_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    content = b'{"flows": {"bad": "\\ud800"}}'
    path.write_bytes(content)

    with pytest.raises(StorageError, match="lone surrogate"):
        await JSONFileStorage(path).set("flows", "flow_id", "4a5b")
    assert path.read_bytes() == content


DEEP_VALUE = "[" * 100_000 + "]" * 100_000


async def test_deep_file_read_raises(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"flows": {"flow_id": ' + DEEP_VALUE + "}}", encoding="utf-8")

    with pytest.raises(StorageError, match="nested too deeply") as raised:
        await JSONFileStorage(path).get("flows", "flow_id")

    assert "aioflows never resets a file it cannot read" in str(raised.value)
    assert raised.value.path == str(path)


async def test_deep_file_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    content = ('{"flows": {"flow_id": ' + DEEP_VALUE + "}}").encode()
    path.write_bytes(content)

    with pytest.raises(StorageError, match="nested too deeply"):
        await JSONFileStorage(path).set("flows", "other", 1)

    assert path.read_bytes() == content


@pytest.fixture
def linked_state(tmp_path: Path) -> tuple[Path, Path]:
    """Return a state file path that is a symbolic link, and the link's target."""
    target = tmp_path / "shared" / "state.json"
    target.parent.mkdir()
    link = tmp_path / "state.json"
    link.symlink_to(target)
    return link, target


async def test_symlink_survives_write(linked_state: tuple[Path, Path]) -> None:
    link, target = linked_state

    await JSONFileStorage(link).set("flows", "flow_id", "4a5b")

    assert link.is_symlink()
    assert await JSONFileStorage(target).get("flows", "flow_id") == "4a5b"


async def test_symlink_locks_beside_target(linked_state: tuple[Path, Path]) -> None:
    link, target = linked_state

    await JSONFileStorage(link).set("flows", "flow_id", "4a5b")

    assert (target.parent / "state.json.lock").is_file()
    assert not (link.parent / "state.json.lock").exists()


async def test_symlink_writer_waits_for_target_lock(
    linked_state: tuple[Path, Path],
) -> None:
    link, target = linked_state
    target_writer_lock = filelock.FileLock(
        JSONFileStorage(target).lock_path, thread_local=False
    )

    with target_writer_lock, pytest.raises(StorageError, match="Timed out"):
        await JSONFileStorage(link, timeout=0.2).set("flows", "flow_id", "4a5b")


async def test_symlink_error_names_link(linked_state: tuple[Path, Path]) -> None:
    link, target = linked_state
    target.write_text("[]", encoding="utf-8")

    with pytest.raises(StorageError, match="top level is an array") as raised:
        await JSONFileStorage(link).set("flows", "flow_id", "4a5b")

    assert raised.value.path == str(link)


async def test_dangling_symlink_creates_target(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "state.json"
    link = tmp_path / "state.json"
    link.symlink_to(target)

    await JSONFileStorage(link).set("flows", "flow_id", "4a5b")

    assert link.is_symlink()
    assert target.is_file()


def test_lock_path_follows_symlink(linked_state: tuple[Path, Path]) -> None:
    link, target = linked_state

    assert JSONFileStorage(link).lock_path == target.parent / "state.json.lock"


async def test_directory_path_raises(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Cannot read the state file") as raised:
        await JSONFileStorage(tmp_path).get("flows", "flow_id")

    assert raised.value.path == str(tmp_path)


async def test_parent_is_file_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")

    with pytest.raises(StorageError, match="blocker"):
        await JSONFileStorage(blocker / "state.json").set("flows", "flow_id", "4a5b")


async def test_two_instances_share_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = JSONFileStorage(path)
    second = JSONFileStorage(path)

    async with anyio.create_task_group() as group:
        for index in range(20):
            storage = first if index % 2 else second
            group.start_soon(storage.set, "flows", f"key-{index}", index)

    assert await first.items("flows") == {f"key-{index}": index for index in range(20)}


async def test_held_lock_times_out(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path, timeout=0.2)
    other_process_lock = filelock.FileLock(storage.lock_path, thread_local=False)

    with (
        other_process_lock,
        pytest.raises(StorageError, match=r"Timed out after 0\.2 s"),
    ):
        await storage.set("flows", "flow_id", "4a5b")

    assert not path.exists()


async def test_cancel_while_waiting_for_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    # Without cancellation the set would end with a StorageError after 5 s.
    storage = JSONFileStorage(path, timeout=5)
    other_process_lock = filelock.FileLock(storage.lock_path, thread_local=False)

    with anyio.fail_after(30), other_process_lock:
        with anyio.move_on_after(0.2) as scope:
            await storage.set("flows", "flow_id", "4a5b")

    assert scope.cancelled_caught
    assert not path.exists()


def test_lock_path_appends_suffix(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")

    assert storage.lock_path == tmp_path / "state.json.lock"


def test_repr_shows_path(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")

    assert repr(storage) == f"JSONFileStorage(path={tmp_path / 'state.json'!r})"


def test_constructor_rejects_empty_path() -> None:
    with pytest.raises(ValueError, match="path must not be empty"):
        JSONFileStorage("")


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        pytest.param(0, ValueError, id="zero"),
        pytest.param(-1, ValueError, id="negative"),
        pytest.param(float("inf"), ValueError, id="infinite"),
        pytest.param(float("nan"), ValueError, id="nan"),
        pytest.param("5", TypeError, id="str"),
        pytest.param(True, TypeError, id="bool"),
    ],
)
def test_constructor_rejects_bad_timeout(
    tmp_path: Path, timeout: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="timeout must be"):
        JSONFileStorage(tmp_path / "state.json", timeout=timeout)  # type: ignore[arg-type]
