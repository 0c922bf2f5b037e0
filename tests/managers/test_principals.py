"""Principal URNs and the role lists of flows and runs, checked before sending."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import respx

from aioflows import FlowsManager, group_urn, identity_urn

if TYPE_CHECKING:
    from conftest import FlowIds, StoreFlow

DEFINITION = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
GROUP = "01010101-0000-4000-8000-000000000011"
IDENTITY = "06060606-0000-4000-8000-000000000016"
GROUP_URN = f"urn:globus:groups:id:{GROUP}"
IDENTITY_URN = f"urn:globus:auth:identity:{IDENTITY}"


def offline_manager(**kwargs: Any) -> FlowsManager:
    """Build a manager without a Session: the checks run in the constructor."""
    return FlowsManager(flow_definition=DEFINITION, name="principals", **kwargs)


def identities(count: int) -> list[str]:
    return [
        f"urn:globus:auth:identity:{index:08x}-0000-4000-8000-000000000000"
        for index in range(count)
    ]


# URN helpers


def test_group_urn_from_id() -> None:
    assert group_urn(GROUP) == GROUP_URN


def test_group_urn_from_urn() -> None:
    assert group_urn(GROUP_URN) == GROUP_URN


def test_group_urn_lowercases() -> None:
    assert group_urn(GROUP.upper()) == GROUP_URN


def test_identity_urn_from_id() -> None:
    assert identity_urn(IDENTITY) == IDENTITY_URN


def test_identity_urn_from_urn() -> None:
    assert identity_urn(IDENTITY_URN) == IDENTITY_URN


@pytest.mark.parametrize(
    "value", ["not-a-uuid", f"urn:globus:groups:id:id:{GROUP}", "", f"{{{GROUP}}}"]
)
def test_group_urn_invalid(value: str) -> None:
    with pytest.raises(ValueError, match="group id"):
        group_urn(value)


@pytest.mark.parametrize(
    "value", ["not-a-uuid", f"urn:globus:auth:identity:id:{IDENTITY}", GROUP_URN]
)
def test_identity_urn_invalid(value: str) -> None:
    with pytest.raises(ValueError, match="identity id"):
        identity_urn(value)


# Flow role lists in flow_kwargs


@pytest.mark.parametrize(
    ("field", "principals", "message"),
    [
        ("flow_viewers", [GROUP], "bare UUID"),
        ("flow_starters", [IDENTITY], "bare UUID"),
        ("flow_starters", ["public"], "'public'"),
        ("flow_administrators", ["public"], "'public'"),
        ("flow_viewers", ["all_authenticated_users"], "all_authenticated_users"),
        ("flow_administrators", ["all_authenticated_users"], "all_authenticated_users"),
        ("flow_viewers", [f"urn:globus:groups:id:id:{GROUP}"], "not a principal URN"),
        (
            "flow_starters",
            [f"urn:globus:auth:identity:id:{IDENTITY}"],
            "not a principal URN",
        ),
        ("flow_viewers", ["urn:globus:groups:id:"], "not a principal URN"),
        ("flow_viewers", [f"urn:globus:teams:id:{GROUP}"], "not a principal URN"),
        ("flow_administrators", GROUP_URN, "must be a list"),
        ("flow_viewers", [42], "must contain strings"),
        ("flow_viewers", identities(17), "17 distinct principals"),
    ],
)
def test_flow_roles_invalid(field: str, principals: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        offline_manager(flow_kwargs={field: principals})

    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("field", "principals"),
    [
        ("flow_viewers", ["public"]),
        ("flow_starters", ["all_authenticated_users"]),
        ("flow_administrators", [GROUP_URN, IDENTITY_URN]),
        ("flow_viewers", identities(16)),
        ("flow_viewers", []),
    ],
)
def test_flow_roles_valid(field: str, principals: list[str]) -> None:
    manager = offline_manager(flow_kwargs={field: principals})

    assert manager.flow_kwargs[field] == principals


def test_flow_roles_duplicates_dropped() -> None:
    manager = offline_manager(
        flow_kwargs={"flow_viewers": [IDENTITY_URN, GROUP_URN, IDENTITY_URN, GROUP_URN]}
    )

    assert manager.flow_kwargs["flow_viewers"] == [IDENTITY_URN, GROUP_URN]


def test_flow_roles_count_after_dedup() -> None:
    principals = identities(16) + identities(16)

    manager = offline_manager(flow_kwargs={"flow_starters": principals})

    assert manager.flow_kwargs["flow_starters"] == identities(16)


def test_flow_roles_checked_on_change() -> None:
    manager = offline_manager()

    with pytest.raises(ValueError, match="flow_viewers"):
        manager.flow_kwargs = {"flow_viewers": [GROUP]}


# Run role lists in run_kwargs and run_flow keyword arguments


@pytest.mark.parametrize(
    ("field", "principals", "message"),
    [
        ("run_managers", [IDENTITY], "bare UUID"),
        ("run_monitors", ["public"], "'public'"),
        ("run_managers", ["all_authenticated_users"], "all_authenticated_users"),
        ("run_monitors", [f"urn:globus:groups:id:id:{GROUP}"], "not a principal URN"),
        ("run_managers", identities(17), "17 distinct principals"),
    ],
)
def test_run_roles_invalid(field: str, principals: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        offline_manager(run_kwargs={field: principals})

    assert field in str(caught.value)


def test_run_roles_duplicates_dropped() -> None:
    manager = offline_manager(
        run_kwargs={"run_monitors": [GROUP_URN, IDENTITY_URN, GROUP_URN]}
    )

    assert manager.run_kwargs["run_monitors"] == [GROUP_URN, IDENTITY_URN]


@pytest.mark.anyio
async def test_run_call_roles_checked_first(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    with pytest.raises(ValueError, match="run_monitors"):
        await manager.run_flow(run_monitors=[ids.identity])
    assert api.calls.call_count == 0


@pytest.mark.anyio
async def test_run_call_roles_deduplicated(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    run = api.post(f"/flows/{ids.old}/run").respond(
        201, json={"run_id": ids.run, "status": "ACTIVE"}
    )
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.run_flow(run_monitors=[IDENTITY_URN, GROUP_URN, IDENTITY_URN])

    sent = json.loads(run.calls.last.request.content)
    assert sent["run_monitors"] == [IDENTITY_URN, GROUP_URN]


@pytest.mark.anyio
async def test_flow_roles_sent_deduplicated(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").respond(201, json={"id": ids.new})
    manager = make_manager(
        flow_kwargs={"flow_administrators": [GROUP_URN, GROUP_URN, IDENTITY_URN]}
    )

    await manager.sync_flow()

    sent = json.loads(create.calls.last.request.content)
    assert sent["flow_administrators"] == [GROUP_URN, IDENTITY_URN]
