"""Batch reconcile, plan, runs and Gladier adoption under faults and odd batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest
from hardening_support import FLOWS_URL, NO_WAIT_RETRIES, pass_definition

from aioflows import (
    AdoptOutcome,
    FlowResult,
    FlowsManager,
    MemoryStorage,
    NetworkError,
    Outcome,
    RegistrationError,
    RemoteState,
    Session,
    StaticTokenProvider,
    adopt_gladier,
    plan,
    reconcile,
)
from aioflows.emulator import Emulator, FaultKind

pytestmark = pytest.mark.anyio

ADOPTED_ID = "0a0a0a0a-0000-4000-8000-000000000001"
OTHER_ID = "0b0b0b0b-0000-4000-8000-000000000002"
RUN_ROUTE = "/flows/{flow_id}/run"


async def test_hung_flow_others_finish(
    make_manager: Callable[..., FlowsManager], storage: MemoryStorage
) -> None:
    async def hang(manager: FlowsManager, error: RegistrationError) -> None:
        await anyio.Event().wait()

    managers = [make_manager(name="a-hangs", on_change=hang)]
    managers += [make_manager(name=f"b-{index}") for index in range(3)]
    finished: list[str] = []

    with anyio.CancelScope() as scope:

        def on_progress(result: FlowResult) -> None:
            finished.append(result.name)
            if len(finished) == 3:
                scope.cancel()

        # NOTE: reconcile has no per-flow timeout, so without this cancel
        # the hung flow would keep the batch from ever returning.
        await reconcile(managers, concurrency=2, on_progress=on_progress)

    assert scope.cancelled_caught
    assert sorted(finished) == ["b-0", "b-1", "b-2"]
    assert await storage.namespaces() == ["b-0", "b-1", "b-2"]


async def test_shared_explicit_flow_rejected(
    make_manager: Callable[..., FlowsManager],
) -> None:
    managers = [
        make_manager(name="first", flow_id=ADOPTED_ID),
        make_manager(name="second", flow_id=ADOPTED_ID, flow_title="Other"),
    ]

    with pytest.raises(ValueError, match=ADOPTED_ID):
        await reconcile(managers)


@pytest.mark.parametrize("kind", list(FaultKind), ids=lambda kind: kind.value)
async def test_plan_remote_fault_reported(
    kind: FaultKind,
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    manager = make_manager()
    flow_id = await manager.sync_flow()
    stored = await storage.items(manager.name)
    emulator.faults.add(kind, method="GET", route="/flows/{flow_id}", times=10)

    report = await plan([manager], remote=True)

    result = report.results[0]
    assert result.outcome is Outcome.FAILED
    assert result.flow_id == flow_id
    assert result.remote is None
    assert not report.ok
    assert await storage.items(manager.name) == stored


@pytest.mark.parametrize(
    "kind",
    [FaultKind.CONNECTION_RESET, FaultKind.RESPONSE_LOST],
    ids=lambda kind: kind.value,
)
async def test_run_fault_not_repeated(
    kind: FaultKind,
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
) -> None:
    manager = make_manager()
    await manager.sync_flow()
    emulator.faults.add(kind, method="POST", route=RUN_ROUTE, times=5)

    with pytest.raises(NetworkError):
        await manager.run_flow({})

    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=FLOWS_URL, headers=headers
    ) as client:
        runs = (await client.get("/runs")).json()["runs"]
    started = 1 if kind is FaultKind.RESPONSE_LOST else 0
    assert emulator.count("POST", RUN_ROUTE) == 1
    assert len(runs) == started


async def test_gladier_dry_run_predicts_conflict(tmp_path: Path) -> None:
    config = tmp_path / "gladier.cfg"
    config.write_text(
        f"[first]\nflow_id = {ADOPTED_ID}\n\n[second]\nflow_id = {OTHER_ID}\n",
        encoding="utf-8",
    )
    names = {"first": "shared", "second": "shared"}

    preview = await adopt_gladier(config, MemoryStorage(), names=names, dry_run=True)
    applied = await adopt_gladier(config, MemoryStorage(), names=names)

    assert [result.outcome for result in applied] == [
        AdoptOutcome.ADOPTED,
        AdoptOutcome.CONFLICT,
    ]
    assert [result.outcome for result in preview] == [
        result.outcome for result in applied
    ]


def integral_floats_as_ints(text: str) -> float | int:
    number = float(text)
    return int(number) if number.is_integer() else number


class NormalisingTransport(httpx.AsyncBaseTransport):
    """The emulator, except that GET /flows/{id} returns 1.0 as 1, a normalisation assumed here."""

    def __init__(self, emulator: Emulator) -> None:
        self.inner = emulator.transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or not request.url.path.startswith("/flows/"):
            return response
        content = await response.aread()
        document = json.loads(content, parse_float=integral_floats_as_ints)
        return httpx.Response(response.status_code, json=document, request=request)


async def test_normalised_number_not_drift(emulator: Emulator) -> None:
    definition = pass_definition()
    definition["States"]["Hello"]["Result"] = {"ratio": 1.0}
    tokens = StaticTokenProvider(default=emulator.static_token)
    async with Session(
        tokens=tokens,
        storage=MemoryStorage(),
        transport=NormalisingTransport(emulator),
        retries=NO_WAIT_RETRIES,
    ) as session:
        manager = FlowsManager(
            flow_definition=definition, name="normalised", session=session
        )
        await manager.sync_flow()

        report = await plan([manager], remote=True)

    assert report.results[0].remote is RemoteState.IN_SYNC
