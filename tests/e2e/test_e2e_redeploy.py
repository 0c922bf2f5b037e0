"""Flows deleted behind the client's back, and flows that need new consent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from e2e_support import EmulatorLogin, EmulatorView, action_definition, pass_definition
from globus_sdk.scopes import FlowsScopes, SpecificFlowScopes

from aioflows import APIError, FlowsManager, LoginRequired, MemoryStorage
from aioflows.emulator import Emulator, ManualClock

if TYPE_CHECKING:
    from conftest import SessionFactory

pytestmark = pytest.mark.anyio

RUN_ROUTE = "/flows/{flow_id}/run"


def flow_scope(flow_id: str) -> str:
    """Return the scope string that running the flow *flow_id* needs."""
    return str(SpecificFlowScopes(flow_id).user)


@pytest.fixture
def login(emulator: Emulator) -> EmulatorLogin:
    """Tokens that each work for one resource server only.

    The Flows service's own scopes are recorded up front, as a program's
    first login would request them.
    """
    login = EmulatorLogin(emulator)
    login.require_scopes(
        FlowsScopes.resource_server, [FlowsScopes.manage_flows, FlowsScopes.run_status]
    )
    return login


@pytest.fixture
def login_manager(
    make_session: SessionFactory, login: EmulatorLogin, storage: MemoryStorage
) -> FlowsManager:
    """A manager whose Session uses per-resource-server tokens."""
    session = make_session(storage=storage, tokens=login)
    return FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )


async def test_deleted_flow_redeploys_on_run(
    login_manager: FlowsManager, emulator: Emulator, storage: MemoryStorage
) -> None:
    old_id = await login_manager.sync_flow()
    assert old_id is not None
    emulator.delete_flow(old_id)
    emulator.request_log.clear()

    run = await login_manager.run_flow({"name": "world"})

    new_id = emulator.flow_ids()[0]
    assert new_id != old_id
    assert emulator.flow_ids() == [new_id]
    assert run["flow_id"] == new_id
    assert emulator.count("POST", "/flows") == 1
    assert emulator.count("POST", RUN_ROUTE) == 2
    assert await storage.get("e2e-flow", "flow_id") == new_id


async def test_redeployed_run_uses_new_token(
    login_manager: FlowsManager, emulator: Emulator, login: EmulatorLogin
) -> None:
    old_id = await login_manager.sync_flow()
    assert old_id is not None
    emulator.delete_flow(old_id)

    await login_manager.run_flow()

    new_id = emulator.flow_ids()[0]
    # A run sent with the old flow's token would get 403 MISSING_SCOPE, so
    # the run's success above already shows that the new token was used.
    assert login.issued == ["flows.globus.org", old_id, new_id]
    assert flow_scope(new_id) in [
        str(scope) for scope in login.required_scopes()[new_id]
    ]


async def test_redeployed_flow_then_stable(
    login_manager: FlowsManager, emulator: Emulator
) -> None:
    old_id = await login_manager.sync_flow()
    assert old_id is not None
    emulator.delete_flow(old_id)
    await login_manager.run_flow()
    emulator.request_log.clear()

    await login_manager.run_flow()

    assert emulator.count("POST", "/flows") == 0
    assert emulator.count("POST", RUN_ROUTE) == 1


async def test_wrong_flow_token_rejected(
    make_session: SessionFactory, emulator: Emulator, login: EmulatorLogin
) -> None:
    # Guards the two tests above: the emulator must reject a flow's token
    # when it is sent to run another flow, or they would prove nothing.
    session = make_session(tokens=login)
    first = FlowsManager(
        name="first", flow_definition=pass_definition(), session=session
    )
    second = FlowsManager(
        name="second", flow_definition=pass_definition(), session=session
    )
    first_id = await first.sync_flow()
    second_id = await second.sync_flow()
    assert first_id is not None
    assert second_id is not None
    first_token = await login.get_token(first_id)

    async with httpx.AsyncClient(transport=emulator.transport()) as client:
        response = await client.post(
            f"https://flows.automate.globus.org/flows/{second_id}/run",
            json={"body": {}},
            headers={"Authorization": f"Bearer {first_token}"},
        )

    assert response.status_code == 403


@pytest.fixture
async def run_only_manager(
    make_manager: Callable[..., FlowsManager],
) -> FlowsManager:
    """A run-only manager on the explicit id of a flow that another manager deployed."""
    flow_id = await make_manager(name="deployer").sync_flow()
    return make_manager(name=None, flow_definition=None, flow_id=flow_id)


async def test_explicit_deleted_flow_raises(
    run_only_manager: FlowsManager, emulator: Emulator
) -> None:
    flow_id = run_only_manager.flow_id
    assert flow_id is not None
    emulator.delete_flow(flow_id)
    emulator.request_log.clear()

    with pytest.raises(APIError) as caught:
        await run_only_manager.run_flow()

    assert caught.value.http_status == 404
    assert emulator.count("POST", "/flows") == 0
    assert emulator.flow_ids() == []


async def test_explicit_id_update_raises(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    flow_id = await make_manager(name="deployer").sync_flow()
    assert flow_id is not None
    emulator.delete_flow(flow_id)
    emulator.request_log.clear()
    manager = make_manager(name="pinned", flow_id=flow_id)

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 404
    assert emulator.count("PUT", "/flows/{flow_id}") == 1
    assert emulator.count("POST", "/flows") == 0
    assert await storage.items("pinned") == {}


async def test_no_redeploy_raises_404(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    manager = make_manager(redeploy_on_404=False)
    flow_id = await manager.sync_flow()
    assert flow_id is not None
    emulator.delete_flow(flow_id)
    emulator.request_log.clear()

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 404
    assert emulator.count("POST", "/flows") == 0
    assert await storage.get("e2e-flow", "flow_id") == flow_id


async def test_update_404_creates_flow(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    view: EmulatorView,
    storage: MemoryStorage,
) -> None:
    old_id = await make_manager().sync_flow()
    assert old_id is not None
    emulator.delete_flow(old_id)
    emulator.request_log.clear()
    changed = pass_definition("changed")
    manager = make_manager(flow_definition=changed)

    new_id = await manager.sync_flow()

    assert new_id is not None
    assert new_id != old_id
    assert emulator.count("PUT", "/flows/{flow_id}") == 1
    assert emulator.count("POST", "/flows") == 1
    assert emulator.flow_ids() == [new_id]
    assert view.flow(new_id)["definition"] == changed
    assert await storage.get("e2e-flow", "flow_id") == new_id
    assert await storage.get("e2e-flow", "flow_checksum") == manager.checksum()


async def test_consent_required_raises_login(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    flow_id = await manager.sync_flow()
    assert flow_id is not None
    emulator.require_consent(flow_id)
    emulator.request_log.clear()

    with pytest.raises(LoginRequired) as caught:
        await manager.run_flow()

    assert flow_scope(flow_id) in caught.value.required_scopes
    assert caught.value.resource_server == flow_id
    assert emulator.count("POST", RUN_ROUTE) == 1
    assert emulator.count() == 1
    assert emulator.flow_ids() == [flow_id]
    assert await storage.get("e2e-flow", "flow_id") == flow_id


async def test_consent_granted_run_resumes(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    clock: ManualClock,
    api: httpx.AsyncClient,
) -> None:
    manager = make_manager(flow_definition=action_definition(1))
    flow_id = await manager.sync_flow()
    assert flow_id is not None
    emulator.require_consent(flow_id, mode="inactive")
    run = await manager.run_flow()
    clock.advance(60)

    waiting = await manager.get_status(run["run_id"])
    emulator.grant_consent(flow_id)
    resumed = await api.post(f"/runs/{run['run_id']}/resume")
    clock.advance(60)
    final = await manager.progress(run["run_id"], delay=0)

    assert waiting["status"] == "INACTIVE"
    assert waiting["details"]["code"] == "ConsentRequired"
    assert waiting["details"]["details"]["required_scope"] == flow_scope(flow_id)
    assert resumed.status_code == 200
    assert final["status"] == "SUCCEEDED"
