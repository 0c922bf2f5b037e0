"""Shared values and helpers of the emulator tests."""

from __future__ import annotations

from typing import Any

import httpx

FLOWS_URL = "https://flows.automate.globus.org"
GROUPS_URL = "https://groups.api.globus.org"
AUTH_URL = "https://auth.globus.org"
MANAGE_FLOWS_SCOPE = (
    "https://auth.globus.org/scopes/eec9b274-0c81-4334-bdc2-54e90e689b9a/manage_flows"
)
GROUPS_SCOPE = "urn:globus:auth:scope:groups.api.globus.org:all"


def pass_definition(states: int = 1) -> dict[str, Any]:
    """Return a definition of ``states`` chained Pass states."""
    names = [f"Step{index}" for index in range(states)]
    chain: dict[str, Any] = {}
    for index, name in enumerate(names):
        state: dict[str, Any] = {"Type": "Pass"}
        if index + 1 < len(names):
            state["Next"] = names[index + 1]
        else:
            state["End"] = True
        chain[name] = state
    return {"StartAt": names[0], "States": chain}


def action_definition() -> dict[str, Any]:
    """Return a definition with one transfer Action state."""
    return {
        "StartAt": "Transfer",
        "States": {
            "Transfer": {
                "Type": "Action",
                "ActionUrl": "https://transfer.actions.globus.org/transfer",
                "Parameters": {"label.$": "$.label"},
                "ResultPath": "$.TransferResult",
                "End": True,
            }
        },
    }


async def create_flow(
    client: httpx.AsyncClient, definition: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """Deploy a flow and return its document, failing the test on an error."""
    body = {"title": "Test flow", "definition": definition or pass_definition()}
    body.update(fields)
    response = await client.post("/flows", json=body)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


async def start_run(
    client: httpx.AsyncClient, flow_id: str, run_input: Any = None, **fields: Any
) -> dict[str, Any]:
    """Start a run and return its document, failing the test on an error."""
    body = {"body": run_input if run_input is not None else {}, **fields}
    response = await client.post(f"/flows/{flow_id}/run", json=body)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document
