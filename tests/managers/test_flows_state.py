"""Stored state of a FlowsManager: get_flow_id, check_flow, flow_changed, purge."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import respx

from aioflows import FlowObsolete, FlowsManager, MemoryStorage, NoFlowRegistered

if TYPE_CHECKING:
    from conftest import FlowIds, StoreFlow

pytestmark = pytest.mark.anyio


async def test_flow_id_explicit(
    make_manager: Callable[..., FlowsManager], ids: FlowIds
) -> None:
    manager = make_manager(flow_id=ids.old)

    assert await manager.get_flow_id() == ids.old


async def test_flow_id_explicit_beats_stored(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager(flow_id=ids.old)
    await store_flow(manager, ids.new)

    assert await manager.get_flow_id() == ids.old


async def test_flow_id_stored(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.new)

    assert await manager.get_flow_id() == ids.new


async def test_flow_id_none_when_empty(
    make_manager: Callable[..., FlowsManager],
) -> None:
    assert await make_manager().get_flow_id() is None


async def test_flow_id_read_from_own_namespace(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    await store_flow(make_manager(name="someone-else"), ids.other)

    assert await make_manager(name="mine").get_flow_id() is None


async def test_flow_id_invalid_stored_rejected(
    make_manager: Callable[..., FlowsManager],
    storage: MemoryStorage,
    api: respx.MockRouter,
) -> None:
    manager = make_manager()
    await storage.set(manager.name, "flow_id", "../../runs")

    with pytest.raises(ValueError, match=r"flow id stored under 'test-flow'"):
        await manager.sync_flow()
    assert api.calls.call_count == 0


async def test_check_flow_no_id_raises(
    make_manager: Callable[..., FlowsManager],
) -> None:
    with pytest.raises(NoFlowRegistered) as caught:
        await make_manager().check_flow()

    assert caught.value.flow_id is None
    assert caught.value.name == "test-flow"


async def test_check_flow_other_checksum_raises(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    with pytest.raises(FlowObsolete) as caught:
        await manager.check_flow()

    assert caught.value.flow_id == ids.old


async def test_check_flow_no_checksum_raises(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, storage: MemoryStorage
) -> None:
    manager = make_manager()
    await storage.set(manager.name, "flow_id", ids.old)

    with pytest.raises(FlowObsolete):
        await manager.check_flow()


async def test_check_flow_current_passes(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.check_flow()


async def test_check_flow_explicit_id_unstored(
    make_manager: Callable[..., FlowsManager], ids: FlowIds
) -> None:
    with pytest.raises(FlowObsolete):
        await make_manager(flow_id=ids.old).check_flow()


async def test_check_flow_explicit_id_other_stored(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager(flow_id=ids.old)
    await store_flow(manager, ids.new)

    with pytest.raises(FlowObsolete):
        await manager.check_flow()


async def test_check_flow_without_definition(
    make_manager: Callable[..., FlowsManager], ids: FlowIds
) -> None:
    manager = make_manager(flow_definition=None, flow_id=ids.old)

    await manager.check_flow()


async def test_flow_changed_when_missing(
    make_manager: Callable[..., FlowsManager],
) -> None:
    assert await make_manager().flow_changed() is True


async def test_flow_changed_when_obsolete(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    assert await manager.flow_changed() is True


async def test_flow_changed_when_current(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    assert await manager.flow_changed() is False


async def test_flow_changed_sends_nothing(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    await make_manager().flow_changed()

    assert api.calls.call_count == 0


async def test_purge_removes_id_and_checksum(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.purge_flow()

    assert await storage.items(manager.name) == {}


async def test_purge_keeps_other_keys(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)
    await storage.set(manager.name, "note", "kept")

    await manager.purge_flow()

    assert await storage.items(manager.name) == {"note": "kept"}


async def test_purge_keeps_other_namespaces(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    other = make_manager(name="other-flow")
    await store_flow(other, ids.other)

    await make_manager().purge_flow()

    assert await other.get_flow_id() == ids.other


async def test_purge_then_flow_id_none(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.purge_flow()

    assert await manager.get_flow_id() is None


async def test_purge_sends_nothing(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    api: respx.MockRouter,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.purge_flow()

    assert api.calls.call_count == 0


async def test_flow_id_from_other_service_ignored(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.new)
    await storage.set(manager.name, "flows_url", "http://127.0.0.1:8765/")

    assert await manager.get_flow_id() is None
    assert await manager.flow_changed()


async def test_flow_id_same_service_kept(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.new)
    await storage.set(manager.name, "flows_url", "https://flows.automate.globus.org/")

    assert await manager.get_flow_id() == ids.new
    assert not await manager.flow_changed()


async def test_purge_forgets_service_url(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.new)
    await storage.set(manager.name, "flows_url", "https://flows.automate.globus.org/")

    await manager.purge_flow()

    assert await storage.items(manager.name) == {}
