"""Many tasks on one manager, and many managers on one Session, at once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

from aioflows import FlowsManager, MemoryStorage, Session

if TYPE_CHECKING:
    from conftest import FlowIds, StoreFlow

pytestmark = pytest.mark.anyio

TASKS = 20
NOT_FOUND = {"error": {"code": "NOT_FOUND"}}


async def yield_a_few_times() -> None:
    """Give other tasks several chances to run, as a slow service would."""
    for _ in range(5):
        await anyio.lowlevel.checkpoint()


def responder(response: Callable[[], httpx.Response]) -> Any:
    async def respond(request: httpx.Request) -> httpx.Response:
        await yield_a_few_times()
        return response()

    return respond


def created(ids: FlowIds, flow_id: str) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(
        201, json={"id": flow_id, "globus_auth_scope": ids.scope(flow_id)}
    )


def started(ids: FlowIds, flow_id: str) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(
        201, json={"run_id": ids.run, "flow_id": flow_id, "status": "ACTIVE"}
    )


async def gather(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own task and return the results in order."""
    results: list[Any] = [None] * len(calls)

    async def run_one(index: int) -> None:
        results[index] = await calls[index]()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for index in range(len(calls)):
                group.start_soon(run_one, index)
    return results


async def test_concurrent_sync_creates_once(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(side_effect=responder(created(ids, ids.new)))
    manager = make_manager()

    results = await gather([manager.sync_flow] * TASKS)

    assert create.call_count == 1
    assert results == [ids.new] * TASKS


async def test_concurrent_sync_updates_once(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    update = api.put(f"/flows/{ids.old}").mock(
        side_effect=responder(lambda: httpx.Response(200, json={"id": ids.old}))
    )
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    results = await gather([manager.sync_flow] * TASKS)

    assert update.call_count == 1
    assert results == [ids.old] * TASKS


async def test_concurrent_register_and_sync(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    # Whichever task takes the lock first creates the flow; the other then
    # finds it, so there is never a second create.
    create = api.post("/flows").mock(side_effect=responder(created(ids, ids.new)))
    api.put(f"/flows/{ids.new}").mock(
        side_effect=responder(lambda: httpx.Response(200, json={"id": ids.new}))
    )
    manager = make_manager()

    results = await gather([manager.register_flow, manager.sync_flow])

    assert create.call_count == 1
    assert results == [ids.new, ids.new]


async def test_concurrent_runs_create_once(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(side_effect=responder(created(ids, ids.new)))
    run = api.post(f"/flows/{ids.new}/run").mock(
        side_effect=responder(started(ids, ids.new))
    )
    manager = make_manager()

    results = await gather([manager.run_flow] * TASKS)

    assert create.call_count == 1
    assert run.call_count == TASKS
    assert {result["flow_id"] for result in results} == {ids.new}


async def test_concurrent_runs_update_once(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    update = api.put(f"/flows/{ids.old}").mock(
        side_effect=responder(lambda: httpx.Response(200, json={"id": ids.old}))
    )
    run = api.post(f"/flows/{ids.old}/run").mock(
        side_effect=responder(started(ids, ids.old))
    )
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    results = await gather([manager.run_flow] * TASKS)

    assert update.call_count == 1
    assert run.call_count == TASKS
    assert {result["flow_id"] for result in results} == {ids.old}


async def test_concurrent_runs_redeploy_once(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    old_run = api.post(f"/flows/{ids.old}/run").mock(
        side_effect=responder(lambda: httpx.Response(404, json=NOT_FOUND))
    )
    create = api.post("/flows").mock(side_effect=responder(created(ids, ids.new)))
    new_run = api.post(f"/flows/{ids.new}/run").mock(
        side_effect=responder(started(ids, ids.new))
    )
    manager = make_manager()
    await store_flow(manager, ids.old)

    results = await gather([manager.run_flow] * TASKS)

    assert create.call_count == 1
    assert old_run.call_count == TASKS
    assert new_run.call_count == TASKS
    assert {result["flow_id"] for result in results} == {ids.new}
    assert await storage.get("test-flow", "flow_id") == ids.new


async def test_managers_share_session_concurrently(
    session: Session, api: respx.MockRouter, definition: dict[str, Any]
) -> None:
    # Every create waits until all managers have sent theirs: with a lock
    # shared by the managers, the first create would wait forever and the
    # fail_after in gather() would end the test.
    all_arrived = anyio.Event()
    arrived: list[str] = []

    async def create_when_all_arrived(request: httpx.Request) -> httpx.Response:
        title = json.loads(request.content)["title"]
        arrived.append(title)
        if len(arrived) == TASKS:
            all_arrived.set()
        await all_arrived.wait()
        flow_id = str(uuid.uuid5(uuid.NAMESPACE_URL, title))
        return httpx.Response(201, json={"id": flow_id})

    create = api.post("/flows").mock(side_effect=create_when_all_arrived)
    managers = [
        FlowsManager(
            flow_definition=definition, flow_title=f"flow-{index}", session=session
        )
        for index in range(TASKS)
    ]

    results = await gather([manager.sync_flow for manager in managers])

    assert create.call_count == TASKS
    assert results == [
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"flow-{index}")) for index in range(TASKS)
    ]


async def test_managers_share_storage_concurrently(
    session: Session,
    api: respx.MockRouter,
    definition: dict[str, Any],
    storage: MemoryStorage,
) -> None:
    def create(request: httpx.Request) -> httpx.Response:
        title = json.loads(request.content)["title"]
        return httpx.Response(
            201, json={"id": str(uuid.uuid5(uuid.NAMESPACE_URL, title))}
        )

    api.post("/flows").mock(side_effect=create)
    managers = [
        FlowsManager(
            flow_definition=definition, flow_title=f"flow-{index}", session=session
        )
        for index in range(TASKS)
    ]

    await gather([manager.sync_flow for manager in managers])

    assert await storage.namespaces() == sorted(f"flow-{i}" for i in range(TASKS))
    for manager in managers:
        assert await manager.flow_changed() is False
