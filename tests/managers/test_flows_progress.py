"""Following runs: get_status, progress, watch_run and get_details."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

from aioflows import APIError, FlowsManager

if TYPE_CHECKING:
    from conftest import FlowIds

pytestmark = pytest.mark.anyio


def run_document(ids: FlowIds, status: str, **details: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"run_id": ids.run, "status": status}
    if details:
        document["details"] = details
    return document


def responses(documents: list[dict[str, Any]]) -> list[httpx.Response]:
    return [httpx.Response(200, json=document) for document in documents]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every anyio.sleep and return at once, so polling costs no time."""
    recorded: list[float] = []

    async def record_sleep(seconds: float) -> None:
        recorded.append(seconds)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(anyio, "sleep", record_sleep)
    return recorded


@pytest.fixture
def manager(make_manager: Callable[..., FlowsManager]) -> FlowsManager:
    return make_manager()


# get_status


async def test_get_status_request(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds
) -> None:
    status = api.get(f"/runs/{ids.run}").respond(200, json=run_document(ids, "ACTIVE"))

    document = await manager.get_status(ids.run)

    assert document == run_document(ids, "ACTIVE")
    assert status.calls.last.request.method == "GET"
    assert status.calls.last.request.headers["Authorization"] == "Bearer tok-flows"


async def test_get_status_invalid_run_id(
    manager: FlowsManager, api: respx.MockRouter
) -> None:
    with pytest.raises(ValueError, match="run_id"):
        await manager.get_status("../flows")
    assert api.calls.call_count == 0


# progress


async def test_progress_calls_back_every_status(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [
        run_document(ids, "ACTIVE"),
        run_document(ids, "ACTIVE"),
        run_document(ids, "SUCCEEDED", output={"done": True}),
    ]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents))
    seen: list[dict[str, Any]] = []

    final = await manager.progress(ids.run, callback=seen.append, delay=0)

    assert seen == documents
    assert final == documents[-1]


async def test_progress_async_callback(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [run_document(ids, "ACTIVE"), run_document(ids, "SUCCEEDED")]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents))
    seen: list[str] = []

    async def record(document: dict[str, Any]) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(document["status"])

    await manager.progress(ids.run, callback=record, delay=0)

    assert seen == ["ACTIVE", "SUCCEEDED"]


async def test_progress_without_callback(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [run_document(ids, "ACTIVE"), run_document(ids, "SUCCEEDED")]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents))

    assert await manager.progress(ids.run, delay=0) == documents[-1]


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "ENDED"])
async def test_progress_stops_at_terminal(
    manager: FlowsManager,
    api: respx.MockRouter,
    ids: FlowIds,
    sleeps: list[float],
    status: str,
) -> None:
    route = api.get(f"/runs/{ids.run}").mock(
        side_effect=responses([run_document(ids, "ACTIVE"), run_document(ids, status)])
    )

    final = await manager.progress(ids.run, delay=0)

    assert final["status"] == status
    assert route.call_count == 2


async def test_progress_failed_returns_document(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    failed = run_document(ids, "FAILED", description="State Hello failed")
    api.get(f"/runs/{ids.run}").respond(200, json=failed)

    assert await manager.progress(ids.run, delay=0) == failed


async def test_progress_cancelled_run_ends(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    route = api.get(f"/runs/{ids.run}").mock(
        side_effect=responses(
            [
                run_document(ids, "ACTIVE"),
                run_document(ids, "ENDED", code="RunCancelled"),
                run_document(ids, "ENDED", code="RunCancelled"),
            ]
        )
    )

    with anyio.fail_after(5):
        final = await manager.progress(ids.run, delay=0)

    assert final["status"] == "ENDED"
    assert route.call_count == 2


@pytest.mark.parametrize("document", [{"status": "PAUSED_BY_ADMIN"}, {"run_id": "x"}])
async def test_progress_unknown_status_ends(
    manager: FlowsManager,
    api: respx.MockRouter,
    ids: FlowIds,
    sleeps: list[float],
    document: dict[str, Any],
) -> None:
    route = api.get(f"/runs/{ids.run}").respond(200, json=document)

    with anyio.fail_after(5):
        final = await manager.progress(ids.run, delay=0)

    assert final == document
    assert route.call_count == 1


async def test_progress_waits_retry_after(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    done = run_document(ids, "SUCCEEDED")
    api.get(f"/runs/{ids.run}").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json=done),
        ]
    )
    seen: list[dict[str, Any]] = []

    final = await manager.progress(ids.run, callback=seen.append, delay=0)

    assert sleeps == [7.0]
    assert seen == [done]
    assert final == done


async def test_progress_429_without_retry_after(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    api.get(f"/runs/{ids.run}").mock(
        side_effect=[
            httpx.Response(429),
            httpx.Response(200, json=run_document(ids, "SUCCEEDED")),
        ]
    )

    await manager.progress(ids.run, delay=0)

    assert sleeps == [1.0]


async def test_progress_other_error_raises(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    api.get(f"/runs/{ids.run}").respond(
        404, json={"error": {"code": "NOT_FOUND", "detail": "No such run"}}
    )

    with pytest.raises(APIError) as caught:
        await manager.progress(ids.run, delay=0)

    assert caught.value.http_status == 404


async def test_progress_sleeps_initial_delay(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    api.get(f"/runs/{ids.run}").mock(
        side_effect=responses(
            [
                run_document(ids, "ACTIVE"),
                run_document(ids, "INACTIVE"),
                run_document(ids, "SUCCEEDED"),
            ]
        )
    )

    await manager.progress(ids.run, delay=2.0)

    assert sleeps == [2.0, 2.0]


async def test_progress_backoff_grows(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [run_document(ids, "ACTIVE")] * 4 + [run_document(ids, "SUCCEEDED")]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents))

    await manager.progress(ids.run, delay=1.0)

    assert sleeps == [1.0, 1.5, 2.25, 3.375]


async def test_progress_backoff_capped(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [run_document(ids, "ACTIVE")] * 12 + [run_document(ids, "SUCCEEDED")]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents))

    await manager.progress(ids.run, delay=10.0)

    assert max(sleeps) == 30.0
    assert sleeps[-1] == 30.0


async def test_progress_backoff_resets_on_change(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [
        run_document(ids, "ACTIVE"),
        run_document(ids, "ACTIVE"),
        run_document(ids, "INACTIVE"),
        run_document(ids, "SUCCEEDED"),
    ]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents))

    await manager.progress(ids.run, delay=1.0)

    assert sleeps == [1.0, 1.5, 1.0]


async def test_progress_negative_delay_rejected(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds
) -> None:
    with pytest.raises(ValueError, match="delay"):
        await manager.progress(ids.run, delay=-1)
    assert api.calls.call_count == 0


async def test_progress_logs_inactive_reason(
    manager: FlowsManager,
    api: respx.MockRouter,
    ids: FlowIds,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.get(f"/runs/{ids.run}").mock(
        side_effect=responses(
            [
                run_document(
                    ids,
                    "INACTIVE",
                    code="ConsentRequired",
                    description="The run needs consent for a transfer collection",
                ),
                run_document(ids, "SUCCEEDED"),
            ]
        )
    )
    caplog.set_level(logging.INFO, logger="aioflows")

    await manager.progress(ids.run, delay=0)

    messages = [r.getMessage() for r in caplog.records if "INACTIVE" in r.getMessage()]
    assert messages == [
        f"Run {ids.run} is INACTIVE: The run needs consent for a transfer collection"
    ]


async def test_progress_logs_inactive_code(
    manager: FlowsManager,
    api: respx.MockRouter,
    ids: FlowIds,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.get(f"/runs/{ids.run}").mock(
        side_effect=responses(
            [
                run_document(ids, "INACTIVE", code="ConsentRequired"),
                run_document(ids, "SUCCEEDED"),
            ]
        )
    )
    caplog.set_level(logging.INFO, logger="aioflows")

    await manager.progress(ids.run, delay=0)

    assert any(
        r.getMessage() == f"Run {ids.run} is INACTIVE: ConsentRequired"
        for r in caplog.records
    )


async def test_progress_logs_inactive_without_reason(
    manager: FlowsManager,
    api: respx.MockRouter,
    ids: FlowIds,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.get(f"/runs/{ids.run}").mock(
        side_effect=responses(
            [run_document(ids, "INACTIVE"), run_document(ids, "SUCCEEDED")]
        )
    )
    caplog.set_level(logging.INFO, logger="aioflows")

    await manager.progress(ids.run, delay=0)

    assert any("the service gave no reason" in r.getMessage() for r in caplog.records)


# watch_run


async def test_watch_run_yields_documents(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [
        run_document(ids, "ACTIVE"),
        run_document(ids, "INACTIVE", code="ConsentRequired"),
        run_document(ids, "SUCCEEDED"),
    ]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents))

    watched = [document async for document in manager.watch_run(ids.run, delay=0)]

    assert watched == documents


async def test_watch_run_matches_progress(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    documents = [run_document(ids, "ACTIVE"), run_document(ids, "FAILED")]
    api.get(f"/runs/{ids.run}").mock(side_effect=responses(documents * 2))
    seen: list[dict[str, Any]] = []

    await manager.progress(ids.run, callback=seen.append, delay=0)
    watched = [document async for document in manager.watch_run(ids.run, delay=0)]

    assert watched == seen


async def test_watch_run_invalid_run_id(
    manager: FlowsManager, api: respx.MockRouter
) -> None:
    with pytest.raises(ValueError, match="run_id"):
        manager.watch_run("not-a-run")
    assert api.calls.call_count == 0


# get_details


DETAILED_DEFINITION = {
    "StartAt": "Transfer",
    "States": {
        "Transfer": {
            "Type": "Action",
            "ActionUrl": "https://transfer.actions.globus.org/transfer",
            "Parameters": {},
            "ResultPath": "$.TransferResult",
            "Next": "Nested",
        },
        "Nested": {
            "Type": "Pass",
            "Result": {"n": 1},
            "ResultPath": "$.Results.Nested",
            "Next": "Plain",
        },
        "Plain": {"Type": "Pass", "End": True},
    },
}

DETAILED_OUTPUT = {
    "TransferResult": {"status": "SUCCEEDED", "task_id": "t-1"},
    "Results": {"Nested": {"n": 1}},
    "Plain": {"kept": True},
}


@pytest.fixture
def detailed(make_manager: Callable[..., FlowsManager]) -> FlowsManager:
    return make_manager(flow_definition=DETAILED_DEFINITION)


@pytest.mark.parametrize(
    ("state_name", "expected"),
    [
        ("Transfer", {"status": "SUCCEEDED", "task_id": "t-1"}),
        ("Nested", {"n": 1}),
        ("Plain", {"kept": True}),
    ],
)
async def test_get_details_state_result(
    detailed: FlowsManager,
    api: respx.MockRouter,
    ids: FlowIds,
    state_name: str,
    expected: Any,
) -> None:
    api.get(f"/runs/{ids.run}").respond(
        200, json=run_document(ids, "SUCCEEDED", output=DETAILED_OUTPUT)
    )

    assert await detailed.get_details(ids.run, state_name) == expected


async def test_get_details_missing_state(
    detailed: FlowsManager, api: respx.MockRouter, ids: FlowIds
) -> None:
    api.get(f"/runs/{ids.run}").respond(
        200, json=run_document(ids, "SUCCEEDED", output={"Other": 1})
    )

    with pytest.raises(KeyError, match="Transfer"):
        await detailed.get_details(ids.run, "Transfer")


async def test_get_details_before_output(
    detailed: FlowsManager, api: respx.MockRouter, ids: FlowIds
) -> None:
    api.get(f"/runs/{ids.run}").respond(200, json=run_document(ids, "ACTIVE"))

    with pytest.raises(KeyError, match="no output yet"):
        await detailed.get_details(ids.run, "Transfer")


async def test_progress_retry_after_over_limit_raises(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    limit = manager.session.retries.max_retry_after
    api.get(f"/runs/{ids.run}").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": str(limit + 1)}),
            httpx.Response(200, json=run_document(ids, "SUCCEEDED")),
        ]
    )

    with pytest.raises(APIError) as caught:
        await manager.progress(ids.run, delay=0)

    assert caught.value.http_status == 429
    assert sleeps == []


async def test_progress_retry_after_at_limit_waits(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds, sleeps: list[float]
) -> None:
    limit = manager.session.retries.max_retry_after
    api.get(f"/runs/{ids.run}").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": str(limit)}),
            httpx.Response(200, json=run_document(ids, "SUCCEEDED")),
        ]
    )

    await manager.progress(ids.run, delay=0)

    assert sleeps == [limit]


async def test_status_document_not_object_raises(
    manager: FlowsManager, api: respx.MockRouter, ids: FlowIds
) -> None:
    api.get(f"/runs/{ids.run}").respond(200, json=["SUCCEEDED"])

    with pytest.raises(APIError, match="its body is an array"):
        await manager.get_status(ids.run)
