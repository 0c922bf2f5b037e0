"""Many tasks on one manager, and many managers on one Session, against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from e2e_support import gather, pass_definition

from aioflows import FlowsManager, JSONFileStorage, MemoryStorage, Storage
from aioflows.emulator import Emulator, Latency

if TYPE_CHECKING:
    from conftest import SessionFactory

pytestmark = pytest.mark.anyio

RUNS = 20
MANAGERS = 50


@pytest.fixture(autouse=True)
def slow_requests(emulator: Emulator) -> None:
    """Make every request wait a millisecond, so concurrent tasks interleave.

    The in-process transport never yields to other tasks otherwise, and the
    concurrent calls would run one after the other.
    """
    emulator.latency = Latency(seconds=0.001)


async def test_concurrent_runs_create_once(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()

    runs = await gather([manager.run_flow] * RUNS)

    flow_ids = {run["flow_id"] for run in runs}
    assert emulator.count("POST", "/flows") == 1
    assert emulator.count("POST", "/flows/{flow_id}/run") == RUNS
    assert flow_ids == set(emulator.flow_ids())
    assert len({run["run_id"] for run in runs}) == RUNS


async def test_concurrent_runs_update_once(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    flow_id = await make_manager().sync_flow()
    manager = make_manager(flow_definition=pass_definition("changed"))
    emulator.request_log.clear()

    runs = await gather([manager.run_flow] * RUNS)

    assert emulator.count("PUT", "/flows/{flow_id}") == 1
    assert emulator.count("POST", "/flows") == 0
    assert {run["flow_id"] for run in runs} == {flow_id}


async def test_concurrent_runs_redeploy_once(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    old_id = await manager.sync_flow()
    assert old_id is not None
    emulator.delete_flow(old_id)
    emulator.request_log.clear()

    runs = await gather([manager.run_flow] * RUNS)

    new_ids = emulator.flow_ids()
    assert emulator.count("POST", "/flows") == 1
    assert len(new_ids) == 1
    assert {run["flow_id"] for run in runs} == set(new_ids)
    assert await storage.get("e2e-flow", "flow_id") == new_ids[0]


def make_storage(kind: str, directory: Path) -> Storage:
    """Return an empty storage of *kind*: ``"memory"`` or ``"jsonfile"``."""
    if kind == "memory":
        return MemoryStorage()
    return JSONFileStorage(directory / "aioflows.json")


@pytest.mark.parametrize("storage_kind", ["memory", "jsonfile"])
async def test_fifty_managers_create_distinct(
    make_session: SessionFactory,
    emulator: Emulator,
    tmp_path: Path,
    storage_kind: str,
) -> None:
    storage = make_storage(storage_kind, tmp_path)
    session = make_session(storage=storage)
    managers = [
        FlowsManager(
            name=f"flow-{index:02d}",
            flow_definition=pass_definition(f"hello {index}"),
            session=session,
        )
        for index in range(MANAGERS)
    ]

    flow_ids: list[Any] = await gather([manager.sync_flow for manager in managers])

    stored = {manager.name: await storage.items(manager.name) for manager in managers}
    assert emulator.count("POST", "/flows") == MANAGERS
    assert len(set(flow_ids)) == MANAGERS
    assert set(emulator.flow_ids()) == set(flow_ids)
    assert sorted(await storage.namespaces()) == sorted(m.name for m in managers)
    for manager, flow_id in zip(managers, flow_ids, strict=True):
        assert stored[manager.name] == {
            "flow_id": flow_id,
            "flow_checksum": manager.checksum(),
            "flows_url": "https://flows.automate.globus.org/",
        }


async def test_fifty_managers_then_stable(
    make_session: SessionFactory, emulator: Emulator
) -> None:
    session = make_session()
    managers = [
        FlowsManager(
            name=f"flow-{index:02d}",
            flow_definition=pass_definition(f"hello {index}"),
            session=session,
        )
        for index in range(MANAGERS)
    ]
    await gather([manager.sync_flow for manager in managers])
    emulator.request_log.clear()

    await gather([manager.sync_flow for manager in managers])

    assert emulator.count() == 0


async def test_same_name_managers_create_once(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    # A web application that builds a manager per request does this.
    managers = [make_manager() for _ in range(2)]

    await gather([manager.sync_flow for manager in managers])

    assert emulator.count("POST", "/flows") == 1
