"""Deploy locks: the in-process lock per event loop and a storage's deploy_lock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
import respx

from aioflows import FlowsManager, MemoryStorage
from aioflows._locks import DeployLock, namespace_lock

if TYPE_CHECKING:
    from conftest import FlowIds, StoreFlow

pytestmark = pytest.mark.anyio

NOT_FOUND = {"error": {"code": "NOT_FOUND"}}


class RecordingStorage(MemoryStorage):
    """A MemoryStorage whose deploy_lock records each entry and exit.

    ``before_entry`` runs as the section is entered, so a test can change
    stored state there as another process holding the lock would have.
    """

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.before_entry: Callable[[], Awaitable[None]] | None = None

    @property
    def held(self) -> bool:
        return self.events.count("enter") > self.events.count("exit")

    @contextlib.asynccontextmanager
    async def deploy_lock(self, namespace: str) -> AsyncIterator[None]:
        if self.before_entry is not None:
            await self.before_entry()
        self.events.append("enter")
        try:
            yield
        finally:
            self.events.append("exit")


@pytest.fixture
def storage() -> RecordingStorage:
    """The Session's storage, recording its deploy_lock."""
    return RecordingStorage()


def created_while_held(
    storage: RecordingStorage, flow_id: str, held: list[bool]
) -> Callable[[httpx.Request], httpx.Response]:
    def create(request: httpx.Request) -> httpx.Response:
        held.append(storage.held)
        return httpx.Response(201, json={"id": flow_id})

    return create


async def test_current_sync_skips_storage_lock(
    make_manager: Callable[..., FlowsManager],
    storage: RecordingStorage,
    store_flow: StoreFlow,
    ids: FlowIds,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    assert await manager.sync_flow() == ids.old
    assert storage.events == []


async def test_create_holds_storage_lock_once(
    make_manager: Callable[..., FlowsManager],
    storage: RecordingStorage,
    api: respx.MockRouter,
    ids: FlowIds,
) -> None:
    held: list[bool] = []
    api.post("/flows").mock(side_effect=created_while_held(storage, ids.new, held))

    assert await make_manager().sync_flow() == ids.new
    assert held == [True]
    assert storage.events == ["enter", "exit"]


async def test_sync_rechecks_inside_storage_lock(
    make_manager: Callable[..., FlowsManager],
    storage: RecordingStorage,
    store_flow: StoreFlow,
    api: respx.MockRouter,
    ids: FlowIds,
) -> None:
    create = api.post("/flows").respond(201, json={"id": ids.new})
    manager = make_manager()

    async def other_process_deploys() -> None:
        await store_flow(manager, ids.other)

    storage.before_entry = other_process_deploys

    assert await manager.sync_flow() == ids.other
    assert create.call_count == 0


async def test_register_holds_storage_lock(
    make_manager: Callable[..., FlowsManager],
    storage: RecordingStorage,
    api: respx.MockRouter,
    ids: FlowIds,
) -> None:
    held: list[bool] = []
    api.post("/flows").mock(side_effect=created_while_held(storage, ids.new, held))

    await make_manager().register_flow()

    assert held == [True]
    assert storage.events == ["enter", "exit"]


async def test_run_404_redeploy_holds_lock_once(
    make_manager: Callable[..., FlowsManager],
    storage: RecordingStorage,
    store_flow: StoreFlow,
    api: respx.MockRouter,
    ids: FlowIds,
) -> None:
    held: list[bool] = []
    api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    api.post("/flows").mock(side_effect=created_while_held(storage, ids.new, held))
    api.post(f"/flows/{ids.new}/run").respond(
        201, json={"run_id": ids.run, "status": "ACTIVE"}
    )
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.run_flow()

    assert held == [True]
    assert storage.events == ["enter", "exit"]


async def test_purge_holds_storage_lock(
    make_manager: Callable[..., FlowsManager],
    storage: RecordingStorage,
    store_flow: StoreFlow,
    ids: FlowIds,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.purge_flow()

    assert storage.events == ["enter", "exit"]
    assert await storage.items(manager.name) == {}


async def test_purge_waits_for_deploy(
    make_manager: Callable[..., FlowsManager],
    storage: RecordingStorage,
    api: respx.MockRouter,
    ids: FlowIds,
) -> None:
    manager = make_manager()
    create_started = anyio.Event()
    answer_create = anyio.Event()
    purged = anyio.Event()
    synced: list[str | None] = []

    async def create_when_released(request: httpx.Request) -> httpx.Response:
        create_started.set()
        await answer_create.wait()
        return httpx.Response(201, json={"id": ids.new})

    async def sync() -> None:
        synced.append(await manager.sync_flow())

    async def purge() -> None:
        await manager.purge_flow()
        purged.set()

    api.post("/flows").mock(side_effect=create_when_released)
    async with anyio.create_task_group() as group:
        group.start_soon(sync)
        await create_started.wait()
        group.start_soon(purge)
        await anyio.wait_all_tasks_blocked()
        purged_during_deploy = purged.is_set()
        answer_create.set()

    assert purged_during_deploy is False
    assert synced == [ids.new]
    assert await storage.items(manager.name) == {}


def test_namespace_lock_per_event_loop() -> None:
    storage = MemoryStorage()
    locks: list[DeployLock | None] = []

    async def look_up_twice() -> None:
        locks.append(namespace_lock(storage, "shared"))
        locks.append(namespace_lock(storage, "shared"))

    for backend in ("asyncio", "trio"):
        anyio.run(look_up_twice, backend=backend)

    assert locks[0] is locks[1]
    assert locks[2] is locks[3]
    assert locks[0] is not locks[2]


async def test_namespace_lock_unhashable_storage() -> None:
    unhashable: Any = {}

    assert namespace_lock(unhashable, "shared") is None
