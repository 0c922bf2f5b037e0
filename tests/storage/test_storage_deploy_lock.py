"""The deploy_lock method of every backend, within one process."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import filelock
import pytest

from aioflows._errors import StorageError
from aioflows.storage import JSONFileStorage, MemoryStorage, SQLiteStorage

pytestmark = pytest.mark.anyio

Backend = JSONFileStorage | SQLiteStorage | MemoryStorage
FileBackend = JSONFileStorage | SQLiteStorage

# Seconds a task holds a lock so that a second task would overlap with it.
HOLD_SECONDS = 0.05


@pytest.fixture(params=["memory", "jsonfile", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "memory":
        return MemoryStorage()
    if request.param == "jsonfile":
        return JSONFileStorage(tmp_path / "state.json")
    return SQLiteStorage(tmp_path / "state.db")


@pytest.fixture(params=["jsonfile", "sqlite"])
def file_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def zero_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def open_file_storage(kind: str, path: Path, **options: Any) -> FileBackend:
    if kind == "jsonfile":
        return JSONFileStorage(path, **options)
    return SQLiteStorage(path, **options)


def expected_lock_path(state: Path, namespace: str) -> Path:
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:16]
    return state.parent / f"{state.name}.locks" / f"{digest}.lock"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def took_turns(events: list[str]) -> bool:
    """Return whether every holder left before the next one entered."""
    holders = [event.split()[0] for event in events]
    actions = [event.split()[1] for event in events]
    alternating = actions == ["in", "out"] * (len(events) // 2)
    return alternating and holders[0::2] == holders[1::2]


async def hold_and_record(
    storage: Backend, namespace: str, name: str, events: list[str]
) -> None:
    async with storage.deploy_lock(namespace):
        events.append(f"{name} in")
        await anyio.sleep(HOLD_SECONDS)
        events.append(f"{name} out")


async def test_tasks_take_turns(storage: Backend) -> None:
    events: list[str] = []

    async with anyio.create_task_group() as group:
        for name in ("first", "second", "third"):
            group.start_soon(hold_and_record, storage, "flows", name, events)

    assert len(events) == 6
    assert took_turns(events), events


async def test_other_namespace_not_blocked(storage: Backend) -> None:
    with anyio.fail_after(5):
        async with storage.deploy_lock("first"), storage.deploy_lock("second"):
            pass


async def test_same_task_reenters(storage: Backend) -> None:
    with anyio.fail_after(5):
        async with storage.deploy_lock("flows"), storage.deploy_lock("flows"):
            pass


async def test_reentry_keeps_lock_held(storage: Backend) -> None:
    events: list[str] = []
    entered = anyio.Event()

    async def outer() -> None:
        async with storage.deploy_lock("flows"):
            entered.set()
            async with storage.deploy_lock("flows"):
                events.append("inner done")
            await anyio.sleep(HOLD_SECONDS)
            events.append("outer done")

    async with anyio.create_task_group() as group:
        group.start_soon(outer)
        await entered.wait()
        group.start_soon(hold_and_record, storage, "flows", "other", events)

    assert events == ["inner done", "outer done", "other in", "other out"]


async def test_released_after_error(storage: Backend) -> None:
    with pytest.raises(RuntimeError, match="deploy failed"):
        async with storage.deploy_lock("flows"):
            raise RuntimeError("deploy failed")

    with anyio.fail_after(5):
        async with storage.deploy_lock("flows"):
            pass


async def test_released_after_cancel(storage: Backend) -> None:
    with anyio.move_on_after(HOLD_SECONDS) as scope:
        async with storage.deploy_lock("flows"):
            await anyio.sleep_forever()

    assert scope.cancelled_caught
    with anyio.fail_after(5):
        async with storage.deploy_lock("flows"):
            pass


@pytest.mark.parametrize(
    ("namespace", "error"),
    [
        pytest.param(1, TypeError, id="int"),
        pytest.param("", ValueError, id="empty"),
        pytest.param("caf\udce9", ValueError, id="lone-surrogate"),
    ],
)
def test_bad_namespace_rejected(
    storage: Backend, namespace: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match=r"^namespace must be"):
        storage.deploy_lock(namespace)


def test_one_storage_many_event_loops(storage: Backend) -> None:
    async def hold_twice() -> None:
        async with anyio.create_task_group() as group:
            for name in ("first", "second"):
                group.start_soon(hold_and_record, storage, "flows", name, [])

    for backend in ("asyncio", "trio", "asyncio"):
        anyio.run(hold_twice, backend=backend)


async def test_two_objects_take_turns(tmp_path: Path, file_kind: str) -> None:
    path = tmp_path / "state"
    events: list[str] = []

    async with anyio.create_task_group() as group:
        for name in ("first", "second"):
            storage = open_file_storage(file_kind, path)
            group.start_soon(hold_and_record, storage, "flows", name, events)

    assert len(events) == 4
    assert took_turns(events), events


async def test_lock_file_layout(tmp_path: Path, file_kind: str) -> None:
    path = tmp_path / "state"
    storage = open_file_storage(file_kind, path)

    async with storage.deploy_lock("two-hop-transfer"):
        pass

    assert expected_lock_path(path, "two-hop-transfer").is_file()


async def test_lock_creates_no_state_file(tmp_path: Path, file_kind: str) -> None:
    path = tmp_path / "state"
    storage = open_file_storage(file_kind, path)

    async with storage.deploy_lock("flows"):
        pass

    assert not path.exists()


async def test_lock_files_private_with_zero_umask(
    tmp_path: Path, file_kind: str, zero_umask: None
) -> None:
    path = tmp_path / "new" / "state"
    storage = open_file_storage(file_kind, path)

    async with storage.deploy_lock("flows"):
        pass

    lock_path = expected_lock_path(path, "flows")
    assert mode(lock_path) == 0o600
    assert mode(lock_path.parent) == 0o700
    assert mode(path.parent) == 0o700


async def test_held_lock_times_out(tmp_path: Path, file_kind: str) -> None:
    path = tmp_path / "state"
    storage = open_file_storage(file_kind, path, deploy_timeout=0.2)
    lock_path = expected_lock_path(path, "flows")
    lock_path.parent.mkdir()
    other_process_lock = filelock.FileLock(lock_path, thread_local=False)

    with other_process_lock, pytest.raises(StorageError) as raised:
        async with storage.deploy_lock("flows"):
            pass

    assert "Timed out after 0.2 s" in str(raised.value)
    assert "namespace 'flows'" in str(raised.value)
    assert raised.value.path == str(path)


async def test_cancel_while_waiting(tmp_path: Path, file_kind: str) -> None:
    path = tmp_path / "state"
    # Without cancellation the wait would end with a StorageError after 5 s.
    storage = open_file_storage(file_kind, path, deploy_timeout=5)
    lock_path = expected_lock_path(path, "flows")
    lock_path.parent.mkdir()
    other_process_lock = filelock.FileLock(lock_path, thread_local=False)
    entered = False

    with anyio.fail_after(2), other_process_lock:
        with anyio.move_on_after(0.2) as scope:
            async with storage.deploy_lock("flows"):
                entered = True

    assert scope.cancelled_caught
    assert not entered


async def test_lock_released_for_other_process(tmp_path: Path, file_kind: str) -> None:
    path = tmp_path / "state"
    storage = open_file_storage(file_kind, path)

    async with storage.deploy_lock("flows"):
        pass

    other_process_lock = filelock.FileLock(
        expected_lock_path(path, "flows"), thread_local=False
    )
    other_process_lock.acquire(timeout=0)
    other_process_lock.release()


async def test_link_and_target_share_lock(tmp_path: Path, file_kind: str) -> None:
    target = tmp_path / "shared" / "state"
    target.parent.mkdir()
    link = tmp_path / "state"
    link.symlink_to(target)
    events: list[str] = []

    async with anyio.create_task_group() as group:
        for name, path in (("link", link), ("target", target)):
            storage = open_file_storage(file_kind, path)
            group.start_soon(hold_and_record, storage, "flows", name, events)

    assert len(events) == 4
    assert took_turns(events), events
    assert expected_lock_path(target, "flows").is_file()


async def test_blocked_lock_directory_raises(tmp_path: Path, file_kind: str) -> None:
    path = tmp_path / "state"
    blocker = path.parent / f"{path.name}.locks"
    blocker.write_text("not a directory")
    storage = open_file_storage(file_kind, path)

    with pytest.raises(StorageError, match=r"Cannot (create|open) the lock"):
        async with storage.deploy_lock("flows"):
            pass


def test_deploy_timeout_validated(tmp_path: Path, file_kind: str) -> None:
    with pytest.raises(ValueError, match="deploy_timeout must be"):
        open_file_storage(file_kind, tmp_path / "state", deploy_timeout=0)
