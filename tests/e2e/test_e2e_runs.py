"""Runs on the emulator: progress to the end, failures, cancels, details and labels."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from e2e_support import (
    ACTION_SECONDS,
    EmulatorView,
    action_definition,
    failing_definition,
)

from aioflows import FlowsManager
from aioflows.emulator import Emulator, ManualClock

pytestmark = pytest.mark.anyio

STATUS_ROUTE = "/runs/{run_id}"


def details_definition() -> dict[str, Any]:
    """Return a Pass state with a nested ResultPath, then one Action."""
    return {
        "StartAt": "Greet",
        "States": {
            "Greet": {
                "Type": "Pass",
                "Result": {"greeting": "hello"},
                "ResultPath": "$.Results.Greeting",
                "Next": "Transfer",
            },
            "Transfer": {
                "Type": "Action",
                "ActionUrl": "https://transfer.actions.globus.org/transfer",
                "Parameters": {"label": "e2e"},
                "ResultPath": "$.TransferResult",
                "End": True,
            },
        },
    }


@pytest.fixture
def advance(clock: ManualClock) -> Callable[[dict[str, Any]], None]:
    """A progress callback that moves the emulator clock by one Action per poll."""

    def move(run: dict[str, Any]) -> None:
        clock.advance(ACTION_SECONDS)

    return move


async def test_progress_reaches_succeeded(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    advance: Callable[[dict[str, Any]], None],
) -> None:
    manager = make_manager(flow_definition=action_definition(3))
    run = await manager.run_flow()
    seen: list[str] = []

    def record(document: dict[str, Any]) -> None:
        seen.append(document["status"])
        advance(document)

    final = await manager.progress(run["run_id"], callback=record, delay=0)

    assert run["status"] == "ACTIVE"
    assert final["status"] == "SUCCEEDED"
    assert seen[-1] == "SUCCEEDED"
    assert set(seen[:-1]) == {"ACTIVE"}
    assert len(seen) == emulator.count("GET", STATUS_ROUTE)


async def test_progress_returns_output(
    make_manager: Callable[..., FlowsManager],
    view: EmulatorView,
    advance: Callable[[dict[str, Any]], None],
) -> None:
    manager = make_manager(flow_definition=action_definition(2))
    run = await manager.run_flow({"source": "/data"})

    final = await manager.progress(run["run_id"], callback=advance, delay=0)

    assert final == view.run(run["run_id"])
    assert final["details"]["output"]["source"] == "/data"
    assert set(final["details"]["output"]) == {"source", "Step0", "Step1"}


async def test_fail_state_ends_failed(
    make_manager: Callable[..., FlowsManager],
    advance: Callable[[dict[str, Any]], None],
) -> None:
    manager = make_manager(flow_definition=failing_definition())
    run = await manager.run_flow()

    final = await manager.progress(run["run_id"], callback=advance, delay=0)

    assert final["status"] == "FAILED"
    assert final["details"]["details"]["error"] == "NotApproved"
    assert final["details"]["details"]["cause"] == "Rejected"
    assert final["details"]["details"]["state_name"] == "Refuse"


async def test_immediate_fail_returns_active(
    make_manager: Callable[..., FlowsManager],
) -> None:
    # The emulator, like the service, returns ACTIVE for every run start,
    # so run_flow returns and RunFailed is not raised even for a flow that
    # fails in its first state. The first status read shows the failure.
    manager = make_manager(flow_definition=failing_definition(after_action=False))

    run = await manager.run_flow()
    status = await manager.get_status(run["run_id"])

    assert run["status"] == "ACTIVE"
    assert status["status"] == "FAILED"


async def test_cancel_ends_progress(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    api: httpx.AsyncClient,
) -> None:
    manager = make_manager(flow_definition=action_definition(5))
    run = await manager.run_flow()
    cancels: list[int] = []

    async def cancel_once(document: dict[str, Any]) -> None:
        if not cancels:
            response = await api.post(f"/runs/{document['run_id']}/cancel")
            cancels.append(response.status_code)

    final = await manager.progress(run["run_id"], callback=cancel_once, delay=0)

    assert cancels == [200]
    assert final["status"] == "ENDED"
    assert final["details"]["code"] == "FlowCanceled"
    assert emulator.count("GET", STATUS_ROUTE) == 2


async def test_watch_run_matches_emulator(
    make_manager: Callable[..., FlowsManager],
    view: EmulatorView,
    clock: ManualClock,
) -> None:
    manager = make_manager(flow_definition=action_definition(3))
    run = await manager.run_flow()
    watched: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = []

    async for document in manager.watch_run(run["run_id"], delay=0):
        watched.append(document)
        expected.append(view.run(run["run_id"]))
        clock.advance(ACTION_SECONDS)

    assert watched == expected
    assert watched[-1]["status"] == "SUCCEEDED"
    assert [document["status"] for document in watched[:-1]] == ["ACTIVE"] * (
        len(watched) - 1
    )


async def test_progress_after_watch_agrees(
    make_manager: Callable[..., FlowsManager],
    clock: ManualClock,
) -> None:
    manager = make_manager(flow_definition=action_definition(3))
    run = await manager.run_flow()
    watched: list[dict[str, Any]] = []
    progressed: list[dict[str, Any]] = []
    async for document in manager.watch_run(run["run_id"], delay=0):
        watched.append(document)
        clock.advance(ACTION_SECONDS)

    final = await manager.progress(run["run_id"], callback=progressed.append, delay=0)

    assert final == watched[-1]
    assert progressed == [watched[-1]]


async def test_get_details_reads_result_path(
    make_manager: Callable[..., FlowsManager],
    view: EmulatorView,
    advance: Callable[[dict[str, Any]], None],
) -> None:
    manager = make_manager(flow_definition=details_definition())
    run = await manager.run_flow()
    await manager.progress(run["run_id"], callback=advance, delay=0)
    output = view.run(run["run_id"])["details"]["output"]

    greeting = await manager.get_details(run["run_id"], "Greet")
    transfer = await manager.get_details(run["run_id"], "Transfer")

    assert greeting == {"greeting": "hello"}
    assert transfer == output["TransferResult"]
    assert transfer["status"] == "SUCCEEDED"


async def test_get_details_while_active_raises(
    make_manager: Callable[..., FlowsManager],
) -> None:
    manager = make_manager(flow_definition=details_definition())
    run = await manager.run_flow()

    with pytest.raises(KeyError, match="no output yet"):
        await manager.get_details(run["run_id"], "Greet")


@pytest.mark.parametrize(
    ("call_label", "run_label", "stored"),
    [
        ("L" * 100, None, "L" * 62 + ".."),
        ("fl" + "o" * 63, None, "fl" + "o" * 60 + ".."),
        ("x" * 64, None, "x" * 64),
        (None, "y" * 100, "y" * 62 + ".."),
    ],
    ids=["100-chars", "65-chars", "64-chars", "run-kwargs"],
)
async def test_label_stored_cut(
    make_manager: Callable[..., FlowsManager],
    view: EmulatorView,
    call_label: str | None,
    run_label: str | None,
    stored: str,
) -> None:
    run_kwargs = {"label": run_label} if run_label is not None else {}
    manager = make_manager(run_kwargs=run_kwargs)

    run = await manager.run_flow(label=call_label)

    assert view.run(run["run_id"])["label"] == stored
    assert len(view.run(run["run_id"])["label"]) <= 64


async def test_tags_and_monitors_stored(
    make_manager: Callable[..., FlowsManager],
    view: EmulatorView,
    emulator: Emulator,
) -> None:
    group_id = emulator.add_group("e2e monitors")
    manager = make_manager(globus_group=group_id)

    run = await manager.run_flow(tags=["nightly", "e2e"])

    stored = view.run(run["run_id"])
    assert stored["tags"] == ["nightly", "e2e"]
    assert stored["run_monitors"] == [f"urn:globus:groups:id:{group_id}"]
    assert stored["run_managers"] == [f"urn:globus:groups:id:{group_id}"]


async def test_clean_run_logs_no_warning(
    make_manager: Callable[..., FlowsManager],
    advance: Callable[[dict[str, Any]], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A create compares the service's globus_auth_scope with the expected
    # one and warns on a mismatch. The emulator must match globus-sdk.
    manager = make_manager(flow_definition=action_definition(2))

    with caplog.at_level(logging.WARNING, logger="aioflows"):
        run = await manager.run_flow()
        await manager.progress(run["run_id"], callback=advance, delay=0)

    assert caplog.records == []
