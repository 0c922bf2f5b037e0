"""The emulated Groups and Auth APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from emulator_helpers import AUTH_URL, GROUPS_SCOPE, GROUPS_URL, MANAGE_FLOWS_SCOPE

from aioflows.emulator import Emulator, ManualClock

pytestmark = pytest.mark.anyio


@pytest.fixture
async def groups(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    transport = emulator.transport()
    async with httpx.AsyncClient(
        transport=transport, base_url=GROUPS_URL, headers=headers
    ) as http:
        yield http


@pytest.fixture
async def auth(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=AUTH_URL
    ) as http:
        yield http


async def test_create_group_makes_admin(
    groups: httpx.AsyncClient, emulator: Emulator
) -> None:
    created = (
        await groups.post("/v2/groups", json={"name": "Team", "description": "d"})
    ).json()
    mine = (await groups.get("/v2/groups/my_groups")).json()

    assert created["my_memberships"][0]["role"] == "admin"
    assert created["my_memberships"][0]["identity_id"] == emulator.identity_id
    assert [group["id"] for group in mine] == [created["id"]]


async def test_create_group_without_name_422(groups: httpx.AsyncClient) -> None:
    response = await groups.post("/v2/groups", json={"description": "no name"})

    assert response.status_code == 422


async def test_update_group_by_admin(groups: httpx.AsyncClient) -> None:
    created = (await groups.post("/v2/groups", json={"name": "Team"})).json()

    response = await groups.put(f"/v2/groups/{created['id']}", json={"name": "Renamed"})

    assert response.json()["name"] == "Renamed"


async def test_member_cannot_update_group(
    groups: httpx.AsyncClient, emulator: Emulator
) -> None:
    group_id = emulator.add_group("Members only", role="member")

    update = await groups.put(f"/v2/groups/{group_id}", json={"name": "x"})
    delete = await groups.delete(f"/v2/groups/{group_id}")

    assert update.status_code == 403
    assert delete.status_code == 403


async def test_delete_group_then_404(groups: httpx.AsyncClient) -> None:
    created = (await groups.post("/v2/groups", json={"name": "Gone"})).json()

    deleted = await groups.delete(f"/v2/groups/{created['id']}")
    after = await groups.get(f"/v2/groups/{created['id']}")

    assert deleted.json()["id"] == created["id"]
    assert after.status_code == 404


async def test_subscription_group_and_info(
    groups: httpx.AsyncClient, emulator: Emulator
) -> None:
    subscription = emulator.add_subscription("Lab subscription")

    group = (await groups.get(f"/v2/groups/{subscription.group_id}")).json()
    info = (
        await groups.get(f"/v2/subscription_info/{subscription.subscription_id}")
    ).json()

    assert group["subscription_id"] == subscription.subscription_id
    assert group["subscription_info"]["name"] == "Lab subscription"
    assert info["group_id"] == subscription.group_id
    assert "name" not in info["subscription_info"]


async def test_unknown_subscription_404(groups: httpx.AsyncClient) -> None:
    response = await groups.get(
        "/v2/subscription_info/00000000-0000-4000-8000-000000000000"
    )

    assert response.status_code == 404


async def test_flows_token_rejected_by_groups(
    groups: httpx.AsyncClient, emulator: Emulator
) -> None:
    token = emulator.issue_tokens([MANAGE_FLOWS_SCOPE])["access_token"]

    response = await groups.get(
        "/v2/groups/my_groups", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401


async def test_client_credentials_per_server(auth: httpx.AsyncClient) -> None:
    response = await auth.post(
        "/v2/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "scope": f"{MANAGE_FLOWS_SCOPE} {GROUPS_SCOPE}",
        },
        auth=("client-id", "secret"),
    )

    body = response.json()
    servers = {
        body["resource_server"],
        *(other["resource_server"] for other in body["other_tokens"]),
    }
    assert response.status_code == 200
    assert servers == {"flows.globus.org", "groups.api.globus.org"}
    assert body["expires_in"] == 172_800
    assert "refresh_token" not in body


async def test_client_credentials_token_works(
    auth: httpx.AsyncClient, emulator: Emulator
) -> None:
    body = (
        await auth.post(
            "/v2/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "scope": GROUPS_SCOPE,
                "client_id": "app",
                "client_secret": "s",
            },
        )
    ).json()

    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=GROUPS_URL
    ) as http:
        response = await http.get(
            "/v2/groups/my_groups",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )

    assert response.status_code == 200


async def test_client_credentials_without_secret_401(auth: httpx.AsyncClient) -> None:
    response = await auth.post(
        "/v2/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "scope": GROUPS_SCOPE,
            "client_id": "app",
        },
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_unsupported_grant_400(auth: httpx.AsyncClient) -> None:
    response = await auth.post("/v2/oauth2/token", data={"grant_type": "password"})

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_refresh_token_grant(auth: httpx.AsyncClient, emulator: Emulator) -> None:
    issued = emulator.issue_tokens([GROUPS_SCOPE])

    refreshed = (
        await auth.post(
            "/v2/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": issued["refresh_token"],
            },
        )
    ).json()

    assert refreshed["resource_server"] == "groups.api.globus.org"
    assert refreshed["access_token"] != issued["access_token"]
    assert refreshed["refresh_token"] == issued["refresh_token"]


async def test_refresh_token_rotation(
    auth: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.rotate_refresh_tokens = True
    issued = emulator.issue_tokens([GROUPS_SCOPE])
    data = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}

    first = await auth.post("/v2/oauth2/token", data=data)
    reused = await auth.post("/v2/oauth2/token", data=data)

    assert first.json()["refresh_token"] != issued["refresh_token"]
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


async def test_revoked_token_rejected(
    auth: httpx.AsyncClient, emulator: Emulator
) -> None:
    token = emulator.issue_tokens([GROUPS_SCOPE])["access_token"]

    revoke = await auth.post("/v2/oauth2/token/revoke", data={"token": token})
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=GROUPS_URL
    ) as http:
        response = await http.get(
            "/v2/groups/my_groups", headers={"Authorization": f"Bearer {token}"}
        )

    assert revoke.json() == {"active": False}
    assert response.status_code == 401


async def test_expired_token_rejected(emulator: Emulator, clock: ManualClock) -> None:
    emulator.token_lifetime = 60
    token = emulator.issue_tokens([GROUPS_SCOPE])["access_token"]
    clock.advance(60)

    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=GROUPS_URL
    ) as http:
        response = await http.get(
            "/v2/groups/my_groups", headers={"Authorization": f"Bearer {token}"}
        )

    assert response.status_code == 401


async def test_introspect_live_and_dead(
    auth: httpx.AsyncClient, emulator: Emulator
) -> None:
    token = emulator.issue_tokens([GROUPS_SCOPE])["access_token"]

    live = (
        await auth.post(
            "/v2/oauth2/token/introspect", data={"token": token}, auth=("app", "s")
        )
    ).json()
    dead = (
        await auth.post(
            "/v2/oauth2/token/introspect", data={"token": "nope"}, auth=("app", "s")
        )
    ).json()

    assert live["active"] is True
    assert live["sub"] == emulator.identity_id
    assert dead == {"active": False}
