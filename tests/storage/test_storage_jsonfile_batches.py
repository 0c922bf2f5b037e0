"""Concurrent changes and reads of JSONFileStorage that share one write or one read."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import filelock
import pytest
from anyio import wait_all_tasks_blocked

from aioflows._errors import StorageError
from aioflows.storage import JSONFileStorage

pytestmark = pytest.mark.anyio

TASKS = 40


@pytest.fixture
def replacements(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record each file that os.replace puts in place."""
    replaced: list[Path] = []
    original = os.replace

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        original(source, target)
        replaced.append(Path(target))

    monkeypatch.setattr(os, "replace", replace)
    return replaced


class ReplaceGate:
    """Stop each os.replace in its worker thread until the test lets it pass."""

    def __init__(self) -> None:
        self.arrived = threading.Semaphore(0)
        self.allowed = threading.Semaphore(0)

    async def wait_for_replace(self) -> None:
        arrived = await anyio.to_thread.run_sync(self.arrived.acquire, True, 10)
        assert arrived, "no write reached os.replace within 10 s"

    def allow_one(self) -> None:
        self.allowed.release()


@pytest.fixture
def replace_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplaceGate]:
    gate = ReplaceGate()
    original = os.replace

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        gate.arrived.release()
        if not gate.allowed.acquire(timeout=30):
            raise OSError("the test never let this os.replace pass")
        original(source, target)

    monkeypatch.setattr(os, "replace", replace)
    yield gate
    # Let a write that the test left waiting finish, so no thread hangs.
    for _ in range(10):
        gate.allow_one()


def held_writer_lock(storage: JSONFileStorage) -> filelock.FileLock:
    """Return the inter-process lock of ``storage``, as another writer holds it."""
    return filelock.FileLock(storage.lock_path, thread_local=False)


async def test_concurrent_sets_coalesce(
    tmp_path: Path, replacements: list[Path]
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")

    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(storage.set, "flows", f"key-{index}", index)

    assert await storage.items("flows") == {
        f"key-{index}": index for index in range(TASKS)
    }
    assert 0 < len(replacements) < TASKS


async def test_mixed_changes_reach_final_state(
    tmp_path: Path, replacements: list[Path]
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set_many("old", {f"key-{index}": index for index in range(TASKS)})
    replacements.clear()

    async def change(index: int) -> None:
        if index % 2:
            await storage.delete("old", f"key-{index}")
        else:
            await storage.delete_many("old", [f"key-{index}"])
        await storage.set_many("new", {f"key-{index}": index, "last": "any"})

    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(change, index)

    assert await storage.namespaces() == ["new"]
    assert await storage.items("new") == {
        "last": "any",
        **{f"key-{index}": index for index in range(TASKS)},
    }
    assert len(replacements) < 2 * TASKS


async def test_same_key_last_arrival_wins(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    arrivals: list[int] = []

    async def write(index: int) -> None:
        # Nothing between the append and the queueing inside set() awaits,
        # so arrivals lists the changes in the order the storage got them.
        arrivals.append(index)
        await storage.set("flows", "flow_id", index)

    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(write, index)

    assert await storage.get("flows", "flow_id") == arrivals[-1]


async def test_same_key_set_delete_order(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    arrivals: list[int] = []

    async def change(index: int) -> None:
        arrivals.append(index)
        if index % 3 == 0:
            await storage.delete("flows", "flow_id")
        else:
            await storage.set("flows", "flow_id", index)

    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(change, index)

    last = arrivals[-1]
    expected = None if last % 3 == 0 else last
    assert await storage.get("flows", "flow_id") == expected


async def test_batch_error_reaches_every_waiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    attempts: list[Path] = []
    errors: list[StorageError] = []

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        attempts.append(Path(target))
        raise OSError(28, "No space left on device")

    async def write(index: int) -> None:
        try:
            await storage.set("flows", f"key-{index}", index)
        except StorageError as error:
            errors.append(error)

    monkeypatch.setattr(os, "replace", replace)
    async with anyio.create_task_group() as group:
        for index in range(TASKS):
            group.start_soon(write, index)

    assert len(errors) == TASKS
    assert all("No space left" in str(error) for error in errors)
    assert len({id(error) for error in errors}) == TASKS
    assert len(attempts) < TASKS
    assert await storage.namespaces() == []


async def test_invalid_value_never_queued(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    rejected: list[TypeError] = []

    async def write_invalid() -> None:
        with pytest.raises(TypeError, match="bad") as raised:
            await storage.set("flows", "bad", {1, 2})
        rejected.append(raised.value)

    async with anyio.create_task_group() as group:
        for index in range(TASKS // 2):
            group.start_soon(storage.set, "flows", f"key-{index}", index)
            group.start_soon(write_invalid)

    assert len(rejected) == TASKS // 2
    assert await storage.items("flows") == {
        f"key-{index}": index for index in range(TASKS // 2)
    }


async def test_unchanged_batch_writes_nothing(
    tmp_path: Path, replacements: list[Path]
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set_many("flows", {"flow_id": "4a5b", "checksum": "9f8e"})
    replacements.clear()

    async with anyio.create_task_group() as group:
        for _ in range(TASKS):
            group.start_soon(storage.set, "flows", "flow_id", "4a5b")
            group.start_soon(storage.delete, "flows", "absent")

    assert replacements == []


async def test_batch_undoing_itself_writes_nothing(
    tmp_path: Path, replacements: list[Path]
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "flow_id", "old")
    replacements.clear()
    lock = held_writer_lock(storage)
    lock.acquire()

    try:
        async with anyio.create_task_group() as group:
            # The first task's write waits for the lock, so the next two
            # changes queue and are written together.
            group.start_soon(storage.set, "flows", "flow_id", "old")
            await wait_all_tasks_blocked()
            group.start_soon(storage.set, "flows", "flow_id", "new")
            await wait_all_tasks_blocked()
            group.start_soon(storage.set, "flows", "flow_id", "old")
            await wait_all_tasks_blocked()
            lock.release()
    finally:
        lock.release(force=True)

    assert replacements == []
    assert await storage.get("flows", "flow_id") == "old"


async def set_in_scope(
    storage: JSONFileStorage, scope: anyio.CancelScope, done: anyio.Event, key: str
) -> None:
    """Set ``key`` inside ``scope``, then set ``done`` whether it was cancelled or not."""
    with scope:
        await storage.set("flows", key, 1)
    done.set()


async def test_cancelled_queued_change_dropped(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    dropped_scope = anyio.CancelScope()
    dropped_done = anyio.Event()
    lock = held_writer_lock(storage)
    lock.acquire()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(storage.set, "flows", "leader", 1)
            await wait_all_tasks_blocked()
            group.start_soon(storage.set, "flows", "kept", 1)
            group.start_soon(
                set_in_scope, storage, dropped_scope, dropped_done, "dropped"
            )
            await wait_all_tasks_blocked()

            dropped_scope.cancel()
            with anyio.fail_after(5):
                await dropped_done.wait()
            lock.release()
    finally:
        lock.release(force=True)

    assert await storage.items("flows") == {"leader": 1, "kept": 1}


async def test_cancelled_leader_hands_over(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json", timeout=20)
    leader_scope, leader_done = anyio.CancelScope(), anyio.Event()
    member_scope, member_done = anyio.CancelScope(), anyio.Event()
    lock = held_writer_lock(storage)
    lock.acquire()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(set_in_scope, storage, leader_scope, leader_done, "leader")
            await wait_all_tasks_blocked()
            group.start_soon(storage.set, "flows", "successor", 1)
            group.start_soon(set_in_scope, storage, member_scope, member_done, "member")
            await wait_all_tasks_blocked()

            # The leader's write waits for the lock in a worker thread; it
            # must stop within the lock's poll interval, not at the timeout.
            leader_scope.cancel()
            with anyio.fail_after(5):
                await leader_done.wait()

            # The next write, which contains the successor's and the member's
            # changes, waits for the lock, so the member may still withdraw.
            # Either of the two tasks may lead that write.
            await wait_all_tasks_blocked()
            member_scope.cancel()
            with anyio.fail_after(5):
                await member_done.wait()
            lock.release()
    finally:
        lock.release(force=True)

    assert await storage.items("flows") == {"successor": 1}


async def test_cancelled_leader_requeues_others(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json", timeout=20)
    first_scope, first_done = anyio.CancelScope(), anyio.Event()
    second_scope, second_done = anyio.CancelScope(), anyio.Event()
    lock = held_writer_lock(storage)
    lock.acquire()

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(set_in_scope, storage, first_scope, first_done, "1")
                await wait_all_tasks_blocked()
                group.start_soon(set_in_scope, storage, second_scope, second_done, "2")
                await wait_all_tasks_blocked()
                group.start_soon(storage.set, "flows", "3", 1)
                await wait_all_tasks_blocked()

                # The second task leads the next write, which contains the
                # third task's change too. Cancelling it while that write waits for
                # the lock must put the third change back in the queue.
                first_scope.cancel()
                await first_done.wait()
                await wait_all_tasks_blocked()
                second_scope.cancel()
                await second_done.wait()
                lock.release()
    finally:
        lock.release(force=True)

    assert await storage.items("flows") == {"3": 1}


async def test_cancel_after_lock_waits_for_write(
    tmp_path: Path, replace_gate: ReplaceGate
) -> None:
    path = tmp_path / "state.json"
    storage = JSONFileStorage(path)
    member_scope = anyio.CancelScope()
    seen_after_cancel: list[bytes] = []

    async def member() -> None:
        with member_scope:
            await storage.set("flows", "member", 1)
        seen_after_cancel.append(await anyio.Path(path).read_bytes())

    async with anyio.create_task_group() as group:
        group.start_soon(storage.set, "flows", "leader", 1)
        await replace_gate.wait_for_replace()
        group.start_soon(storage.set, "flows", "successor", 1)
        group.start_soon(member)
        await wait_all_tasks_blocked()
        replace_gate.allow_one()

        # The second write, which contains the member's and the successor's
        # changes, has taken the lock and stopped before its rename. Either
        # of the two tasks may lead it.
        await replace_gate.wait_for_replace()
        member_scope.cancel()
        await wait_all_tasks_blocked()
        assert seen_after_cancel == []
        replace_gate.allow_one()

    assert member_scope.cancelled_caught
    assert b'"member": 1' in seen_after_cancel[0]
    assert await storage.items("flows") == {"leader": 1, "successor": 1, "member": 1}


async def test_concurrent_reads_share_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "flow_id", "4a5b")
    trips: list[None] = []
    original = JSONFileStorage._read_blocking

    def read_blocking(self: JSONFileStorage) -> Any:
        trips.append(None)
        return original(self)

    monkeypatch.setattr(JSONFileStorage, "_read_blocking", read_blocking)
    results: list[Any] = []

    async def read() -> None:
        results.append(await storage.get("flows", "flow_id"))

    async with anyio.create_task_group() as group:
        for _ in range(TASKS):
            group.start_soon(read)

    assert results == ["4a5b"] * TASKS
    assert 0 < len(trips) < TASKS


async def test_read_after_write_sees_it(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    stale: list[tuple[int, Any]] = []

    async def keep_reading(stop: anyio.Event) -> None:
        while not stop.is_set():
            await storage.get("flows", "counter")

    async def write_then_read(stop: anyio.Event) -> None:
        for index in range(20):
            await storage.set("flows", "counter", index)
            seen = await storage.get("flows", "counter")
            if seen != index:
                stale.append((index, seen))
        stop.set()

    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(keep_reading, stop)
        group.start_soon(write_then_read, stop)

    assert stale == []


async def test_read_skips_round_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "counter", 0)
    arrived, allowed = threading.Semaphore(0), threading.Semaphore(0)
    original = JSONFileStorage._read_blocking

    def read_blocking(self: JSONFileStorage) -> Any:
        state = original(self)
        arrived.release()
        allowed.acquire(timeout=30)
        return state

    monkeypatch.setattr(JSONFileStorage, "_read_blocking", read_blocking)
    results: list[Any] = []

    async def read() -> None:
        results.append(await storage.get("flows", "counter"))

    async with anyio.create_task_group() as group:
        # A round reads the file, then stays in flight while a write ends.
        group.start_soon(storage.get, "flows", "counter")
        assert await anyio.to_thread.run_sync(arrived.acquire, True, 10)
        await storage.set("flows", "counter", 1)

        # A read that starts now must not take that round's older result.
        group.start_soon(read)
        await wait_all_tasks_blocked()
        allowed.release()
        allowed.release()

    assert results == [1]


async def test_read_error_reaches_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"[]")
    storage = JSONFileStorage(path)
    errors: list[StorageError] = []

    async def read() -> None:
        try:
            await storage.get("flows", "flow_id")
        except StorageError as error:
            errors.append(error)

    async with anyio.create_task_group() as group:
        for _ in range(TASKS):
            group.start_soon(read)

    assert len(errors) == TASKS
    assert all("top level is an array" in str(error) for error in errors)
    assert len({id(error) for error in errors}) == TASKS


async def test_cancelled_reader_spares_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    await storage.set("flows", "flow_id", "4a5b")
    arrived, allowed = threading.Semaphore(0), threading.Semaphore(0)
    original = JSONFileStorage._read_blocking

    def read_blocking(self: JSONFileStorage) -> Any:
        arrived.release()
        allowed.acquire(timeout=30)
        return original(self)

    monkeypatch.setattr(JSONFileStorage, "_read_blocking", read_blocking)
    runner_scope, member_scope = anyio.CancelScope(), anyio.CancelScope()
    results: list[Any] = []

    async def read(scope: anyio.CancelScope) -> None:
        with scope:
            results.append(await storage.get("flows", "flow_id"))

    async with anyio.create_task_group() as group:
        # The runner's read stops in its worker thread, so the others join
        # the next round, and one member of that round is cancelled too.
        group.start_soon(read, runner_scope)
        assert await anyio.to_thread.run_sync(arrived.acquire, True, 10)
        for _ in range(TASKS):
            group.start_soon(read, anyio.CancelScope())
        group.start_soon(read, member_scope)
        await wait_all_tasks_blocked()
        runner_scope.cancel()
        member_scope.cancel()
        for _ in range(TASKS):
            allowed.release()

    assert member_scope.cancelled_caught
    assert len(results) >= TASKS
    assert set(results) == {"4a5b"}


def test_event_loops_in_threads_share_file(tmp_path: Path) -> None:
    storage = JSONFileStorage(tmp_path / "state.json")
    failures: list[BaseException] = []

    async def write(prefix: str) -> None:
        async with anyio.create_task_group() as group:
            for index in range(TASKS // 2):
                group.start_soon(storage.set, "flows", f"{prefix}-{index}", index)
                group.start_soon(storage.items, "flows")

    def run_loop(backend: str) -> None:
        try:
            anyio.run(write, backend, backend=backend)
        except BaseException as error:
            failures.append(error)

    threads = [
        threading.Thread(target=run_loop, args=(backend,))
        for backend in ("asyncio", "trio")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    stored = anyio.run(storage.items, "flows")
    assert sorted(stored) == sorted(
        f"{backend}-{index}"
        for backend in ("asyncio", "trio")
        for index in range(TASKS // 2)
    )
