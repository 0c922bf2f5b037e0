"""Session and FlowsManager against hostile HTTP responses: bodies, headers, shapes."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx
from hardening_support import FLOWS_URL, pass_definition

from aioflows import (
    APIError,
    FlowsManager,
    MemoryStorage,
    RetryPolicy,
    Session,
    StaticTokenProvider,
)

pytestmark = pytest.mark.anyio

FLOW_ID = "0a0a0a0a-0000-4000-8000-000000000001"
RUN_ID = "0d0d0d0d-0000-4000-8000-000000000004"


async def deployed_manager(session: Session, storage: MemoryStorage) -> FlowsManager:
    """Return a manager whose flow FLOW_ID is stored as current."""
    manager = FlowsManager(
        flow_definition=pass_definition(), name="hardened", session=session
    )
    await storage.set_many(
        manager.name, {"flow_id": FLOW_ID, "flow_checksum": manager.checksum()}
    )
    return manager


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\xfa not utf-8", "{}".encode("utf-16"), b"x" * 3_000_000],
    ids=["latin-bytes", "utf-16", "three-megabytes"],
)
async def test_odd_error_bytes_raise_api_error(
    content: bytes, mocked_session: Session, api: respx.MockRouter
) -> None:
    api.get("/flows").respond(500, content=content)

    with pytest.raises(APIError) as caught:
        await mocked_session.request("GET", "flows", "flows")

    assert caught.value.http_status == 500


@pytest.mark.parametrize(
    "retry_after",
    ["-5", "nan", "garbage", "Wed, 21 Oct 2015 07:28:00 GMT", "inf", "1e999", "1e9"],
)
async def test_odd_retry_after_bounded(
    retry_after: str, api: respx.MockRouter, sleeps: list[float]
) -> None:
    policy = RetryPolicy(retries=1)
    api.get("/flows").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": retry_after}),
            httpx.Response(200, json={"flows": []}),
        ]
    )

    error_statuses: list[int] = []

    async with Session(
        tokens=StaticTokenProvider(default="tok"),
        storage=MemoryStorage(),
        retries=policy,
    ) as session:
        try:
            await session.request("GET", "flows", "flows")
        except APIError as error:
            error_statuses.append(error.http_status)

    assert error_statuses in ([], [429])
    bounded = [
        wait
        for wait in sleeps
        if math.isfinite(wait) and 0 <= wait <= policy.max_retry_after
    ]
    assert bounded == sleeps


async def test_redirect_not_followed(
    mocked_session: Session, api: respx.MockRouter, storage: MemoryStorage
) -> None:
    api.post("/flows").respond(302, headers={"Location": f"{FLOWS_URL}/elsewhere"})
    manager = FlowsManager(
        flow_definition=pass_definition(), name="hardened", session=mocked_session
    )

    with pytest.raises(APIError) as caught:
        await manager.sync_flow()

    assert caught.value.http_status == 302
    assert api.calls.call_count == 1
    assert await storage.items("hardened") == {}


async def start_create(manager: FlowsManager) -> Any:
    return await manager.register_flow()


async def start_run(manager: FlowsManager) -> Any:
    return await manager.run_flow({})


async def follow_run(manager: FlowsManager) -> Any:
    return await manager.progress(RUN_ID, delay=0)


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("POST", "/flows", start_create),
        ("POST", f"/flows/{FLOW_ID}/run", start_run),
        ("GET", f"/runs/{RUN_ID}", follow_run),
    ],
    ids=["create", "run", "status"],
)
async def test_non_object_document_rejected(
    method: str,
    path: str,
    call: Callable[[FlowsManager], Awaitable[Any]],
    mocked_session: Session,
    api: respx.MockRouter,
    storage: MemoryStorage,
) -> None:
    api.route(method=method, path=path).respond(200, json=[{"id": FLOW_ID}])
    manager = await deployed_manager(mocked_session, storage)
    if method == "POST" and path == "/flows":
        await manager.purge_flow()

    with pytest.raises((APIError, ValueError)):
        await call(manager)


async def test_create_html_body_explained(
    mocked_session: Session, api: respx.MockRouter
) -> None:
    api.post("/flows").respond(200, text="<html>Sign in to continue</html>")
    manager = FlowsManager(
        flow_definition=pass_definition(), name="hardened", session=mocked_session
    )

    with pytest.raises(APIError) as caught:
        await manager.sync_flow()

    assert "JSON" in str(caught.value)


async def test_poll_retry_after_capped(
    mocked_session: Session,
    api: respx.MockRouter,
    storage: MemoryStorage,
    sleeps: list[float],
) -> None:
    api.get(f"/runs/{RUN_ID}").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "86400"}),
            httpx.Response(200, json={"run_id": RUN_ID, "status": "SUCCEEDED"}),
        ]
    )
    manager = await deployed_manager(mocked_session, storage)

    error_statuses: list[int] = []

    try:
        await manager.progress(RUN_ID, delay=0)
    except APIError as error:
        error_statuses.append(error.http_status)

    assert error_statuses in ([], [429])
    longest = max(sleeps, default=0.0)
    assert longest <= mocked_session.retries.max_retry_after
