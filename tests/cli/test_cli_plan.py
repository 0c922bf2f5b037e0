from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cli_support import (
    Cli,
    copy_examples,
    edit_spec,
    outcomes,
    stored_state,
    with_emulator,
)

from aioflows.emulator import Emulator


def edit_remote(flow_id: str, **fields: Any) -> None:
    """Change a deployed flow through the API, as the web app would."""

    async def edit(emulator: Emulator, client: httpx.AsyncClient) -> None:
        response = await client.put(f"/flows/{flow_id}", json=fields)
        response.raise_for_status()

    with_emulator(edit)


def synced(aioflows_cli: Cli, workdir: Path) -> Path:
    flows = copy_examples(workdir)
    aioflows_cli.json("sync", str(flows), "--emulator")
    return flows


def test_plan_unchanged_after_sync(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)

    report = aioflows_cli.json("plan", str(flows), "--emulator")

    assert set(outcomes(report).values()) == {"unchanged"}
    assert report["remote_summary"] == {}
    assert {row["remote"] for row in report["results"]} == {None}


def test_plan_shows_local_edit(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    edit_spec(flows / "two-hop-transfer.json", keywords=["transfer"])

    report = aioflows_cli.json("plan", str(flows), "--emulator")

    assert outcomes(report)["two-hop-transfer"] == "would-update"
    assert report["summary"]["unchanged"] == 5


def test_plan_remote_in_sync(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)

    report = aioflows_cli.json("plan", str(flows), "--emulator", "--remote")

    assert report["remote_summary"]["in-sync"] == 6
    assert all(row["http_calls"] == 1 for row in report["results"])


def test_plan_remote_title_drift(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    flow_id = stored_state()["two-hop-transfer"]["flow_id"]
    edit_remote(flow_id, title="Edited in the web app")

    result = aioflows_cli.invoke("plan", str(flows), "--emulator", "--remote", "--json")

    rows = {row["name"]: row for row in json.loads(result.stdout)["results"]}
    assert result.exit_code == 0
    assert rows["two-hop-transfer"]["remote"] == "drifted"
    assert rows["two-hop-transfer"]["drift"] == [
        {
            "field": "title",
            "expected": "Two-hop transfer through a staging collection",
            "actual": "Edited in the web app",
        }
    ]
    assert rows["route-by-file-size"]["remote"] == "in-sync"


def test_plan_remote_role_drift(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    flow_id = stored_state()["transfer-compute-publish"]["flow_id"]
    edit_remote(flow_id, flow_viewers=["public"])

    report = aioflows_cli.json("plan", str(flows), "--emulator", "--remote")

    row = next(
        row for row in report["results"] if row["name"] == "transfer-compute-publish"
    )
    assert [drift["field"] for drift in row["drift"]] == ["flow_viewers"]


def test_plan_remote_deleted(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    flow_id = stored_state()["wait-for-results"]["flow_id"]

    async def delete(emulator: Emulator, client: httpx.AsyncClient) -> None:
        emulator.delete_flow(flow_id)

    with_emulator(delete)

    report = aioflows_cli.json("plan", str(flows), "--emulator", "--remote")

    row = next(row for row in report["results"] if row["name"] == "wait-for-results")
    assert row["remote"] == "deleted"
    assert report["remote_summary"]["deleted"] == 1


def test_plan_remote_changes_nothing(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    flow_id = stored_state()["two-hop-transfer"]["flow_id"]
    edit_remote(flow_id, title="Edited in the web app")
    state_before = stored_state()

    aioflows_cli.json("plan", str(flows), "--emulator", "--remote")

    async def title(emulator: Emulator, client: httpx.AsyncClient) -> str:
        response = await client.get(f"/flows/{flow_id}")
        return str(response.json()["title"])

    assert with_emulator(title) == "Edited in the web app"
    assert stored_state() == state_before


def test_plan_table_lists_drift(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    edit_remote(stored_state()["two-hop-transfer"]["flow_id"], description="changed")

    result = aioflows_cli.invoke("plan", str(flows), "--emulator", "--remote")

    assert result.exit_code == 0
    assert "drifted" in result.stdout
    assert "description" in result.stdout


def test_sync_remote_repairs_drift(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    state = stored_state()
    edit_remote(state["two-hop-transfer"]["flow_id"], title="Edited in the web app")
    deleted_id = state["wait-for-results"]["flow_id"]

    async def delete(emulator: Emulator, client: httpx.AsyncClient) -> None:
        emulator.delete_flow(deleted_id)

    with_emulator(delete)

    report = aioflows_cli.json("sync", str(flows), "--emulator", "--remote")

    assert outcomes(report) == {
        "ingest-sample-metadata": "unchanged",
        "reject-unapproved-dataset": "unchanged",
        "route-by-file-size": "unchanged",
        "transfer-compute-publish": "unchanged",
        "two-hop-transfer": "updated",
        "wait-for-results": "redeployed",
    }


def test_sync_remote_then_plan_in_sync(aioflows_cli: Cli, workdir: Path) -> None:
    flows = synced(aioflows_cli, workdir)
    edit_remote(stored_state()["two-hop-transfer"]["flow_id"], title="Edited")
    aioflows_cli.json("sync", str(flows), "--emulator", "--remote")

    report = aioflows_cli.json("plan", str(flows), "--emulator", "--remote")

    assert report["remote_summary"]["in-sync"] == 6


def test_sync_remote_with_dry_run_rejected(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke(
        "sync", str(flows), "--emulator", "--remote", "--dry-run"
    )

    assert result.exit_code == 2
    assert "plan --remote" in result.stderr
