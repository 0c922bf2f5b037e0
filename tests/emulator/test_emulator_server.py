"""The loopback HTTP server, driven by httpx and by globus-sdk's own clients."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import anyio.to_thread
import globus_sdk
import httpx
import pytest
from emulator_helpers import action_definition, pass_definition

from aioflows.emulator import Emulator, FaultKind
from aioflows.emulator import _emulator as emulator_module
from aioflows.emulator._pipeline import Outcome, respond

pytestmark = pytest.mark.anyio


def _headers(emulator: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.static_token}"}


async def test_server_serves_flows(emulator: Emulator) -> None:
    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=_headers(emulator)) as http,
    ):
        created = await http.post(
            "/flows", json={"title": "Served", "definition": pass_definition()}
        )
        fetched = await http.get(f"/flows/{created.json()['id']}")

    assert server.url.startswith("http://127.0.0.1:")
    assert created.status_code == 201
    assert fetched.json()["title"] == "Served"


async def test_server_keeps_connection_alive(emulator: Emulator) -> None:
    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=_headers(emulator)) as http,
    ):
        statuses = [(await http.get("/flows")).status_code for _ in range(20)]

    assert statuses == [200] * 20
    assert emulator.count("GET", "/flows") == 20


async def test_server_stops_on_exit(emulator: Emulator) -> None:
    async with emulator.serve() as server:
        url = server.url

    async with httpx.AsyncClient(base_url=url) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/flows")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.org"])
async def test_server_rejects_remote_host(emulator: Emulator, host: str) -> None:
    with pytest.raises(ValueError, match="allow_remote_host"):
        async with emulator.serve(host=host):
            pass


async def test_server_html_fault(emulator: Emulator) -> None:
    emulator.faults.add(FaultKind.HTTP_502)

    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=_headers(emulator)) as http,
    ):
        response = await http.get("/flows")

    assert response.status_code == 502
    assert "<html>" in response.text


async def test_server_connection_reset(emulator: Emulator) -> None:
    emulator.faults.add(FaultKind.CONNECTION_RESET)

    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=_headers(emulator)) as http,
    ):
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await http.get("/flows")
        after = await http.get("/flows")

    assert after.status_code == 200


async def test_server_response_lost_applies(emulator: Emulator) -> None:
    emulator.faults.add(FaultKind.RESPONSE_LOST, method="POST")

    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=_headers(emulator)) as http,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(
                "/flows", json={"title": "Lost", "definition": pass_definition()}
            )

    assert len(emulator.flow_ids()) == 1


async def test_server_read_timeout(emulator: Emulator) -> None:
    emulator.faults.add(FaultKind.READ_TIMEOUT)
    timeout = httpx.Timeout(5.0, read=0.2)

    async with (
        emulator.serve() as server,
        httpx.AsyncClient(
            base_url=server.url, headers=_headers(emulator), timeout=timeout
        ) as http,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/flows")


async def test_server_invalid_http_survives(emulator: Emulator) -> None:
    async with emulator.serve() as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(b"NOT HTTP AT ALL\r\n\r\n")
            with anyio.fail_after(5), contextlib.suppress(anyio.EndOfStream):
                await stream.receive()
        async with httpx.AsyncClient(
            base_url=server.url, headers=_headers(emulator)
        ) as http:
            response = await http.get("/flows")

    assert response.status_code == 200


async def test_server_invalid_header_answers_400(emulator: Emulator) -> None:
    request = b"GET /flows HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n"
    received = b""

    async with emulator.serve() as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(request)
            with anyio.fail_after(5), contextlib.suppress(anyio.EndOfStream):
                while True:
                    received += await stream.receive()

    assert received.startswith(b"HTTP/1.1 400 ")
    assert b'"code":"BAD_REQUEST"' in received


async def test_server_handler_error_answers_500(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = iter([RuntimeError("handler bug")])

    def respond_once_failing(*args: Any, **kwargs: Any) -> Outcome:
        for failure in failures:
            raise failure
        return respond(*args, **kwargs)

    monkeypatch.setattr(emulator_module, "respond", respond_once_failing)
    async with (
        emulator.serve() as server,
        httpx.AsyncClient(base_url=server.url, headers=_headers(emulator)) as http,
    ):
        failed = await http.get("/flows")
        after = await http.get("/flows")

    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "INTERNAL_SERVER_ERROR"
    assert after.status_code == 200


def _flows_client_session(token: str) -> dict[str, Any]:
    """Drive globus-sdk's synchronous Flows clients through a whole flow lifecycle."""
    authorizer = globus_sdk.AccessTokenAuthorizer(token)
    flows = globus_sdk.FlowsClient(authorizer=authorizer)
    created = flows.create_flow("Peer flow", action_definition(), {}, keywords=["peer"])
    flow_id = created["id"]
    fetched = flows.get_flow(flow_id)
    updated = flows.update_flow(flow_id, title="Peer flow, renamed")
    listed = [flow["id"] for flow in flows.list_flows()]

    specific = globus_sdk.SpecificFlowClient(flow_id, authorizer=authorizer)
    run = specific.run_flow({"label": "x"}, label="Peer run", tags=["peer"])
    got_run = flows.get_run(run["run_id"])
    canceled = flows.cancel_run(run["run_id"])
    deleted = flows.delete_flow(flow_id)

    try:
        flows.get_flow(flow_id)
        missing_status = 200
    except globus_sdk.FlowsAPIError as error:
        missing_status = error.http_status

    return {
        "created": created.data,
        "fetched": fetched.data,
        "updated": updated.data,
        "listed": listed,
        "run": run.data,
        "got_run": got_run.data,
        "canceled": canceled.data,
        "deleted": deleted.data,
        "missing_status": missing_status,
    }


async def test_globus_sdk_flows_clients(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with emulator.serve() as server:
        monkeypatch.setenv("GLOBUS_SDK_SERVICE_URL_FLOWS", f"{server.url}/")
        result = await anyio.to_thread.run_sync(
            _flows_client_session, emulator.static_token
        )

    flow_id = result["created"]["id"]
    assert result["fetched"]["id"] == flow_id
    assert result["updated"]["title"] == "Peer flow, renamed"
    assert result["listed"] == [flow_id]
    assert result["run"]["status"] == "ACTIVE"
    assert result["got_run"]["run_id"] == result["run"]["run_id"]
    assert result["canceled"]["status"] == "ENDED"
    assert result["deleted"]["DELETED"] is True
    assert result["missing_status"] == 404


def _groups_client_session(token: str, subscription_id: str) -> tuple[list[str], str]:
    groups = globus_sdk.GroupsClient(authorizer=globus_sdk.AccessTokenAuthorizer(token))
    names = [group["name"] for group in groups.get_my_groups()]
    info = groups.get_group_by_subscription_id(subscription_id)
    return names, info["group_id"]


async def test_globus_sdk_groups_client(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_group("Plain group")
    subscription = emulator.add_subscription("Lab")

    async with emulator.serve() as server:
        monkeypatch.setenv("GLOBUS_SDK_SERVICE_URL_GROUPS", f"{server.url}/")
        names, group_id = await anyio.to_thread.run_sync(
            _groups_client_session, emulator.static_token, subscription.subscription_id
        )

    assert sorted(names) == ["Lab", "Plain group"]
    assert group_id == subscription.group_id


def _confidential_client_session(client_id: str) -> str:
    auth = globus_sdk.ConfidentialAppAuthClient(client_id, "secret")
    tokens = auth.oauth2_client_credentials_tokens(
        requested_scopes=globus_sdk.GroupsClient.scopes.all
    )
    return str(tokens.by_resource_server["groups.api.globus.org"]["access_token"])


async def test_globus_sdk_auth_client(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = "7c0fd9c5-2c4e-4b6b-9a1c-4bdfa2b9f0d1"

    async with emulator.serve() as server:
        monkeypatch.setenv("GLOBUS_SDK_SERVICE_URL_AUTH", f"{server.url}/")
        token = await anyio.to_thread.run_sync(_confidential_client_session, client_id)
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.get(
                "/v2/groups/my_groups", headers={"Authorization": f"Bearer {token}"}
            )

    assert response.status_code == 200
    assert response.json() == []
