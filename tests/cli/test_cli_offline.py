"""``sync --dry-run`` and ``plan`` without ``--remote`` need no credentials."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, copy_examples, edit_spec, outcomes

import aioflows.cli._batch
from aioflows._errors import LoginRequired
from aioflows.cli._offline import NoRequestTokens

# Nothing listens on the discard port, so a request sent by mistake fails
# fast on this machine instead of leaving it.
UNUSED_URL = "http://127.0.0.1:9/"


@pytest.fixture(autouse=True)
def unused_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("FLOWS", "GROUPS", "AUTH"):
        monkeypatch.setenv(f"GLOBUS_SDK_SERVICE_URL_{service}", UNUSED_URL)


def synced_state(aioflows_cli: Cli, workdir: Path) -> tuple[Path, Path]:
    """Sync the examples on the emulator, recording them in a state file of their own."""
    flows = copy_examples(workdir)
    state = workdir / "synced.json"
    aioflows_cli.json("sync", str(flows), "--emulator", "--state", str(state))
    return flows, state


def test_dry_run_without_token(aioflows_cli: Cli, workdir: Path) -> None:
    flows, state = synced_state(aioflows_cli, workdir)
    edit_spec(flows / "two-hop-transfer.json", title="Renamed")

    result = aioflows_cli.invoke(
        "sync", str(flows), "--dry-run", "--state", str(state), "--json"
    )

    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert outcomes(report)["two-hop-transfer"] == "would-update"
    assert report["summary"]["unchanged"] == 5
    assert {row["http_calls"] for row in report["results"]} == {0}


def test_plan_without_token(aioflows_cli: Cli, workdir: Path) -> None:
    flows, state = synced_state(aioflows_cli, workdir)

    result = aioflows_cli.invoke("plan", str(flows), "--state", str(state), "--json")

    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert set(outcomes(report).values()) == {"unchanged"}


def test_plan_remote_needs_token(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("plan", str(flows), "--remote")

    assert result.exit_code == 1
    assert "AIOFLOWS_ACCESS_TOKEN is not set" in result.stderr


def test_dry_run_request_surfaces(
    aioflows_cli: Cli, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = copy_examples(workdir)
    real_reconcile = aioflows.cli._batch.reconcile

    async def sending(managers: Sequence[Any], **options: Any) -> Any:
        # A dry run that sends requests after all, as a bug would.
        return await real_reconcile(managers, **{**options, "dry_run": False})

    monkeypatch.setattr(aioflows.cli._batch, "reconcile", sending)

    result = aioflows_cli.invoke("sync", str(flows), "--dry-run", "--json")

    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert report["summary"]["failed"] == 6
    assert all("LoginRequired" in row["error"] for row in report["results"])
    assert "'sync --dry-run' sends no request" in result.stderr


@pytest.mark.anyio
async def test_no_request_tokens_raise() -> None:
    tokens = NoRequestTokens("plan")

    with pytest.raises(LoginRequired, match="'plan' sends no request") as caught:
        await tokens.get_token("flows.globus.org")

    assert caught.value.resource_server == "flows.globus.org"
    assert await tokens.token_rejected("flows.globus.org") is False
