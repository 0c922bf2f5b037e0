from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from reconcile_support import FakeFlows, hello_definition

from aioflows import APIError, FlowsManager, MemoryStorage, RegistrationError
from aioflows._plan import plan
from aioflows._reconcile import FlowResult, Outcome, ReconcileReport, reconcile

pytestmark = pytest.mark.anyio

MakeManager = Callable[..., FlowsManager]

ADOPTED_ID = "0a0a0a0a-0000-4000-8000-000000000001"


async def test_new_flow_created(service: FakeFlows, make_manager: MakeManager) -> None:
    report = await reconcile([make_manager("alpha")])

    (result,) = report.results
    assert result.outcome is Outcome.CREATED
    assert result.flow_id in service.flows
    assert service.count("POST") == 1


async def test_second_sync_unchanged(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    await reconcile([make_manager("alpha")])

    report = await reconcile([make_manager("alpha")])

    assert report.results[0].outcome is Outcome.UNCHANGED
    assert report.results[0].http_calls == 0
    assert len(service.calls) == 1


async def test_changed_definition_updated(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    first = await reconcile([make_manager("alpha")])

    report = await reconcile(
        [make_manager("alpha", flow_definition=hello_definition("hi"))]
    )

    (result,) = report.results
    assert result.outcome is Outcome.UPDATED
    assert result.flow_id == first.results[0].flow_id
    assert service.count("PUT") == 1


async def test_deleted_flow_redeployed(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    first = await reconcile([make_manager("alpha")])
    old_id = first.results[0].flow_id
    assert old_id is not None
    del service.flows[old_id]

    report = await reconcile(
        [make_manager("alpha", flow_definition=hello_definition("hi"))]
    )

    (result,) = report.results
    assert result.outcome is Outcome.REDEPLOYED
    assert result.flow_id != old_id
    assert result.http_calls == 2


async def test_service_error_failed(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    service.failing.add("alpha")

    report = await reconcile([make_manager("alpha")])

    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert isinstance(result.error, APIError)
    assert result.message is not None
    assert result.message.startswith("APIError: POST")


async def test_failure_keeps_known_id(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    first = await reconcile([make_manager("alpha")])
    service.failing.add("alpha-renamed")

    report = await reconcile([make_manager("alpha", flow_title="alpha-renamed")])

    assert report.results[0].outcome is Outcome.FAILED
    assert report.results[0].flow_id == first.results[0].flow_id


async def test_failure_isolated_from_others(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    service.failing.add("beta")
    managers = [make_manager(name) for name in ("alpha", "beta", "gamma")]

    report = await reconcile(managers, concurrency=1)

    outcomes = [result.outcome for result in report.results]
    assert outcomes == [Outcome.CREATED, Outcome.FAILED, Outcome.CREATED]
    assert not report.ok
    assert [result.name for result in report.failed] == ["beta"]


async def test_failure_logged_at_error(
    service: FakeFlows, make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    service.failing.add("beta")

    with caplog.at_level(logging.ERROR, logger="aioflows"):
        await reconcile([make_manager("beta")])

    messages = [record.getMessage() for record in caplog.records]
    assert any("'beta'" in message and "failed" in message for message in messages)


async def test_results_keep_input_order(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    names = [f"flow-{index:02d}" for index in range(12)]

    report = await reconcile([make_manager(name) for name in names], concurrency=4)

    assert [result.name for result in report.results] == names


async def test_dry_run_would_create(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    report = await reconcile([make_manager("alpha")], dry_run=True)

    assert report.results[0].outcome is Outcome.WOULD_CREATE
    assert report.results[0].flow_id is None


async def test_dry_run_would_update(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    await reconcile([make_manager("alpha")])

    report = await reconcile(
        [make_manager("alpha", flow_definition=hello_definition("hi"))], dry_run=True
    )

    assert report.results[0].outcome is Outcome.WOULD_UPDATE


async def test_dry_run_unchanged(service: FakeFlows, make_manager: MakeManager) -> None:
    await reconcile([make_manager("alpha")])

    report = await reconcile([make_manager("alpha")], dry_run=True)

    assert report.results[0].outcome is Outcome.UNCHANGED


async def test_dry_run_writes_nothing(
    service: FakeFlows, make_manager: MakeManager, storage: MemoryStorage
) -> None:
    await reconcile([make_manager("alpha")])
    before = await storage.items("alpha")
    calls_before = len(service.calls)
    managers = [
        make_manager("alpha", flow_definition=hello_definition("hi")),
        make_manager("beta"),
    ]

    report = await reconcile(managers, dry_run=True)

    assert len(service.calls) == calls_before
    assert await storage.items("alpha") == before
    assert await storage.namespaces() == ["alpha"]
    assert [result.http_calls for result in report.results] == [0, 0]


async def test_adopted_flow_updated_once(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    existing = await reconcile([make_manager("seed")])
    flow_id = existing.results[0].flow_id

    first = await reconcile([make_manager("adopted", flow_id=flow_id)])
    second = await reconcile([make_manager("adopted", flow_id=flow_id)])

    assert first.results[0].outcome is Outcome.UPDATED
    assert second.results[0].outcome is Outcome.UNCHANGED
    assert service.count("POST") == 1


async def test_http_calls_counted_per_flow(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    await reconcile([make_manager("alpha")])
    managers = [
        make_manager("alpha", flow_definition=hello_definition("hi")),
        make_manager("beta"),
        make_manager("gamma"),
    ]

    report = await reconcile(managers)

    assert [result.http_calls for result in report.results] == [1, 1, 1]


async def test_concurrency_limit_respected(
    service: FakeFlows, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = 0
    peak = 0
    original = FlowsManager.sync_flow

    async def counting_sync(self: FlowsManager) -> str | None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        try:
            return await original(self)
        finally:
            in_flight -= 1

    monkeypatch.setattr(FlowsManager, "sync_flow", counting_sync)

    await reconcile(
        [make_manager(f"flow-{index}") for index in range(10)], concurrency=3
    )

    assert peak == 3


async def test_concurrency_runs_in_parallel(
    service: FakeFlows, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrived = 0
    all_arrived = anyio.Event()
    original = FlowsManager.sync_flow

    async def gated_sync(self: FlowsManager) -> str | None:
        nonlocal arrived
        arrived += 1
        if arrived == 5:
            all_arrived.set()
        await all_arrived.wait()
        return await original(self)

    monkeypatch.setattr(FlowsManager, "sync_flow", gated_sync)

    with anyio.fail_after(5):
        report = await reconcile([make_manager(f"flow-{index}") for index in range(5)])

    assert report.summary["created"] == 5


@pytest.mark.parametrize("concurrency", [0, -1])
async def test_concurrency_below_one_rejected(
    make_manager: MakeManager, concurrency: int
) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        await reconcile([make_manager("alpha")], concurrency=concurrency)


async def test_duplicate_names_rejected(make_manager: MakeManager) -> None:
    with pytest.raises(ValueError, match="'alpha'"):
        await reconcile([make_manager("alpha"), make_manager("alpha")])


async def test_shared_flow_id_rejected(make_manager: MakeManager) -> None:
    managers = [
        make_manager("alpha", flow_id=ADOPTED_ID),
        make_manager("beta", flow_id=ADOPTED_ID),
    ]

    with pytest.raises(ValueError, match="'alpha' and 'beta'") as caught:
        await reconcile(managers)

    assert ADOPTED_ID in str(caught.value)


async def test_plan_rejects_shared_flow_id(make_manager: MakeManager) -> None:
    managers = [
        make_manager("alpha", flow_id=ADOPTED_ID),
        make_manager("beta", flow_id=ADOPTED_ID),
    ]

    with pytest.raises(ValueError, match=ADOPTED_ID):
        await plan(managers)


async def test_no_deploy_on_change_explained(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    def skip_deploy(manager: FlowsManager, error: RegistrationError) -> None:
        return None

    report = await reconcile([make_manager("alpha", on_change=skip_deploy)])

    message = report.results[0].message
    assert message is not None
    assert "after its on_change ran" in message
    assert "on_change is None" not in message
    assert service.calls == []


async def test_none_on_change_explained(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    report = await reconcile([make_manager("alpha", on_change=None)])

    message = report.results[0].message
    assert message is not None
    assert "on_change is None" in message


async def test_progress_called_per_flow(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    seen: list[str] = []

    async def on_progress(result: FlowResult) -> None:
        seen.append(result.name)

    await reconcile(
        [make_manager("alpha"), make_manager("beta")], on_progress=on_progress
    )

    assert sorted(seen) == ["alpha", "beta"]


async def test_progress_accepts_plain_function(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    seen: list[Outcome] = []

    await reconcile(
        [make_manager("alpha")], on_progress=lambda result: seen.append(result.outcome)
    )

    assert seen == [Outcome.CREATED]


async def test_cancellation_propagates(
    service: FakeFlows, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def endless_sync(self: FlowsManager) -> str | None:
        await anyio.sleep_forever()
        return None

    monkeypatch.setattr(FlowsManager, "sync_flow", endless_sync)
    finished: list[Any] = []

    with anyio.move_on_after(0.05) as scope:
        finished.append(await reconcile([make_manager("alpha")]))

    assert scope.cancelled_caught
    assert finished == []


async def test_summary_counts_outcomes(
    service: FakeFlows, make_manager: MakeManager
) -> None:
    service.failing.add("beta")

    report = await reconcile([make_manager("alpha"), make_manager("beta")])

    assert report.summary == {
        "created": 1,
        "updated": 0,
        "redeployed": 0,
        "unchanged": 0,
        "failed": 1,
    }


async def test_report_json_shape(service: FakeFlows, make_manager: MakeManager) -> None:
    service.failing.add("beta")

    report = await reconcile([make_manager("alpha"), make_manager("beta")])

    document = json.loads(report.to_json())
    assert set(document) == {"results", "summary"}
    assert [set(row) for row in document["results"]] == [
        {"name", "flow_id", "outcome", "error", "duration_s", "http_calls"}
    ] * 2
    assert document["results"][0]["error"] is None
    assert document["results"][1]["error"].startswith("APIError:")
    assert document["results"][1]["outcome"] == "failed"


def test_dry_run_summary_outcomes() -> None:
    report = ReconcileReport(
        (FlowResult(name="alpha", outcome=Outcome.WOULD_CREATE),), dry_run=True
    )

    assert report.summary == {
        "would-create": 1,
        "would-update": 0,
        "unchanged": 0,
        "failed": 0,
    }
