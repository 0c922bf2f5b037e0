"""Tokens on the wire: expiry and renewal, rejected tokens, and whose provider is used."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from e2e_support import EmulatorLogin, pass_definition
from globus_sdk.scopes import FlowsScopes

from aioflows import FlowsManager, LoginRequired, StaticTokenProvider
from aioflows.emulator import Emulator, ManualClock

if TYPE_CHECKING:
    from conftest import SessionFactory

pytestmark = pytest.mark.anyio

MANAGE_FLOWS = str(FlowsScopes.manage_flows)


@pytest.fixture
def login(emulator: Emulator) -> EmulatorLogin:
    """Per-resource-server tokens, with the Flows service's scopes recorded up front."""
    login = EmulatorLogin(emulator)
    login.require_scopes(
        FlowsScopes.resource_server, [FlowsScopes.manage_flows, FlowsScopes.run_status]
    )
    return login


async def test_expired_run_token_renewed(
    make_session: SessionFactory,
    emulator: Emulator,
    clock: ManualClock,
    login: EmulatorLogin,
) -> None:
    emulator.token_lifetime = 10
    session = make_session(tokens=login)
    manager = FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )
    flow_id = await manager.sync_flow()
    await manager.run_flow()
    clock.advance(20)
    emulator.request_log.clear()

    run = await manager.run_flow()

    assert run["flow_id"] == flow_id
    assert login.rejected == [flow_id]
    assert emulator.count("POST", "/flows/{flow_id}/run") == 2


async def test_expired_status_token_renewed(
    make_session: SessionFactory,
    emulator: Emulator,
    clock: ManualClock,
    login: EmulatorLogin,
) -> None:
    emulator.token_lifetime = 10
    session = make_session(tokens=login)
    manager = FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )
    run = await manager.run_flow()
    clock.advance(20)
    emulator.request_log.clear()

    status = await manager.get_status(run["run_id"])

    assert status["status"] == "SUCCEEDED"
    assert login.rejected == ["flows.globus.org"]
    assert emulator.count("GET", "/runs/{run_id}") == 2


async def test_invalid_static_token_raises(
    make_session: SessionFactory, emulator: Emulator
) -> None:
    session = make_session(tokens=StaticTokenProvider(default="not-a-real-token"))
    manager = FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )

    with pytest.raises(LoginRequired) as caught:
        await manager.sync_flow()

    assert caught.value.resource_server == "flows.globus.org"
    assert emulator.count("POST", "/flows") == 1
    assert emulator.flow_ids() == []


async def test_first_login_lists_flows_scopes(make_session: SessionFactory) -> None:
    session = make_session(tokens=StaticTokenProvider())
    manager = FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )

    with pytest.raises(LoginRequired) as caught:
        await manager.sync_flow()

    assert MANAGE_FLOWS in caught.value.required_scopes


async def test_manager_tokens_used_for_requests(
    make_session: SessionFactory, emulator: Emulator
) -> None:
    session = make_session(tokens=StaticTokenProvider())
    manager = FlowsManager(
        name="e2e-flow",
        flow_definition=pass_definition(),
        session=session,
        tokens=StaticTokenProvider(default=emulator.static_token),
    )

    flow_id = await manager.sync_flow()

    assert emulator.flow_ids() == [flow_id]


async def test_login_manager_creates_flow(
    make_manager: Callable[..., FlowsManager],
    make_session: SessionFactory,
    login: EmulatorLogin,
    emulator: Emulator,
) -> None:
    # With a provider that logs in per resource server, every step succeeds.
    session = make_session(tokens=login)

    flow_id = await make_manager(session=session).sync_flow()

    assert emulator.flow_ids() == [flow_id]
    assert login.issued == ["flows.globus.org"]
