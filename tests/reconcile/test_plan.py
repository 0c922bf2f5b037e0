from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from reconcile_support import OWNER, FakeFlows, hello_definition

from aioflows import FlowsManager, MemoryStorage
from aioflows._drift import COMPARED_FIELDS, FieldDrift, RemoteState, compare_flow
from aioflows._plan import plan
from aioflows._reconcile import Outcome, reconcile

pytestmark = pytest.mark.anyio

MakeManager = Callable[..., FlowsManager]

GROUP = "0f0f0f0f-0000-4000-8000-00000000000f"
OTHER_GROUP = "urn:globus:groups:id:0a0a0a0a-0000-4000-8000-00000000000a"
SUBSCRIPTION = "05050505-0000-4000-8000-000000000005"
OTHER_SUBSCRIPTION = "06060606-0000-4000-8000-000000000006"


def full_manager(make_manager: MakeManager) -> FlowsManager:
    """A manager that sends every compared field."""
    return make_manager(
        "alpha",
        flow_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
        subscription_id=SUBSCRIPTION,
        globus_group=GROUP,
        flow_kwargs={
            "subtitle": "sub",
            "description": "desc",
            "keywords": ["one", "two"],
        },
    )


async def deployed(service: FakeFlows, make_manager: MakeManager) -> dict[str, Any]:
    report = await reconcile([full_manager(make_manager)])
    flow_id = report.results[0].flow_id
    assert flow_id is not None
    return service.flows[flow_id]


# Each compared field, and a deployed value that differs from the local one.
EDITS: dict[str, Any] = {
    "definition": hello_definition("edited in the web app"),
    "input_schema": {"type": "object"},
    "title": "Renamed",
    "subtitle": "other sub",
    "description": "other desc",
    "keywords": ["one"],
    "subscription_id": OTHER_SUBSCRIPTION,
    "flow_viewers": ["public"],
    "flow_starters": ["all_authenticated_users"],
    "flow_administrators": [OTHER_GROUP],
}


def test_edits_cover_compared_fields() -> None:
    assert sorted(EDITS) == sorted(COMPARED_FIELDS)


async def test_local_plan_would_create(make_manager: MakeManager) -> None:
    report = await plan([make_manager("alpha")])

    assert report.results[0].outcome is Outcome.WOULD_CREATE
    assert report.results[0].remote is None


async def test_local_plan_would_update(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    await reconcile([make_manager("alpha")])

    report = await plan([make_manager("alpha", flow_definition=hello_definition("hi"))])

    assert report.results[0].outcome is Outcome.WOULD_UPDATE


async def test_local_plan_sends_nothing(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    await reconcile([make_manager("alpha")])
    calls = len(service.calls)

    await plan([make_manager("alpha"), make_manager("beta")])

    assert len(service.calls) == calls


async def test_remote_in_sync(service: FakeFlows, make_manager: MakeManager) -> None:
    await deployed(service, make_manager)

    report = await plan([full_manager(make_manager)], remote=True)

    (result,) = report.results
    assert result.outcome is Outcome.UNCHANGED
    assert result.remote is RemoteState.IN_SYNC
    assert result.drift == ()
    assert result.http_calls == 1


@pytest.mark.parametrize("field", sorted(EDITS))
async def test_remote_drift_per_field(
    service: FakeFlows, make_manager: MakeManager, field: str
) -> None:
    document = await deployed(service, make_manager)
    document[field] = EDITS[field]

    report = await plan([full_manager(make_manager)], remote=True)

    (result,) = report.results
    assert result.remote is RemoteState.DRIFTED
    assert [drift.field for drift in result.drift] == [field]
    assert result.drift[0].actual == EDITS[field]


async def test_remote_plan_writes_nothing(
    service: FakeFlows, make_manager: MakeManager, storage: MemoryStorage
) -> None:
    document = await deployed(service, make_manager)
    document["title"] = "Renamed"
    before = await storage.items("alpha")

    await plan([full_manager(make_manager)], remote=True)

    assert [method for method, _ in service.calls] == ["POST", "GET"]
    assert await storage.items("alpha") == before
    assert document["title"] == "Renamed"


async def test_owner_not_counted_as_drift(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    document = await deployed(service, make_manager)
    document["flow_administrators"] = [*document["flow_administrators"], OWNER]

    report = await plan([full_manager(make_manager)], remote=True)

    assert report.results[0].remote is RemoteState.IN_SYNC


async def test_role_order_not_drift(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    manager = make_manager(
        "alpha",
        flow_kwargs={"flow_viewers": ["public", OTHER_GROUP]},
    )
    report = await reconcile([manager])
    flow_id = report.results[0].flow_id
    assert flow_id is not None
    service.flows[flow_id]["flow_viewers"] = [OTHER_GROUP, "public"]

    planned = await plan([manager], remote=True)

    assert planned.results[0].remote is RemoteState.IN_SYNC


async def test_keyword_order_not_drift(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    document = await deployed(service, make_manager)
    document["keywords"] = ["two", "one"]

    report = await plan([full_manager(make_manager)], remote=True)

    assert report.results[0].remote is RemoteState.IN_SYNC


async def test_deleted_flow_reported(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    document = await deployed(service, make_manager)
    del service.flows[document["id"]]

    report = await plan([full_manager(make_manager)], remote=True)

    (result,) = report.results
    assert result.remote is RemoteState.DELETED
    assert result.outcome is Outcome.UNCHANGED
    assert result.flow_id == document["id"]


async def test_undeployed_flow_not_fetched(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    report = await plan([make_manager("alpha")], remote=True)

    assert report.results[0].remote is RemoteState.NOT_DEPLOYED
    assert service.calls == []


async def test_remote_error_failed(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    await deployed(service, make_manager)
    service.forced_status = 403

    report = await plan([full_manager(make_manager)], remote=True)

    assert report.results[0].outcome is Outcome.FAILED
    assert report.results[0].message is not None
    assert "HTTP 403" in report.results[0].message
    assert not report.ok


def test_unsent_fields_not_compared() -> None:
    desired = {"title": "T", "definition": hello_definition(), "input_schema": {}}
    remote = {
        **desired,
        "description": "added in the web app",
        "flow_viewers": ["public"],
    }

    assert compare_flow(desired, remote) == ()


def test_missing_text_field_is_empty() -> None:
    desired = {"subtitle": ""}

    assert compare_flow(desired, {}) == ()


def seconds_definition(seconds: object) -> dict[str, Any]:
    return {"definition": {"StartAt": "A", "States": {"A": {"Seconds": seconds}}}}


def test_numbers_compared_by_value() -> None:
    assert compare_flow(seconds_definition(1), seconds_definition(1.0)) == ()


@pytest.mark.parametrize(
    ("local", "deployed"),
    [(True, 1), (1, True), (False, 0), (1, "1"), (None, 0), ([1], [1, 1])],
    ids=["true-one", "one-true", "false-zero", "number-string", "null-zero", "lengths"],
)
def test_other_json_types_differ(local: object, deployed: object) -> None:
    desired = seconds_definition(local)
    remote = seconds_definition(deployed)

    assert compare_flow(desired, remote) == (
        FieldDrift("definition", desired["definition"], remote["definition"]),
    )


def nested_lists(depth: int, leaf: object) -> Any:
    nested: Any = leaf
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize(("leaf", "drifted"), [(1.0, False), (2, True)])
def test_deep_definitions_compared(leaf: object, drifted: bool) -> None:
    desired = seconds_definition(nested_lists(5_000, 1))
    remote = seconds_definition(nested_lists(5_000, leaf))

    assert bool(compare_flow(desired, remote)) is drifted


async def test_plan_json_shape(service: FakeFlows, make_manager: MakeManager) -> None:
    document = await deployed(service, make_manager)
    document["title"] = "Renamed"

    report = await plan([full_manager(make_manager)], remote=True)

    parsed = json.loads(report.to_json())
    assert set(parsed) == {"results", "summary", "remote_summary"}
    assert parsed["results"][0]["remote"] == "drifted"
    assert parsed["results"][0]["drift"] == [
        {"field": "title", "expected": "alpha", "actual": "Renamed"}
    ]
    assert parsed["remote_summary"]["drifted"] == 1
