from __future__ import annotations

from collections.abc import Callable

import pytest
from reconcile_support import FakeFlows

from aioflows import FlowsManager, MemoryStorage
from aioflows._reconcile import Outcome, reconcile

pytestmark = pytest.mark.anyio

MakeManager = Callable[..., FlowsManager]


async def deploy(make_manager: MakeManager, name: str = "alpha") -> str:
    report = await reconcile([make_manager(name)])
    flow_id = report.results[0].flow_id
    assert flow_id is not None
    return flow_id


async def test_remote_unchanged_flow_only_reads(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    await deploy(make_manager)
    service.calls.clear()

    report = await reconcile([make_manager("alpha")], remote=True)

    assert report.results[0].outcome is Outcome.UNCHANGED
    assert service.calls == [("GET", service.calls[0][1])]
    assert report.results[0].http_calls == 1


async def test_remote_deleted_flow_redeployed(
    service: FakeFlows, make_manager: MakeManager, storage: MemoryStorage
) -> None:
    old_id = await deploy(make_manager)
    del service.flows[old_id]

    report = await reconcile([make_manager("alpha")], remote=True)

    [result] = report.results
    assert result.outcome is Outcome.REDEPLOYED
    assert result.flow_id != old_id
    assert await storage.get("alpha", "flow_id") == result.flow_id
    assert service.count("POST") == 2


async def test_remote_edited_title_updated_back(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    flow_id = await deploy(make_manager)
    service.flows[flow_id]["title"] = "Renamed in the web app"

    report = await reconcile([make_manager("alpha")], remote=True)

    assert report.results[0].outcome is Outcome.UPDATED
    assert service.flows[flow_id]["title"] == "alpha"
    assert service.count("PUT") == 1


async def test_remote_repair_then_unchanged(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    flow_id = await deploy(make_manager)
    service.flows[flow_id]["title"] = "Renamed in the web app"
    await reconcile([make_manager("alpha")], remote=True)

    report = await reconcile([make_manager("alpha")], remote=True)

    assert report.results[0].outcome is Outcome.UNCHANGED


async def test_remote_explicit_deleted_fails(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    flow_id = await deploy(make_manager)
    del service.flows[flow_id]

    report = await reconcile([make_manager("alpha", flow_id=flow_id)], remote=True)

    [result] = report.results
    assert result.outcome is Outcome.FAILED
    assert service.count("POST") == 1


async def test_remote_without_flag_ignores_drift(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    flow_id = await deploy(make_manager)
    service.flows[flow_id]["title"] = "Renamed in the web app"

    report = await reconcile([make_manager("alpha")])

    assert report.results[0].outcome is Outcome.UNCHANGED
    assert service.flows[flow_id]["title"] == "Renamed in the web app"


async def test_remote_with_dry_run_rejected(make_manager: MakeManager) -> None:
    with pytest.raises(ValueError, match="plan"):
        await reconcile([make_manager("alpha")], dry_run=True, remote=True)
