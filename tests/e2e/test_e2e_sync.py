"""Syncing a flow against the emulator: create once, update on change, else nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from e2e_support import EmulatorView, pass_definition, reordered

from aioflows import FlowsManager, JSONFileStorage, MemoryStorage, group_urn
from aioflows.emulator import Emulator

if TYPE_CHECKING:
    from conftest import SessionFactory

pytestmark = pytest.mark.anyio

CHANGES = ["definition", "title", "description", "group", "subscription"]


def describe_change(change: str, emulator: Emulator) -> tuple[dict[str, Any], str, Any]:
    """Return the manager arguments of *change*, the flow field it sets and its value."""
    if change == "definition":
        definition = pass_definition("changed")
        return {"flow_definition": definition}, "definition", definition
    if change == "title":
        return {"flow_title": "Renamed flow"}, "title", "Renamed flow"
    if change == "description":
        text = "Says hello to the world"
        return {"flow_kwargs": {"description": text}}, "description", text
    if change == "group":
        group_id = emulator.add_group("e2e readers")
        return {"globus_group": group_id}, "flow_starters", [group_urn(group_id)]
    subscription = emulator.add_subscription("e2e subscription")
    subscription_id = subscription.subscription_id
    return {"subscription_id": subscription_id}, "subscription_id", subscription_id


async def test_first_sync_creates_flow(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    view: EmulatorView,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()

    flow_id = await manager.sync_flow()

    assert flow_id is not None
    assert emulator.count("POST", "/flows") == 1
    assert emulator.count() == 1
    assert emulator.flow_ids() == [flow_id]
    assert view.flow(flow_id)["definition"] == pass_definition()
    assert view.flow(flow_id)["title"] == "e2e-flow"
    assert await storage.get("e2e-flow", "flow_id") == flow_id


async def test_second_sync_sends_nothing(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    first = await make_manager().sync_flow()
    emulator.request_log.clear()

    second = await make_manager().sync_flow()

    assert second == first
    assert emulator.count() == 0


@pytest.mark.parametrize("change", CHANGES)
async def test_changed_field_updates_once(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    view: EmulatorView,
    change: str,
) -> None:
    flow_id = await make_manager().sync_flow()
    assert flow_id is not None
    arguments, field, expected = describe_change(change, emulator)
    emulator.request_log.clear()

    updated_id = await make_manager(**arguments).sync_flow()

    assert updated_id == flow_id
    assert emulator.count("PUT", "/flows/{flow_id}") == 1
    assert emulator.count() == 1
    assert view.flow(flow_id)[field] == expected


@pytest.mark.parametrize("change", CHANGES)
async def test_updated_flow_then_stable(
    make_manager: Callable[..., FlowsManager], emulator: Emulator, change: str
) -> None:
    await make_manager().sync_flow()
    arguments, _, _ = describe_change(change, emulator)
    await make_manager(**arguments).sync_flow()
    emulator.request_log.clear()

    await make_manager(**arguments).sync_flow()

    assert emulator.count() == 0


async def test_reordered_keys_send_nothing(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    kwargs = {"description": "Greets", "keywords": ["hello", "demo"]}
    await make_manager(flow_schema=schema, flow_kwargs=kwargs).sync_flow()
    emulator.request_log.clear()

    await make_manager(
        flow_definition=reordered(pass_definition()),
        flow_schema=reordered(schema),
        flow_kwargs=reordered(kwargs),
    ).sync_flow()

    assert emulator.count() == 0


async def test_reordered_list_updates_once(
    make_manager: Callable[..., FlowsManager], emulator: Emulator, view: EmulatorView
) -> None:
    flow_id = await make_manager(flow_kwargs={"keywords": ["a", "b"]}).sync_flow()
    assert flow_id is not None
    emulator.request_log.clear()

    await make_manager(flow_kwargs={"keywords": ["b", "a"]}).sync_flow()

    assert emulator.count("PUT", "/flows/{flow_id}") == 1
    assert view.flow(flow_id)["keywords"] == ["b", "a"]


async def test_state_file_survives_sessions(
    make_session: SessionFactory,
    emulator: Emulator,
    view: EmulatorView,
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "state" / "aioflows.json"
    first_run = make_session(storage=JSONFileStorage(state_file))
    flow_id = await FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=first_run
    ).sync_flow()
    assert flow_id is not None
    await first_run.aclose()
    emulator.request_log.clear()

    second_run = make_session(storage=JSONFileStorage(state_file))
    second_id = await FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=second_run
    ).sync_flow()

    assert second_id == flow_id
    assert emulator.count() == 0
    assert emulator.flow_ids() == [flow_id]
    assert view.flow(flow_id)["title"] == "e2e-flow"


async def test_state_file_records_flow(
    make_session: SessionFactory, tmp_path: Path
) -> None:
    state_file = tmp_path / "aioflows.json"
    session = make_session(storage=JSONFileStorage(state_file))
    manager = FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )

    flow_id = await manager.sync_flow()

    stored = json.loads(await anyio.Path(state_file).read_text())
    assert stored["e2e-flow"]["flow_id"] == flow_id
    assert stored["e2e-flow"]["flow_checksum"] == manager.checksum()


async def test_state_file_change_updates_once(
    make_session: SessionFactory,
    emulator: Emulator,
    view: EmulatorView,
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "aioflows.json"
    first_run = make_session(storage=JSONFileStorage(state_file))
    flow_id = await FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=first_run
    ).sync_flow()
    assert flow_id is not None
    await first_run.aclose()
    emulator.request_log.clear()

    second_run = make_session(storage=JSONFileStorage(state_file))
    changed = pass_definition("changed")
    await FlowsManager(
        name="e2e-flow", flow_definition=changed, session=second_run
    ).sync_flow()

    assert emulator.count("PUT", "/flows/{flow_id}") == 1
    assert emulator.count() == 1
    assert view.flow(flow_id)["definition"] == changed
