"""The emulator against malformed requests from any client, aioflows or not."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hardening_support import FLOWS_URL, pass_definition

from aioflows.emulator import Emulator

pytestmark = pytest.mark.anyio


def build_choice_body() -> dict[str, Any]:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": 5}}}
    return {"title": "bad choices", "definition": definition}


def build_schema_body(**fields: Any) -> dict[str, Any]:
    return {
        "title": "bad schema",
        "definition": pass_definition(),
        "input_schema": fields,
    }


BAD_CREATE_BODIES = {
    "deep-json": b"[" * 100_000,
    "choices-not-list": json.dumps(build_choice_body()).encode(),
    "required-not-list": json.dumps(build_schema_body(required=5)).encode(),
    "properties-not-object": json.dumps(build_schema_body(properties=5)).encode(),
}


@pytest.mark.parametrize("body", ["deep-json", "choices-not-list"])
async def test_bad_request_keeps_server_up(body: str, emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    statuses: list[int] = []

    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=headers) as client,
    ):
        try:
            response = await client.post("/flows", content=BAD_CREATE_BODIES[body])
            statuses.append(response.status_code)
        except httpx.TransportError:
            statuses.append(0)
        after = await client.get("/flows")

    assert statuses[0] >= 400
    assert after.status_code == 200


@pytest.mark.parametrize("body", list(BAD_CREATE_BODIES))
async def test_malformed_create_answered_422(body: str, emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=FLOWS_URL, headers=headers
    ) as client:
        response = await client.post("/flows", content=BAD_CREATE_BODIES[body])

    assert response.status_code == 422
