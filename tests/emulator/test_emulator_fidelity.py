"""Emulator documents against the responses that globus-sdk recorded from the real services.

Each check compares keys and JSON types, not values: every key of the
recorded document must be present with the same JSON type. A null on either
side matches any type, because the services send null for unset values.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from emulator_helpers import AUTH_URL, GROUPS_SCOPE, GROUPS_URL, create_flow

from aioflows.emulator import Emulator, ManualClock

pytest.importorskip(
    "responses", reason="globus_sdk.testing needs the 'responses' package"
)

pytestmark = pytest.mark.anyio

_JSON_TYPES = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_types, name in _JSON_TYPES:
        if isinstance(value, python_types):
            return name
    return type(value).__name__


def _differences(
    expected: Any, actual: Any, where: str = "$", depth: int = 3
) -> list[str]:
    expected_type, actual_type = _json_type(expected), _json_type(actual)
    if "null" in (expected_type, actual_type):
        return []
    if expected_type != actual_type:
        return [f"{where}: recorded {expected_type}, emulator {actual_type}"]
    if depth == 0:
        return []

    if isinstance(expected, dict):
        problems = [f"{where}.{key}: missing" for key in expected if key not in actual]
        for key in expected:
            if key in actual:
                problems += _differences(
                    expected[key], actual[key], f"{where}.{key}", depth - 1
                )
        return problems

    if isinstance(expected, list) and expected and actual:
        return _differences(expected[0], actual[0], f"{where}[0]", depth - 1)
    return []


def _recorded(service: str, name: str, case: str = "default") -> Any:
    module = importlib.import_module(f"globus_sdk.testing.data.{service}.{name}")
    found = module.RESPONSES.lookup(case)
    response = found.responses[0] if hasattr(found, "responses") else found
    return response.json


def _flow_body() -> dict[str, Any]:
    document = _recorded("flows", "get_flow")
    body = {
        key: document[key]
        for key in (
            "title",
            "definition",
            "input_schema",
            "subtitle",
            "description",
            "keywords",
        )
    }
    body["flow_viewers"] = ["public"]
    return body


async def test_create_flow_shape(client: httpx.AsyncClient) -> None:
    created = await create_flow(client, **_flow_body())

    assert _differences(_recorded("flows", "create_flow"), created) == []


async def test_get_flow_shape(client: httpx.AsyncClient) -> None:
    created = await create_flow(client, **_flow_body())

    fetched = (await client.get(f"/flows/{created['id']}")).json()

    assert _differences(_recorded("flows", "get_flow"), fetched) == []


async def test_update_flow_shape(client: httpx.AsyncClient) -> None:
    created = await create_flow(client, **_flow_body())
    update = {
        "subtitle": "x",
        "subscription_id": "00000000-3ba7-456e-9df7-fc40028f3331",
    }

    updated = (await client.put(f"/flows/{created['id']}", json=update)).json()

    assert _differences(_recorded("flows", "update_flow"), updated) == []


async def test_delete_flow_shape(client: httpx.AsyncClient) -> None:
    created = await create_flow(client, **_flow_body())

    deleted = (await client.delete(f"/flows/{created['id']}")).json()

    assert _differences(_recorded("flows", "delete_flow"), deleted) == []


async def test_list_flows_shape(client: httpx.AsyncClient) -> None:
    await create_flow(client, **_flow_body())

    listing = (await client.get("/flows")).json()

    assert _differences(_recorded("flows", "list_flows"), listing) == []


async def _finished_run(
    client: httpx.AsyncClient, clock: ManualClock
) -> tuple[dict[str, Any], dict[str, Any]]:
    created = await create_flow(client, **_flow_body())
    body = _recorded("flows", "run_flow")["details"]["details"]["input"]
    started = (
        await client.post(
            f"/flows/{created['id']}/run",
            json={"body": body, "label": "Run", "tags": ["a"]},
        )
    ).json()
    clock.advance(60)
    return created, started


async def test_run_flow_shape(client: httpx.AsyncClient, clock: ManualClock) -> None:
    _, started = await _finished_run(client, clock)

    assert _differences(_recorded("flows", "run_flow"), started) == []


async def test_get_run_shape(client: httpx.AsyncClient, clock: ManualClock) -> None:
    _, started = await _finished_run(client, clock)

    fetched = (await client.get(f"/runs/{started['run_id']}")).json()

    assert _differences(_recorded("flows", "get_run"), fetched, depth=2) == []


async def test_list_runs_shape(client: httpx.AsyncClient, clock: ManualClock) -> None:
    await _finished_run(client, clock)

    listing = (await client.get("/runs")).json()

    assert _differences(_recorded("flows", "list_runs"), listing) == []


async def test_cancel_run_shape(client: httpx.AsyncClient, clock: ManualClock) -> None:
    created = await create_flow(client, **_flow_body())
    body = _recorded("flows", "run_flow")["details"]["details"]["input"]
    started = (
        await client.post(
            f"/flows/{created['id']}/run", json={"body": body, "label": "Run"}
        )
    ).json()

    canceled = (await client.post(f"/runs/{started['run_id']}/cancel")).json()

    assert _differences(_recorded("flows", "cancel_run"), canceled) == []


async def test_run_log_shape(client: httpx.AsyncClient, clock: ManualClock) -> None:
    _, started = await _finished_run(client, clock)

    log = (await client.get(f"/runs/{started['run_id']}/log")).json()

    assert _differences(_recorded("flows", "get_run_logs"), log, depth=2) == []


async def test_validate_run_shape(client: httpx.AsyncClient) -> None:
    created = await create_flow(client, **_flow_body())
    body = _recorded("flows", "run_flow")["details"]["details"]["input"]

    response = (
        await client.post(f"/flows/{created['id']}/validate_run", json={"body": body})
    ).json()

    assert _differences(_recorded("flows", "validate_run"), response) == []


async def test_invalid_principal_error_shape(client: httpx.AsyncClient) -> None:
    body = {
        **_flow_body(),
        "flow_administrators": ["ae341a98-d274-11e5-b888-dbae3a8ba545"],
    }

    response = await client.post("/flows", json=body)

    assert response.status_code == 422
    assert (
        _differences(
            _recorded("flows", "create_flow", "bad_admin_principal_error"),
            response.json(),
            depth=4,
        )
        == []
    )


async def test_missing_scope_error_shape(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    created = await create_flow(client, **_flow_body())
    emulator.require_consent(created["id"])

    response = await client.post(f"/flows/{created['id']}/run", json={"body": {}})

    assert response.status_code == 403
    assert (
        _differences(
            _recorded("flows", "run_flow", "missing_scope_error"), response.json()
        )
        == []
    )


async def test_input_error_shape(client: httpx.AsyncClient) -> None:
    created = await create_flow(client, **_flow_body())

    response = await client.post(
        f"/flows/{created['id']}/validate_run", json={"body": {}}
    )

    assert response.status_code == 400
    assert (
        _differences(
            _recorded("flows", "validate_run", "invalid_input_payload"),
            response.json(),
            depth=4,
        )
        == []
    )


async def test_invalid_token_error_shape(client: httpx.AsyncClient) -> None:
    created = await create_flow(client, **_flow_body())

    response = await client.post(
        f"/flows/{created['id']}/validate_run",
        json={"body": {}},
        headers={"Authorization": "Bearer expired"},
    )

    assert response.status_code == 401
    assert (
        _differences(
            _recorded("flows", "validate_run", "invalid_token"), response.json()
        )
        == []
    )


async def test_not_a_starter_error_shape(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    created = await create_flow(client, **_flow_body())
    emulator.add_static_token("viewer", emulator.add_user())

    response = await client.post(
        f"/flows/{created['id']}/validate_run",
        json={"body": {}},
        headers={"Authorization": "Bearer viewer"},
    )

    assert response.status_code == 403
    assert (
        _differences(
            _recorded("flows", "validate_run", "not_a_flow_starter"), response.json()
        )
        == []
    )


@pytest.fixture
def groups_headers(emulator: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.static_token}"}


async def test_group_documents_shape(
    client: httpx.AsyncClient, emulator: Emulator, groups_headers: dict[str, str]
) -> None:
    subscription = emulator.add_subscription()
    created = (
        await client.post(
            f"{GROUPS_URL}/v2/groups", json={"name": "Team"}, headers=groups_headers
        )
    ).json()

    plain = (
        await client.get(
            f"{GROUPS_URL}/v2/groups/{created['id']}", headers=groups_headers
        )
    ).json()
    subscribed = (
        await client.get(
            f"{GROUPS_URL}/v2/groups/{subscription.group_id}", headers=groups_headers
        )
    ).json()
    mine = (
        await client.get(f"{GROUPS_URL}/v2/groups/my_groups", headers=groups_headers)
    ).json()
    info = (
        await client.get(
            f"{GROUPS_URL}/v2/subscription_info/{subscription.subscription_id}",
            headers=groups_headers,
        )
    ).json()
    deleted = (
        await client.delete(
            f"{GROUPS_URL}/v2/groups/{created['id']}", headers=groups_headers
        )
    ).json()

    assert _differences(_recorded("groups", "create_group"), created) == []
    assert _differences(_recorded("groups", "get_group"), plain) == []
    assert (
        _differences(
            _recorded("groups", "get_group", "subscription"), subscribed, depth=2
        )
        == []
    )
    assert _differences(_recorded("groups", "get_my_groups"), mine) == []
    assert (
        _differences(_recorded("groups", "get_group_by_subscription_id"), info, depth=1)
        == []
    )
    assert _differences(_recorded("groups", "delete_group"), deleted) == []


async def test_auth_documents_shape(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    form = {"grant_type": "client_credentials", "scope": GROUPS_SCOPE}
    tokens = (
        await client.post(
            f"{AUTH_URL}/v2/oauth2/token", data=form, auth=("app", "secret")
        )
    ).json()
    introspected = (
        await client.post(
            f"{AUTH_URL}/v2/oauth2/token/introspect",
            data={"token": tokens["access_token"]},
            auth=("app", "secret"),
        )
    ).json()
    revoked = (
        await client.post(
            f"{AUTH_URL}/v2/oauth2/token/revoke",
            data={"token": tokens["access_token"]},
            auth=("app", "secret"),
        )
    ).json()

    assert (
        _differences(_recorded("auth", "oauth2_client_credentials_tokens"), tokens)
        == []
    )
    assert (
        _differences(_recorded("auth", "oauth2_token_introspect"), introspected) == []
    )
    assert _differences(_recorded("auth", "oauth2_revoke_token"), revoked) == []
