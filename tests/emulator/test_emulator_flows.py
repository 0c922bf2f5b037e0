"""The emulated Flows API: flow documents, roles, listing and errors."""

from __future__ import annotations

import httpx
import pytest
from emulator_helpers import FLOWS_URL, MANAGE_FLOWS_SCOPE, create_flow, pass_definition

from aioflows.emulator import Emulator, ManualClock

pytestmark = pytest.mark.anyio


def _client_for(emulator: Emulator, token: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(
        transport=emulator.transport(), base_url=FLOWS_URL, headers=headers
    )


async def test_create_flow_fills_service_fields(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client, keywords=["demo"], subtitle="Sub")

    assert flow["flow_owner"] == f"urn:globus:auth:identity:{emulator.identity_id}"
    assert flow["globus_auth_scope"].endswith(
        f"flow_{flow['id'].replace('-', '_')}_user"
    )
    assert flow["user_role"] == "flow_owner"
    assert flow["keywords"] == ["demo"]
    assert flow["created_at"] == flow["updated_at"]


async def test_get_flow_returns_created(client: httpx.AsyncClient) -> None:
    flow = await create_flow(client)

    response = await client.get(f"/flows/{flow['id']}")

    assert response.status_code == 200
    assert response.json() == flow


async def test_get_flow_unknown_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/flows/00000000-0000-4000-8000-000000000000")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert "debug_id" in response.json()


async def test_update_flow_changes_fields(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    flow = await create_flow(client)
    clock.advance(5)

    response = await client.put(
        f"/flows/{flow['id']}",
        json={"title": "Renamed", "definition": pass_definition(2)},
    )

    updated = response.json()
    assert response.status_code == 200
    assert updated["title"] == "Renamed"
    assert updated["definition"] == pass_definition(2)
    assert updated["updated_at"] > flow["updated_at"]
    assert updated["created_at"] == flow["created_at"]


async def test_update_flow_clears_subscription(client: httpx.AsyncClient) -> None:
    subscription_id = "00000000-3ba7-456e-9df7-fc40028f3331"
    flow = await create_flow(client, subscription_id=subscription_id)

    response = await client.put(f"/flows/{flow['id']}", json={"subscription_id": None})

    assert flow["subscription_id"] == subscription_id
    assert response.json()["subscription_id"] is None


async def test_delete_flow_marks_document(client: httpx.AsyncClient) -> None:
    flow = await create_flow(client)

    deleted = await client.delete(f"/flows/{flow['id']}")
    after = await client.get(f"/flows/{flow['id']}")

    assert deleted.json()["DELETED"] is True
    assert "deleted_at" in deleted.json()
    assert after.status_code == 404


async def test_create_flow_invalid_principal_422(client: httpx.AsyncClient) -> None:
    body = {
        "title": "x",
        "definition": pass_definition(),
        "flow_administrators": ["ae341a98-d274-11e5-b888-dbae3a8ba545", "public"],
    }

    response = await client.post("/flows", json=body)

    detail = response.json()["error"]["detail"]
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "UNPROCESSABLE_ENTITY"
    assert [item["loc"] for item in detail] == [
        ["flow_administrators", 0],
        ["flow_administrators", 1],
    ]


async def test_create_flow_public_viewer_accepted(client: httpx.AsyncClient) -> None:
    flow = await create_flow(
        client, flow_viewers=["public"], flow_starters=["all_authenticated_users"]
    )

    assert flow["flow_viewers"] == ["public"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"definition": pass_definition()}, ["title"]),
        ({"title": "x"}, ["definition"]),
        (
            {
                "title": "x",
                "definition": {
                    "StartAt": "Nope",
                    "States": {"A": {"Type": "Pass", "End": True}},
                },
            },
            ["definition", "StartAt"],
        ),
        (
            {
                "title": "x",
                "definition": {
                    "StartAt": "A",
                    "States": {"A": {"Type": "Pass", "Next": "B"}},
                },
            },
            ["definition", "States", "A"],
        ),
        (
            {"title": "x", "definition": pass_definition(), "keywords": "one"},
            ["keywords"],
        ),
        (
            {"title": "x", "definition": pass_definition(), "input_schema": []},
            ["input_schema"],
        ),
    ],
)
async def test_create_flow_invalid_body_422(
    client: httpx.AsyncClient, body: dict[str, object], loc: list[str]
) -> None:
    response = await client.post("/flows", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["detail"][0]["loc"] == loc


async def test_create_flow_invalid_json_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/flows", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422


async def test_create_flow_unknown_state_type(client: httpx.AsyncClient) -> None:
    definition = {
        "StartAt": "Old",
        "States": {"Old": {"Type": "ActionWait", "End": True}},
    }

    flow = await create_flow(client, definition)

    assert flow["definition"] == definition


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/flows", headers={"Authorization": ""})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_ERROR"


async def test_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/flows", headers={"Authorization": "Bearer not-issued"}
    )

    assert response.status_code == 401


async def test_groups_token_rejected_by_flows(emulator: Emulator) -> None:
    tokens = emulator.issue_tokens(["urn:globus:auth:scope:groups.api.globus.org:all"])

    async with _client_for(emulator, tokens["access_token"]) as http:
        response = await http.get("/flows")

    assert response.status_code == 401


async def test_issued_flows_token_accepted(emulator: Emulator) -> None:
    tokens = emulator.issue_tokens([MANAGE_FLOWS_SCOPE])

    async with _client_for(emulator, tokens["access_token"]) as http:
        response = await http.get("/flows")

    assert response.status_code == 200


async def test_other_user_cannot_see_private(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)
    other = emulator.add_user()
    emulator.add_static_token("other-token", other)

    async with _client_for(emulator, "other-token") as http:
        response = await http.get(f"/flows/{flow['id']}")
        listing = await http.get("/flows")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert listing.json()["flows"] == []


async def test_viewer_cannot_update(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    other = emulator.add_user()
    emulator.add_static_token("viewer-token", other)
    flow = await create_flow(client, flow_viewers=[f"urn:globus:auth:identity:{other}"])

    async with _client_for(emulator, "viewer-token") as http:
        seen = await http.get(f"/flows/{flow['id']}")
        update = await http.put(f"/flows/{flow['id']}", json={"title": "Mine now"})
        delete = await http.delete(f"/flows/{flow['id']}")

    assert seen.json()["user_role"] == "flow_viewer"
    assert update.status_code == 403
    assert delete.status_code == 403


async def test_group_admin_may_update(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    other = emulator.add_user()
    emulator.add_static_token("admin-token", other)
    group_id = emulator.add_group("Admins", identity_id=other, role="member")
    flow = await create_flow(
        client, flow_administrators=[f"urn:globus:groups:id:{group_id}"]
    )

    async with _client_for(emulator, "admin-token") as http:
        response = await http.put(
            f"/flows/{flow['id']}", json={"title": "By group admin"}
        )

    assert response.status_code == 200
    assert response.json()["user_role"] == "flow_administrator"


async def test_admin_cannot_change_owner(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    other = emulator.add_user()
    emulator.add_static_token("admin-token", other)
    flow = await create_flow(
        client, flow_administrators=[f"urn:globus:auth:identity:{other}"]
    )

    async with _client_for(emulator, "admin-token") as http:
        response = await http.put(
            f"/flows/{flow['id']}",
            json={"flow_owner": f"urn:globus:auth:identity:{other}"},
        )

    assert response.status_code == 422


async def test_list_flows_paginates_with_marker(client: httpx.AsyncClient) -> None:
    created = [await create_flow(client, title=f"Flow {index}") for index in range(5)]

    first = (await client.get("/flows", params={"per_page": 2})).json()
    second = (
        await client.get("/flows", params={"per_page": 2, "marker": first["marker"]})
    ).json()
    third = (
        await client.get("/flows", params={"per_page": 2, "marker": second["marker"]})
    ).json()

    seen = [flow["id"] for page in (first, second, third) for flow in page["flows"]]
    assert first["has_next_page"] is True
    assert third["has_next_page"] is False
    assert third["marker"] is None
    assert sorted(seen) == sorted(flow["id"] for flow in created)


async def test_list_flows_invalid_marker_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/flows", params={"marker": "garbage!"})

    assert response.status_code == 400


async def test_list_flows_fulltext_filter(client: httpx.AsyncClient) -> None:
    await create_flow(client, title="Transfer nightly")
    await create_flow(client, title="Compute job", keywords=["nightly"])
    await create_flow(client, title="Other")

    response = await client.get("/flows", params={"filter_fulltext": "NIGHTLY"})

    assert sorted(flow["title"] for flow in response.json()["flows"]) == [
        "Compute job",
        "Transfer nightly",
    ]


async def test_list_flows_role_filter(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    other = emulator.add_user()
    emulator.add_static_token("other-token", other)
    async with _client_for(emulator, "other-token") as http:
        await create_flow(
            http, title="Theirs", flow_starters=["all_authenticated_users"]
        )
    await create_flow(client, title="Mine")

    owned = await client.get("/flows", params={"filter_roles": "flow_owner"})
    runnable = await client.get("/flows", params={"filter_roles": "flow_starter"})

    assert [flow["title"] for flow in owned.json()["flows"]] == ["Mine"]
    assert sorted(flow["title"] for flow in runnable.json()["flows"]) == [
        "Mine",
        "Theirs",
    ]


async def test_list_flows_orderby_title(client: httpx.AsyncClient) -> None:
    for title in ("b", "c", "a"):
        await create_flow(client, title=title)

    response = await client.get("/flows", params={"orderby": "title ASC"})

    assert [flow["title"] for flow in response.json()["flows"]] == ["a", "b", "c"]


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nothing/here")

    assert response.status_code == 404


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.patch("/flows")

    assert response.status_code == 405


async def test_delete_behind_back_gives_404(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow = await create_flow(client)

    emulator.delete_flow(flow["id"])
    response = await client.get(f"/flows/{flow['id']}")

    assert response.status_code == 404
    assert emulator.flow_ids() == []
