"""Faults injected by the emulator, seen through the Session's retry policy."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from e2e_support import (
    ConnectFailingTransport,
    EmulatorView,
    SleepRecorder,
    action_definition,
    pass_definition,
)

import aioflows._session
import aioflows.managers._run_watch
from aioflows import (
    APIError,
    FlowsManager,
    MemoryStorage,
    NetworkError,
    RetryPolicy,
    track_requests,
)
from aioflows.emulator import Emulator, FaultKind, ManualClock, RateLimit

if TYPE_CHECKING:
    from conftest import SessionFactory

pytestmark = pytest.mark.anyio

CREATE_ROUTE = "/flows"
UPDATE_ROUTE = "/flows/{flow_id}"
RUN_ROUTE = "/flows/{flow_id}/run"
STATUS_ROUTE = "/runs/{run_id}"


@pytest.fixture
def session_sleeps(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> SleepRecorder:
    """Record the Session's retry waits and move the emulator clock instead."""
    recorder = SleepRecorder(clock)
    monkeypatch.setattr(
        aioflows._session, "anyio", types.SimpleNamespace(sleep=recorder.sleep)
    )
    return recorder


@pytest.fixture
def poll_sleeps(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> SleepRecorder:
    """Record the run poller's waits and move the emulator clock instead."""
    recorder = SleepRecorder(clock)
    monkeypatch.setattr(
        aioflows.managers._run_watch,
        "anyio",
        types.SimpleNamespace(sleep=recorder.sleep),
    )
    return recorder


async def test_get_503_retried(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()
    run = await manager.run_flow()
    emulator.faults.add(FaultKind.HTTP_503, method="GET", route=STATUS_ROUTE, times=2)

    with track_requests() as stats:
        status = await manager.get_status(run["run_id"])

    assert status["status"] == "SUCCEEDED"
    assert emulator.count("GET", STATUS_ROUTE) == 3
    assert stats.attempts == 3


async def test_get_503_exhausts_retries(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()
    run = await manager.run_flow()
    emulator.faults.add(FaultKind.HTTP_503, method="GET", route=STATUS_ROUTE, times=4)

    with pytest.raises(APIError) as caught:
        await manager.get_status(run["run_id"])

    assert caught.value.http_status == 503
    assert emulator.count("GET", STATUS_ROUTE) == 4


async def test_put_503_retried(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    view: EmulatorView,
    storage: MemoryStorage,
) -> None:
    flow_id = await make_manager().sync_flow()
    assert flow_id is not None
    changed = make_manager(flow_definition=pass_definition("changed"))
    emulator.faults.add(FaultKind.HTTP_503, method="PUT", route=UPDATE_ROUTE, times=2)
    emulator.request_log.clear()

    await changed.sync_flow()

    assert emulator.count("PUT", UPDATE_ROUTE) == 3
    assert view.flow(flow_id)["definition"] == pass_definition("changed")
    assert await storage.get("e2e-flow", "flow_checksum") == changed.checksum()


async def test_create_502_not_retried(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    emulator.faults.add(FaultKind.HTTP_502, method="POST", route=CREATE_ROUTE)

    with pytest.raises(APIError) as caught:
        await make_manager().sync_flow()

    assert caught.value.http_status == 502
    assert emulator.count("POST", CREATE_ROUTE) == 1
    assert emulator.flow_ids() == []
    assert await storage.items("e2e-flow") == {}


async def test_run_503_not_retried(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()
    await manager.sync_flow()
    emulator.faults.add(FaultKind.HTTP_503, method="POST", route=RUN_ROUTE)

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 503
    assert emulator.count("POST", RUN_ROUTE) == 1


async def test_rate_limit_honours_retry_after(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    session_sleeps: SleepRecorder,
) -> None:
    manager = make_manager()
    emulator.rate_limit = RateLimit(requests=1, per_seconds=5)
    await manager.sync_flow()
    emulator.request_log.clear()

    run = await manager.run_flow()

    statuses = [entry.status for entry in emulator.request_log.entries]
    assert run["status"] == "ACTIVE"
    # The create above filled the window at time 0, so the run waits 5 s.
    assert session_sleeps.delays == [5.0]
    assert statuses == [429, 201]


async def test_long_retry_after_not_retried(
    make_session: SessionFactory,
    emulator: Emulator,
    session_sleeps: SleepRecorder,
) -> None:
    policy = RetryPolicy(retries=3, initial_delay=0.001, jitter=0, max_retry_after=2)
    session = make_session(retries=policy)
    manager = FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )
    emulator.rate_limit = RateLimit(requests=1, per_seconds=5)
    await manager.sync_flow()

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 429
    assert session_sleeps.delays == []
    assert emulator.count("POST", RUN_ROUTE) == 1


async def test_poll_429_retry_after_waited(
    make_session: SessionFactory,
    emulator: Emulator,
    clock: ManualClock,
    poll_sleeps: SleepRecorder,
) -> None:
    # Without Session retries the poller itself must wait for Retry-After.
    session = make_session(retries=RetryPolicy(retries=0))
    manager = FlowsManager(
        name="e2e-flow", flow_definition=action_definition(2), session=session
    )
    run = await manager.run_flow()
    emulator.rate_limit = RateLimit(requests=1, per_seconds=3)
    emulator.request_log.clear()

    final = await manager.progress(run["run_id"], delay=0)

    statuses = [entry.status for entry in emulator.request_log.entries]
    assert final["status"] == "SUCCEEDED"
    assert statuses == [200, 429, 200]
    # One regular poll wait of 0 s, then the 3 s that Retry-After requested.
    assert poll_sleeps.delays == [0, 3.0]


async def test_connect_error_post_retried(
    make_session: SessionFactory,
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    transport = ConnectFailingTransport(
        emulator.transport(), method="POST", path=CREATE_ROUTE, failures=2
    )
    session = make_session(storage=storage, transport=transport)
    manager = FlowsManager(
        name="e2e-flow", flow_definition=pass_definition(), session=session
    )

    flow_id = await manager.sync_flow()

    assert transport.raised == 2
    assert emulator.count("POST", CREATE_ROUTE) == 1
    assert emulator.flow_ids() == [flow_id]
    assert await storage.get("e2e-flow", "flow_id") == flow_id


async def test_connection_reset_post_not_retried(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    # The emulator resets before applying, but the client cannot tell a
    # reset before the request from one after it, so a POST is not resent.
    emulator.faults.add(FaultKind.CONNECTION_RESET, method="POST", route=CREATE_ROUTE)

    with pytest.raises(NetworkError):
        await make_manager().sync_flow()

    assert emulator.count("POST", CREATE_ROUTE) == 1
    assert emulator.flow_ids() == []
    assert await storage.items("e2e-flow") == {}


async def test_connection_reset_get_retried(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()
    run = await manager.run_flow()
    emulator.faults.add(FaultKind.CONNECTION_RESET, method="GET", route=STATUS_ROUTE)

    status = await manager.get_status(run["run_id"])

    assert status["run_id"] == run["run_id"]
    assert emulator.count("GET", STATUS_ROUTE) == 2


async def test_response_lost_create_orphans_flow(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    storage: MemoryStorage,
) -> None:
    emulator.faults.add(FaultKind.RESPONSE_LOST, method="POST", route=CREATE_ROUTE)

    with pytest.raises(NetworkError):
        await make_manager().sync_flow()
    committed = emulator.flow_ids()
    stored_after_loss = await storage.items("e2e-flow")
    flow_id = await make_manager().sync_flow()

    assert len(committed) == 1
    assert stored_after_loss == {}
    # NOTE: a create whose response is lost leaves a flow that aioflows
    # never learns about. The next sync creates a second flow, and the
    # first stays deployed as an orphan that nothing in storage points to.
    assert emulator.count("POST", CREATE_ROUTE) == 2
    assert emulator.flow_ids() == [committed[0], flow_id]
    assert await storage.get("e2e-flow", "flow_id") == flow_id


async def test_response_lost_update_retried(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    view: EmulatorView,
    storage: MemoryStorage,
) -> None:
    flow_id = await make_manager().sync_flow()
    assert flow_id is not None
    changed = make_manager(flow_kwargs={"description": "Updated once"})
    emulator.faults.add(FaultKind.RESPONSE_LOST, method="PUT", route=UPDATE_ROUTE)
    emulator.request_log.clear()

    await changed.sync_flow()

    assert emulator.count("PUT", UPDATE_ROUTE) == 2
    assert view.flow(flow_id)["description"] == "Updated once"
    assert await storage.get("e2e-flow", "flow_checksum") == changed.checksum()


async def test_read_timeout_get_retried(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()
    run = await manager.run_flow()
    emulator.faults.add(
        FaultKind.READ_TIMEOUT, method="GET", route=STATUS_ROUTE, times=3
    )

    status = await manager.get_status(run["run_id"])

    assert status["run_id"] == run["run_id"]
    assert emulator.count("GET", STATUS_ROUTE) == 4


async def test_read_timeout_post_raises(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()
    await manager.sync_flow()
    emulator.faults.add(FaultKind.READ_TIMEOUT, method="POST", route=RUN_ROUTE)

    with pytest.raises(NetworkError, match="ReadTimeout"):
        await manager.run_flow()

    assert emulator.count("POST", RUN_ROUTE) == 1


async def test_random_faults_eventually_sync(
    make_manager: Callable[..., FlowsManager],
    emulator: Emulator,
    view: EmulatorView,
) -> None:
    # Gateway errors only: none of them applies a request, so every retried
    # update converges and no orphan can appear.
    flow_id = await make_manager().sync_flow()
    assert flow_id is not None
    emulator.faults.set_random(0.3, (FaultKind.HTTP_502, FaultKind.HTTP_503))
    failures: list[int] = []
    mismatches: list[str] = []

    for index in range(30):
        description = f"revision {index}"
        try:
            await make_manager(flow_kwargs={"description": description}).sync_flow()
        except APIError as error:
            failures.append(error.http_status)
            continue
        if view.flow(flow_id)["description"] != description:
            mismatches.append(description)
    faulted = [
        entry for entry in emulator.request_log.entries if entry.status in (502, 503)
    ]
    emulator.faults.clear()
    await make_manager(flow_kwargs={"description": "final"}).sync_flow()

    assert faulted
    assert set(failures) <= {502, 503}
    assert mismatches == []
    assert view.flow(flow_id)["description"] == "final"
    assert emulator.flow_ids() == [flow_id]


async def test_request_log_records_http_fault(
    make_manager: Callable[..., FlowsManager], emulator: Emulator
) -> None:
    manager = make_manager()
    run = await manager.run_flow()
    emulator.faults.add(FaultKind.HTTP_503, method="GET", route=STATUS_ROUTE)
    emulator.request_log.clear()

    await manager.get_status(run["run_id"])

    faults = [entry.fault for entry in emulator.request_log.entries]
    assert faults == [FaultKind.HTTP_503, None]
