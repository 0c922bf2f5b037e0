"""A rejected access token: one message for the whole batch, short rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal
from cli_support import Cli, copy_examples

from aioflows.emulator import Emulator

REJECTED = (
    "The access token in AIOFLOWS_ACCESS_TOKEN was rejected by resource server "
    "'flows.globus.org' (HTTP 401)"
)


@pytest.fixture
def loopback_service(
    aioflows_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Emulator]:
    """Serve an emulator on 127.0.0.1 from another thread, and give the CLI a token it rejects."""
    emulator = Emulator()
    server_block = emulator.serve("127.0.0.1", 0)
    with (
        start_blocking_portal(aioflows_cli.backend) as portal,
        portal.wrap_async_context_manager(server_block) as server,
    ):
        base = server.url.rstrip("/") + "/"
        for service in ("FLOWS", "GROUPS", "AUTH"):
            monkeypatch.setenv(f"GLOBUS_SDK_SERVICE_URL_{service}", base)
        monkeypatch.setenv("AIOFLOWS_ACCESS_TOKEN", "not-the-emulator-token")
        yield emulator


def test_rejected_token_one_message(
    aioflows_cli: Cli, workdir: Path, loopback_service: Emulator
) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows))

    assert result.exit_code == 1
    assert result.stderr.count(REJECTED) == 1
    assert result.stderr.count("\n") == 1
    assert "for 6 flows" in result.stderr
    assert "globus-sdk or the Globus CLI" in result.stderr
    assert "--emulator" in result.stderr
    assert "manage_flows" in result.stderr


def test_rejected_token_short_rows(
    aioflows_cli: Cli, workdir: Path, loopback_service: Emulator
) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows))

    assert result.stdout.count("login required") == 6
    assert "manage_flows" not in result.stdout


def test_rejected_token_json_shape(
    aioflows_cli: Cli, workdir: Path, loopback_service: Emulator
) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--json")

    document = json.loads(result.stdout)
    keys = {"name", "flow_id", "outcome", "error", "duration_s", "http_calls"}
    assert set(document) == {"results", "summary"}
    assert all(set(row) == keys for row in document["results"])
    assert document["summary"]["failed"] == 6
    assert all(row["error"].startswith("LoginRequired") for row in document["results"])
    assert result.stderr.count(REJECTED) == 1


def test_rejected_token_quiet_still_explained(
    aioflows_cli: Cli, workdir: Path, loopback_service: Emulator
) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "-q")

    assert result.stdout == ""
    assert result.stderr.count(REJECTED) == 1


def test_rejected_token_plan_remote(
    aioflows_cli: Cli, workdir: Path, loopback_service: Emulator
) -> None:
    flows = copy_examples(workdir)
    state = workdir / "synced.json"
    aioflows_cli.json("sync", str(flows), "--emulator", "--state", str(state))

    result = aioflows_cli.invoke("plan", str(flows), "--remote", "--state", str(state))

    assert result.exit_code == 1
    assert result.stderr.count("was rejected by resource server") == 1
    assert result.stdout.count("login required") == 6


def test_rejected_token_status(
    aioflows_cli: Cli, workdir: Path, loopback_service: Emulator
) -> None:
    result = aioflows_cli.invoke("status", "0a0a0a0a-0000-4000-8000-000000000001")

    assert result.exit_code == 1
    assert "was rejected by resource server" in result.stderr
    assert "globus-sdk or the Globus CLI" in result.stderr
