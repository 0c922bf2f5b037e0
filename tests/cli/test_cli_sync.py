from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cli_support import (
    EMULATOR_STATE,
    REAL_FLOWS,
    STATE,
    Cli,
    copy_examples,
    edit_spec,
    outcomes,
    stored_state,
    with_emulator,
)

import aioflows.cli._batch
from aioflows.emulator import Emulator

EXAMPLE_NAMES = {
    "ingest-sample-metadata",
    "reject-unapproved-dataset",
    "route-by-file-size",
    "transfer-compute-publish",
    "two-hop-transfer",
    "wait-for-results",
}


def test_examples_created_then_unchanged(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    first = aioflows_cli.json("sync", str(flows), "--emulator")
    second = aioflows_cli.json("sync", str(flows), "--emulator")

    assert outcomes(first) == dict.fromkeys(EXAMPLE_NAMES, "created")
    assert outcomes(second) == dict.fromkeys(EXAMPLE_NAMES, "unchanged")
    assert [row["http_calls"] for row in second["results"]] == [0] * len(EXAMPLE_NAMES)


def test_edited_spec_only_updated(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    created = aioflows_cli.json("sync", str(flows), "--emulator")
    edit_spec(
        flows / "route-by-file-size.json", description="Now with a new description"
    )

    report = aioflows_cli.json("sync", str(flows), "--emulator")

    expected = dict.fromkeys(EXAMPLE_NAMES, "unchanged")
    expected["route-by-file-size"] = "updated"
    assert outcomes(report) == expected
    ids = {row["name"]: row["flow_id"] for row in created["results"]}
    assert {row["name"]: row["flow_id"] for row in report["results"]} == ids


def test_json_report_shape(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json")

    document = json.loads(result.stdout)
    assert result.exit_code == 0
    assert set(document) == {"results", "summary"}
    assert document["summary"] == {
        "created": 6,
        "updated": 0,
        "redeployed": 0,
        "unchanged": 0,
        "failed": 0,
    }
    keys = {"name", "flow_id", "outcome", "error", "duration_s", "http_calls"}
    assert all(set(row) == keys for row in document["results"])


def test_table_on_stdout(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator")

    assert result.exit_code == 0
    assert "two-hop-transfer" in result.stdout
    assert "6 flows in" in result.stdout
    assert "6 created" in result.stdout


def test_quiet_prints_nothing(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "-q")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ""


def test_verbose_logs_on_stderr(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json", "-v")

    assert "created" in result.stderr
    assert json.loads(result.stdout)["summary"]["created"] == 6


def test_verbose_and_quiet_rejected(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke(
        "sync", str(copy_examples(workdir)), "--emulator", "-v", "-q"
    )

    assert result.exit_code == 2


def test_emulator_state_under_workdir(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    report = aioflows_cli.json("sync", str(flows), "--emulator")

    state = stored_state()
    assert sorted(state) == sorted(EXAMPLE_NAMES)
    assert EMULATOR_STATE.exists()
    assert not (workdir / "user-state.json").exists()
    deployed = with_emulator(_flow_ids)
    assert sorted(deployed) == sorted(row["flow_id"] for row in report["results"])


async def _flow_ids(emulator: Emulator, client: httpx.AsyncClient) -> list[str]:
    return emulator.flow_ids()


def test_state_option_used(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    state = workdir / "elsewhere" / "mine.json"

    aioflows_cli.json("sync", str(flows), "--emulator", "--state", str(state))

    assert sorted(json.loads(state.read_text())) == sorted(EXAMPLE_NAMES)
    assert not STATE.exists()


def test_emulator_state_option_used(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    emulator_state = workdir / "emu.json"

    aioflows_cli.json(
        "sync", str(flows), "--emulator", "--emulator-state", str(emulator_state)
    )
    again = aioflows_cli.json(
        "plan",
        str(flows),
        "--emulator",
        "--emulator-state",
        str(emulator_state),
        "--remote",
    )

    assert emulator_state.exists()
    assert not EMULATOR_STATE.exists()
    assert {row["remote"] for row in again["results"]} == {"in-sync"}


def test_unwritable_emulator_state_stops_first(
    aioflows_cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = copy_examples(workdir)
    # The tests may run as root, and os.access allows root to write anywhere.
    real_access = os.access

    def no_write_access(path: Any, mode: int, **kwargs: Any) -> bool:
        return not mode & os.W_OK and real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", no_write_access)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json")

    assert result.exit_code == 1
    assert "cannot write the emulator state file" in result.stderr
    assert result.stdout == ""
    assert not STATE.exists()


def test_emulator_state_below_file_explained(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    (workdir / "blocker").write_text("a file, not a directory", encoding="utf-8")

    result = aioflows_cli.invoke(
        "plan", str(flows), "--emulator", "--emulator-state", "blocker/emu.json"
    )

    assert result.exit_code == 1
    assert "blocker/emu.json: Not a directory" in result.stderr


def test_emulator_state_needs_emulator(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator-state", "emu.json")

    assert result.exit_code == 2
    assert "only used together with --emulator" in result.stderr


def test_spec_errors_reported_per_file(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    (flows / "broken-json.json").write_text(
        '{\n  "title": "x",\n  "definition": {,\n}\n'
    )
    (flows / "no-definition.json").write_text(json.dumps({"title": "No definition"}))
    (flows / "unknown-key.json").write_text(
        json.dumps({"title": "T", "definition": _definition(), "titel": "typo"})
    )
    (flows / "wrong-type.json").write_text(
        json.dumps({"title": 12, "definition": _definition()})
    )

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json")

    document = json.loads(result.stdout)
    rows = {row["name"]: row for row in document["results"]}
    assert result.exit_code == 1
    assert {name: rows[name]["outcome"] for name in EXAMPLE_NAMES} == dict.fromkeys(
        EXAMPLE_NAMES, "created"
    )
    assert "line 3, column 18" in rows["broken-json"]["error"]
    assert "missing 'definition'" in rows["no-definition"]["error"]
    assert "unknown key 'titel'" in rows["unknown-key"]["error"]
    assert "'title' must be a string" in rows["wrong-type"]["error"]
    assert document["summary"]["failed"] == 4
    assert all(rows[name]["flow_id"] is None for name in ("broken-json", "wrong-type"))


def _definition() -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def test_undecodable_spec_name_printable(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    spec = (flows / "two-hop-transfer.json").read_bytes()
    with open(os.path.join(os.fsencode(flows), b"caf\xe9.json"), "wb") as file:
        file.write(spec)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json")

    rows = {row["name"]: row for row in json.loads(result.stdout)["results"]}
    assert result.exit_code == 1
    assert rows["caf\\xe9"]["outcome"] == "failed"
    assert "file name is not valid UTF-8" in rows["caf\\xe9"]["error"]
    assert rows["two-hop-transfer"]["outcome"] == "created"


def test_spec_error_in_table(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    (flows / "broken-json.json").write_text("{")

    result = aioflows_cli.invoke("sync", str(flows), "--emulator")

    assert result.exit_code == 1
    assert "broken-json" in result.stdout
    assert "failed" in result.stdout


def test_empty_directory_error(aioflows_cli: Cli, workdir: Path) -> None:
    (workdir / "empty").mkdir()

    result = aioflows_cli.invoke("sync", "empty", "--emulator")

    assert result.exit_code == 1
    assert "no .json spec files" in result.stderr


def test_missing_path_usage_error(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke("sync", "absent", "--emulator")

    assert result.exit_code == 2


def test_dry_run_changes_nothing(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    report = aioflows_cli.json("sync", str(flows), "--emulator", "--dry-run")

    assert outcomes(report) == dict.fromkeys(EXAMPLE_NAMES, "would-create")
    assert not STATE.exists()
    assert with_emulator(_flow_ids) == []


def test_dry_run_would_update(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    aioflows_cli.json("sync", str(flows), "--emulator")
    edit_spec(flows / "two-hop-transfer.json", title="Renamed")

    report = aioflows_cli.json("sync", str(flows), "--emulator", "--dry-run")

    assert outcomes(report)["two-hop-transfer"] == "would-update"
    assert report["summary"]["unchanged"] == 5


def test_deleted_flow_redeployed(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    created = aioflows_cli.json("sync", str(flows), "--emulator")
    old_id = next(
        row["flow_id"]
        for row in created["results"]
        if row["name"] == "two-hop-transfer"
    )

    async def delete(emulator: Emulator, client: httpx.AsyncClient) -> None:
        emulator.delete_flow(old_id)

    with_emulator(delete)
    edit_spec(flows / "two-hop-transfer.json", title="Renamed")

    report = aioflows_cli.json("sync", str(flows), "--emulator")

    row = next(row for row in report["results"] if row["name"] == "two-hop-transfer")
    assert row["outcome"] == "redeployed"
    assert row["flow_id"] != old_id


def test_failed_flow_exit_one(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    aioflows_cli.json("sync", str(flows), "--emulator")
    state = stored_state()

    async def delete(emulator: Emulator, client: httpx.AsyncClient) -> None:
        emulator.delete_flow(state["two-hop-transfer"]["flow_id"])

    with_emulator(delete)
    edit_spec(
        flows / "two-hop-transfer.json",
        flow_id=state["two-hop-transfer"]["flow_id"],
        title="Renamed",
    )

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json")

    rows = {row["name"]: row for row in json.loads(result.stdout)["results"]}
    assert result.exit_code == 1
    assert rows["two-hop-transfer"]["outcome"] == "failed"
    assert "HTTP 404" in rows["two-hop-transfer"]["error"]
    assert rows["ingest-sample-metadata"]["outcome"] == "unchanged"


def test_missing_credentials_explained(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows))

    assert result.exit_code == 1
    assert "--emulator" in result.stderr
    assert "AIOFLOWS_ACCESS_TOKEN" in result.stderr
    assert "aioflows login" in result.stderr
    assert not (workdir / "user-state.json").exists()


def test_interrupt_keeps_finished_work(
    aioflows_cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = copy_examples(workdir)
    real_reconcile = aioflows.cli._batch.reconcile

    async def interrupted(managers: Sequence[Any], **options: Any) -> Any:
        await real_reconcile(list(managers)[:2], **options)
        raise KeyboardInterrupt

    monkeypatch.setattr(aioflows.cli._batch, "reconcile", interrupted)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator")

    assert result.exit_code == 130
    assert "Interrupted" in result.stderr
    assert "2 flow(s) had finished" in result.stderr
    assert len(stored_state()) == 2
    assert len(with_emulator(_flow_ids)) == 2


def test_interrupt_inside_task_group(
    aioflows_cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = copy_examples(workdir)

    async def interrupt() -> None:
        raise KeyboardInterrupt

    async def interrupted(managers: Sequence[Any], **options: Any) -> Any:
        # Ctrl-C under trio lands in whichever task runs, so a task group may
        # wrap it in an exception group.
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep_forever)
            group.start_soon(interrupt)

    monkeypatch.setattr(aioflows.cli._batch, "reconcile", interrupted)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator")

    assert result.exit_code == 130
    assert "Interrupted" in result.stderr
    assert EMULATOR_STATE.exists()


@pytest.mark.skipif(
    not REAL_FLOWS.is_dir(), reason="the real flow collection is not on this machine"
)
def test_real_flows_created_then_unchanged(aioflows_cli: Cli, workdir: Path) -> None:
    flows = workdir / "real"
    shutil.copytree(REAL_FLOWS, flows)

    first = aioflows_cli.json("sync", str(flows), "--emulator", "--concurrency", "8")
    second = aioflows_cli.json("sync", str(flows), "--emulator")

    assert first["summary"]["created"] == 20
    assert second["summary"]["unchanged"] == 20
    edit_spec(
        flows / "gladier__two_step_flow.json", title="Gladier two-step flow, renamed"
    )
    third = aioflows_cli.json("sync", str(flows), "--emulator")
    assert third["summary"] == {
        "created": 0,
        "updated": 1,
        "redeployed": 0,
        "unchanged": 19,
        "failed": 0,
    }
    assert outcomes(third)["gladier__two_step_flow"] == "updated"


def test_python_module_entry_point(workdir: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "aioflows", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )

    assert completed.returncode == 0
    assert "sync" in completed.stdout
