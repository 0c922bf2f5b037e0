"""The emulated run API: runs advancing on the emulator clock, cancel, consent, logs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator_helpers import (
    FLOWS_URL,
    action_definition,
    create_flow,
    pass_definition,
    start_run,
)

from aioflows.emulator import Emulator, ManualClock, RunTiming

pytestmark = pytest.mark.anyio


async def _get_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await client.get(f"/runs/{run_id}")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def test_run_starts_active(client: httpx.AsyncClient) -> None:
    flow = await create_flow(client, action_definition())

    run = await start_run(
        client, flow["id"], {"label": "x"}, label="My run", tags=["a  b"]
    )

    assert run["status"] == "ACTIVE"
    assert run["details"]["code"] == "FlowStarting"
    assert run["label"] == "My run"
    assert run["tags"] == ["a b"]
    assert run["completion_time"] is None


async def test_run_succeeds_after_action_time(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    flow = await create_flow(client, action_definition())
    run = await start_run(client, flow["id"], {"label": "x"})

    clock.advance(0.5)
    midway = await _get_run(client, run["run_id"])
    clock.advance(0.5)
    done = await _get_run(client, run["run_id"])

    assert midway["status"] == "ACTIVE"
    assert midway["details"]["code"] == "ActionStarted"
    assert done["status"] == "SUCCEEDED"
    assert done["details"]["output"]["TransferResult"]["status"] == "SUCCEEDED"
    assert done["completion_time"] is not None


async def test_zero_duration_run_ends_at_once(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.timing = RunTiming(action_seconds=0)
    flow = await create_flow(client, action_definition())
    run = await start_run(client, flow["id"], {})

    done = await _get_run(client, run["run_id"])

    assert done["status"] == "SUCCEEDED"


async def test_fail_state_fails_run(client: httpx.AsyncClient) -> None:
    definition = {
        "StartAt": "Stop",
        "States": {"Stop": {"Type": "Fail", "Error": "Bad", "Cause": "Because"}},
    }
    flow = await create_flow(client, definition)
    run = await start_run(client, flow["id"])

    done = await _get_run(client, run["run_id"])

    assert done["status"] == "FAILED"
    assert done["details"]["details"]["error"] == "Bad"
    assert done["details"]["details"]["cause"] == "Because"


async def test_choice_follows_input(client: httpx.AsyncClient) -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.go", "BooleanEquals": True, "Next": "Done"}
                ],
                "Default": "Stop",
            },
            "Done": {"Type": "Pass", "End": True},
            "Stop": {"Type": "Fail", "Error": "NoGo", "Cause": "go was false"},
        },
    }
    flow = await create_flow(client, definition)

    yes = await start_run(client, flow["id"], {"go": True})
    no = await start_run(client, flow["id"], {"go": False})

    assert (await _get_run(client, yes["run_id"]))["status"] == "SUCCEEDED"
    assert (await _get_run(client, no["run_id"]))["status"] == "FAILED"


async def test_cancel_active_run_ends(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    flow = await create_flow(client, action_definition())
    run = await start_run(client, flow["id"], {})

    canceled = (await client.post(f"/runs/{run['run_id']}/cancel")).json()
    clock.advance(10)
    later = await _get_run(client, run["run_id"])

    assert canceled["status"] == "ENDED"
    assert canceled["details"]["code"] == "FlowCanceled"
    assert later["status"] == "ENDED"


async def test_cancel_finished_run_unchanged(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    flow = await create_flow(client)
    run = await start_run(client, flow["id"])
    clock.advance(1)

    canceled = (await client.post(f"/runs/{run['run_id']}/cancel")).json()

    assert canceled["status"] == "SUCCEEDED"


async def test_run_log_entries_in_order(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    flow = await create_flow(client, action_definition())
    run = await start_run(client, flow["id"], {})
    clock.advance(2)

    log = (await client.get(f"/runs/{run['run_id']}/log")).json()
    reverse = (
        await client.get(f"/runs/{run['run_id']}/log", params={"reverse_order": "true"})
    ).json()

    codes = [entry["code"] for entry in log["entries"]]
    assert codes == ["FlowStarted", "ActionStarted", "ActionCompleted", "FlowSucceeded"]
    assert [entry["code"] for entry in reverse["entries"]] == codes[::-1]
    assert log["has_next_page"] is False


async def test_run_log_paginates(client: httpx.AsyncClient, clock: ManualClock) -> None:
    flow = await create_flow(client, pass_definition(5))
    run = await start_run(client, flow["id"])
    clock.advance(1)

    first = (await client.get(f"/runs/{run['run_id']}/log", params={"limit": 4})).json()
    rest = (
        await client.get(
            f"/runs/{run['run_id']}/log",
            params={"limit": 100, "marker": first["marker"]},
        )
    ).json()

    assert len(first["entries"]) == 4
    assert first["has_next_page"] is True
    assert len(first["entries"]) + len(rest["entries"]) == 12


async def test_run_missing_required_input_400(client: httpx.AsyncClient) -> None:
    flow = await create_flow(
        client,
        input_schema={
            "type": "object",
            "required": ["path"],
            "properties": {"path": {"type": "string"}},
        },
    )

    missing = await client.post(f"/flows/{flow['id']}/run", json={"body": {}})
    wrong_type = await client.post(
        f"/flows/{flow['id']}/run", json={"body": {"path": 3}}
    )

    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "FLOW_INPUT_ERROR"
    assert wrong_type.status_code == 400


async def test_validate_run_accepts_input(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)

    response = await client.post(f"/flows/{flow['id']}/validate_run", json={"body": {}})

    assert response.json() == {"message": "validation successful"}
    assert emulator.count("POST", "/flows/{flow_id}/run") == 0


async def test_run_needs_flow_token(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)
    flows_token = emulator.issue_tokens(
        [
            "https://auth.globus.org/scopes/eec9b274-0c81-4334-bdc2-54e90e689b9a/manage_flows"
        ]
    )
    flow_token = emulator.issue_tokens([flow["globus_auth_scope"]])

    wrong = await client.post(
        f"/flows/{flow['id']}/run",
        json={"body": {}},
        headers={"Authorization": f"Bearer {flows_token['access_token']}"},
    )
    right = await client.post(
        f"/flows/{flow['id']}/run",
        json={"body": {}},
        headers={"Authorization": f"Bearer {flow_token['access_token']}"},
    )

    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "MISSING_SCOPE"
    assert flow["globus_auth_scope"] in wrong.json()["error"]["detail"]
    assert right.status_code == 201


async def test_run_deleted_flow_404(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)
    emulator.delete_flow(flow["id"])

    response = await client.post(f"/flows/{flow['id']}/run", json={"body": {}})

    assert response.status_code == 404


async def test_viewer_cannot_run(client: httpx.AsyncClient, emulator: Emulator) -> None:
    other = emulator.add_user()
    emulator.add_static_token("viewer-token", other)
    flow = await create_flow(client, flow_viewers=["public"])

    response = await client.post(
        f"/flows/{flow['id']}/run",
        json={"body": {}},
        headers={"Authorization": "Bearer viewer-token"},
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_consent_reject_mode_403(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)
    emulator.require_consent(flow["id"])

    rejected = await client.post(f"/flows/{flow['id']}/run", json={"body": {}})
    emulator.grant_consent(flow["id"])
    accepted = await client.post(f"/flows/{flow['id']}/run", json={"body": {}})

    assert rejected.status_code == 403
    assert rejected.json()["error"]["code"] == "MISSING_SCOPE"
    assert accepted.status_code == 201


async def test_consent_inactive_mode_resumes(
    client: httpx.AsyncClient, emulator: Emulator, clock: ManualClock
) -> None:
    flow = await create_flow(client, action_definition())
    emulator.require_consent(flow["id"], mode="inactive")
    run = await start_run(client, flow["id"], {})

    clock.advance(5)
    inactive = await _get_run(client, run["run_id"])
    still = (await client.post(f"/runs/{run['run_id']}/resume")).json()
    emulator.grant_consent(flow["id"])
    resumed = (await client.post(f"/runs/{run['run_id']}/resume")).json()
    clock.advance(1)
    done = await _get_run(client, run["run_id"])

    assert inactive["status"] == "INACTIVE"
    assert inactive["details"]["details"]["required_scope"] == flow["globus_auth_scope"]
    assert still["status"] == "INACTIVE"
    assert resumed["status"] == "ACTIVE"
    assert done["status"] == "SUCCEEDED"


async def test_list_runs_filters_by_flow(client: httpx.AsyncClient) -> None:
    first = await create_flow(client)
    second = await create_flow(client)
    await start_run(client, first["id"])
    await start_run(client, second["id"])
    await start_run(client, second["id"])

    response = await client.get("/runs", params={"filter_flow_id": second["id"]})

    assert [run["flow_id"] for run in response.json()["runs"]] == [
        second["id"],
        second["id"],
    ]


async def test_list_runs_filters_by_status(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    flow = await create_flow(client, action_definition())
    finished = await start_run(client, flow["id"], {})
    clock.advance(5)
    active = await start_run(client, flow["id"], {})

    response = await client.get("/runs", params={"filter_status": "ACTIVE"})

    assert [run["run_id"] for run in response.json()["runs"]] == [active["run_id"]]
    assert finished["run_id"] != active["run_id"]


async def test_other_user_cannot_read_run(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)
    run = await start_run(client, flow["id"])
    other = emulator.add_user()
    emulator.add_static_token("other-token", other)

    response = await client.get(
        f"/runs/{run['run_id']}", headers={"Authorization": "Bearer other-token"}
    )

    assert response.status_code == 403


async def test_run_monitor_reads_not_cancels(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    other = emulator.add_user()
    emulator.add_static_token("monitor-token", other)
    flow = await create_flow(client, action_definition())
    run = await start_run(
        client, flow["id"], {}, run_monitors=[f"urn:globus:auth:identity:{other}"]
    )
    headers = {"Authorization": "Bearer monitor-token"}

    seen = await client.get(f"/runs/{run['run_id']}", headers=headers)
    cancel = await client.post(f"/runs/{run['run_id']}/cancel", headers=headers)

    assert seen.json()["user_role"] == "run_monitor"
    assert cancel.status_code == 403


async def test_run_invalid_manager_422(client: httpx.AsyncClient) -> None:
    flow = await create_flow(client)

    response = await client.post(
        f"/flows/{flow['id']}/run", json={"body": {}, "run_managers": ["someone"]}
    )

    assert response.status_code == 422
    assert response.json()["error"]["detail"][0]["loc"] == ["run_managers", 0]


async def test_get_run_unknown_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/runs/00000000-0000-4000-8000-000000000000")

    assert response.status_code == 404


async def test_get_run_flow_description(client: httpx.AsyncClient) -> None:
    flow = await create_flow(client, title="Described")
    run = await start_run(client, flow["id"])

    response = await client.get(
        f"/runs/{run['run_id']}", params={"include_flow_description": "True"}
    )

    assert response.json()["flow_description"]["title"] == "Described"


async def test_runaway_loop_is_bounded(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.timing = RunTiming(action_seconds=0, max_states=50)
    definition = {
        "StartAt": "Spin",
        "States": {"Spin": {"Type": "Pass", "Next": "Spin"}},
    }
    flow = await create_flow(client, definition)
    run = await start_run(client, flow["id"])

    done = await _get_run(client, run["run_id"])

    assert done["status"] == "FAILED"
    assert done["details"]["details"]["error"] == "EmulatorStateLimit"


async def test_wait_state_is_capped(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    definition = {
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Wait", "Seconds": 1800, "End": True}},
    }
    flow = await create_flow(client, definition)
    run = await start_run(client, flow["id"])

    clock.advance(1)
    done = await _get_run(client, run["run_id"])

    assert done["status"] == "SUCCEEDED"


async def test_runs_use_any_host(emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    async with httpx.AsyncClient(
        transport=emulator.transport(),
        base_url="http://elsewhere.invalid",
        headers=headers,
    ) as http:
        flow = await create_flow(http)

    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=FLOWS_URL, headers=headers
    ) as http:
        response = await http.get(f"/flows/{flow['id']}")

    assert response.status_code == 200
