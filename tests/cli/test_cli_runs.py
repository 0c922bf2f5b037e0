from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import respx
from cli_support import FLOWS_URL, Cli, copy_examples

from aioflows.cli._runtime import TOKEN_VARIABLE
from aioflows.managers import FlowsManager

RUN_ID = "0a0a0a0a-0000-4000-8000-000000000001"
FLOW_ID = "0b0b0b0b-0000-4000-8000-000000000002"

# Emulated runs take about a second of wall time; poll as often as the
# command allows so tests stay short.
FAST = ("--interval", "0.5")


def test_run_watch_succeeds(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke(
        "run",
        "two-hop-transfer",
        "--flows",
        str(flows),
        "--emulator",
        "--watch",
        "--json",
        *FAST,
    )

    run = json.loads(result.stdout)
    assert result.exit_code == 0
    assert run["status"] == "SUCCEEDED"
    assert run["label"] == "two-hop example"
    assert run["tags"] == ["example"]


def test_run_syncs_spec_first(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    run = aioflows_cli.json("run", str(flows / "route-by-file-size.json"), "--emulator")

    report = aioflows_cli.json(
        "sync", str(flows / "route-by-file-size.json"), "--emulator"
    )
    assert report["results"][0]["flow_id"] == run["flow_id"]
    assert report["results"][0]["outcome"] == "unchanged"


def test_run_failed_exit_one(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke(
        "run",
        "reject-unapproved-dataset",
        "--flows",
        str(flows),
        "--emulator",
        "--watch",
        *FAST,
    )

    assert result.exit_code == 1
    assert "FAILED" in result.stdout


def test_run_failure_reason_shown(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke(
        "run",
        "reject-unapproved-dataset",
        "--flows",
        str(flows),
        "--emulator",
        "--watch",
        *FAST,
    )

    assert result.exit_code == 1
    assert "FlowFailed" in result.stdout
    assert "DatasetNotApproved in state NotApproved" in result.stdout
    assert "The dataset must be approved before it is shared" in result.stdout


@pytest.mark.parametrize("command", ["run", "watch"])
def test_interval_below_floor_rejected(
    aioflows_cli: Cli, workdir: Path, command: str
) -> None:
    target = "two-hop-transfer" if command == "run" else RUN_ID

    result = aioflows_cli.invoke(command, target, "--emulator", "--interval", "0")

    assert result.exit_code == 2
    assert "x>=0.5" in result.stderr


def test_interval_help_gives_unit(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke("watch", "--help")

    assert "Seconds between the first two polls, at least 0.5" in " ".join(
        result.stdout.split()
    )


def test_interrupted_watch_explains_follow(
    aioflows_cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = copy_examples(workdir)

    async def interrupted(
        self: FlowsManager, run_id: str, delay: float = 2.0
    ) -> AsyncIterator[dict[str, Any]]:
        yield {"run_id": run_id, "status": "ACTIVE"}
        raise KeyboardInterrupt

    monkeypatch.setattr(FlowsManager, "watch_run", interrupted)

    result = aioflows_cli.invoke(
        "run", "two-hop-transfer", "--flows", str(flows), "--emulator", "--watch"
    )

    run_id = result.stderr.split("Started run ")[1].split()[0]
    assert result.exit_code == 130
    assert f"Run {run_id} goes on in the embedded emulator" in result.stderr
    assert f"aioflows watch {run_id} --emulator" in result.stderr


def test_interrupted_watch_command(
    aioflows_cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(
        self: FlowsManager, run_id: str, delay: float = 2.0
    ) -> AsyncIterator[dict[str, Any]]:
        raise KeyboardInterrupt
        yield {}  # Unreached; it makes this function an async generator.

    monkeypatch.setattr(FlowsManager, "watch_run", interrupted)

    result = aioflows_cli.invoke("watch", RUN_ID, "--emulator")

    assert result.exit_code == 130
    assert f"follow it with: aioflows watch {RUN_ID} --emulator" in result.stderr


def test_run_options_override_spec(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    body = workdir / "input.json"
    body.write_text(
        json.dumps(
            {
                "approved": True,
                "source_collection": "s",
                "shared_collection": "d",
                "dataset_path": "/x/",
            }
        )
    )

    result = aioflows_cli.invoke(
        "run",
        "reject-unapproved-dataset",
        "--flows",
        str(flows),
        "--input",
        str(body),
        "--label",
        "approved run",
        "--tag",
        "a",
        "--tag",
        "b",
        "--emulator",
        "--watch",
        "--json",
        *FAST,
    )

    run = json.loads(result.stdout)
    assert result.exit_code == 0
    assert run["status"] == "SUCCEEDED"
    assert run["label"] == "approved run"
    assert run["tags"] == ["a", "b"]


def test_run_input_from_stdin(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    body = {
        "approved": True,
        "source_collection": "s",
        "shared_collection": "d",
        "dataset_path": "/",
    }

    result = aioflows_cli.invoke(
        "run",
        "reject-unapproved-dataset",
        "--flows",
        str(flows),
        "--input",
        "-",
        "--emulator",
        "--json",
        input=json.dumps(body),
    )

    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] in {"ACTIVE", "SUCCEEDED"}


def test_run_invalid_input_rejected(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    body = workdir / "input.json"
    body.write_text("[1, 2")

    result = aioflows_cli.invoke(
        "run",
        "two-hop-transfer",
        "--flows",
        str(flows),
        "--input",
        str(body),
        "--emulator",
    )

    assert result.exit_code == 1
    assert "invalid JSON at line 1" in result.stderr


@pytest.mark.parametrize(
    ("content", "explained"),
    [
        (b'{"name": "caf\xe9"}', "not valid UTF-8 at byte 13"),
        (b'{"n": ' + b"1" * 5_000 + b"}", "invalid JSON: "),
        (b"[" * 50_000, "the JSON is nested too deeply"),
    ],
    ids=["latin-1", "huge-integer", "deep"],
)
def test_run_bad_input_explained(
    aioflows_cli: Cli, workdir: Path, content: bytes, explained: str
) -> None:
    flows = copy_examples(workdir)
    body = workdir / "input.json"
    body.write_bytes(content)

    result = aioflows_cli.invoke(
        "run",
        "two-hop-transfer",
        "--flows",
        str(flows),
        "--input",
        str(body),
        "--emulator",
    )

    assert result.exit_code == 1
    assert f"--input {body}: {explained}" in result.stderr


def test_run_input_with_bom(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    spec = json.loads((flows / "route-by-file-size.json").read_text())
    body = workdir / "input.json"
    body.write_bytes(b"\xef\xbb\xbf" + json.dumps(spec["run"]["body"]).encode())

    run = aioflows_cli.json(
        "run",
        "route-by-file-size",
        "--flows",
        str(flows),
        "--input",
        str(body),
        "--emulator",
    )

    assert run["status"] in {"ACTIVE", "SUCCEEDED"}


def test_run_without_run_id_reported(
    aioflows_cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "tok-cli")
    state = workdir / "state.json"
    state.write_text(json.dumps({"recorded": {"flow_id": FLOW_ID}}), encoding="utf-8")

    with respx.mock(base_url=FLOWS_URL) as service:
        service.post(f"/flows/{FLOW_ID}/run").respond(201, json={"status": "ACTIVE"})
        result = aioflows_cli.invoke("run", "recorded", "--state", str(state))

    assert result.exit_code == 0
    assert "the response has no run_id" in result.stderr
    assert "Started run None" not in result.stderr


def test_run_recorded_flow_by_name(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    aioflows_cli.json("sync", str(flows), "--emulator")
    body = workdir / "input.json"
    spec = json.loads((flows / "route-by-file-size.json").read_text())
    body.write_text(json.dumps(spec["run"]["body"]))

    run = aioflows_cli.json(
        "run", "route-by-file-size", "--input", str(body), "--emulator"
    )

    assert run["status"] in {"ACTIVE", "SUCCEEDED"}
    assert (
        run["flow_id"]
        == json.loads((workdir / ".aioflows" / "state.json").read_text())[
            "route-by-file-size"
        ]["flow_id"]
    )


def test_run_unknown_flow_explained(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke("run", "nowhere", "--emulator")

    assert result.exit_code == 1
    assert "no flow named 'nowhere'" in result.stderr


def test_run_unknown_spec_explained(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("run", "nowhere", "--flows", str(flows), "--emulator")

    assert result.exit_code == 1
    assert "no spec named 'nowhere'" in result.stderr


def test_status_and_watch(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    started = aioflows_cli.json(
        "run", "two-hop-transfer", "--flows", str(flows), "--emulator"
    )

    status = aioflows_cli.json("status", started["run_id"], "--emulator")
    watched = aioflows_cli.invoke(
        "watch", started["run_id"], "--emulator", "--json", *FAST
    )

    assert status["run_id"] == started["run_id"]
    assert watched.exit_code == 0
    assert json.loads(watched.stdout)["status"] == "SUCCEEDED"


def test_status_table(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    started = aioflows_cli.json(
        "run", "two-hop-transfer", "--flows", str(flows), "--emulator"
    )

    result = aioflows_cli.invoke("status", started["run_id"], "--emulator")

    assert result.exit_code == 0
    assert started["run_id"] in result.stdout
    assert "two-hop example" in result.stdout


def test_status_unknown_run(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke(
        "status", "0a0a0a0a-0000-4000-8000-000000000001", "--emulator"
    )

    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr


def test_status_bad_run_id(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke("status", "run-1", "--emulator")

    assert result.exit_code == 2
    assert "RUN_ID must be a UUID" in result.stderr


def test_watch_needs_credentials(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke("watch", "0a0a0a0a-0000-4000-8000-000000000001")

    assert result.exit_code == 1
    assert "AIOFLOWS_ACCESS_TOKEN" in result.stderr
