"""The command line against a loopback emulator server, with a token from the environment."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest
from cli_support import copy_examples

from aioflows.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_sync_through_loopback_server(workdir: Path) -> None:
    flows = copy_examples(workdir)
    emulator = Emulator()
    async with emulator.serve("127.0.0.1", 0) as server:
        base = server.url.rstrip("/") + "/"
        environment = {
            **os.environ,
            "AIOFLOWS_ACCESS_TOKEN": emulator.static_token,
            "GLOBUS_SDK_SERVICE_URL_FLOWS": base,
            "GLOBUS_SDK_SERVICE_URL_GROUPS": base,
            "GLOBUS_SDK_SERVICE_URL_AUTH": base,
            "AIOFLOWS_STATE_FILE": str(workdir / "loopback-state.json"),
        }
        command = [sys.executable, "-m", "aioflows", "sync", str(flows), "--json"]

        with anyio.fail_after(60):
            completed = await anyio.run_process(command, env=environment, check=False)

    report = json.loads(completed.stdout)
    assert completed.returncode == 0, completed.stderr.decode()
    assert report["summary"]["created"] == 6
    assert sorted(emulator.flow_ids()) == sorted(
        row["flow_id"] for row in report["results"]
    )
    assert (workdir / "loopback-state.json").exists()
    assert emulator.static_token.encode() not in completed.stdout + completed.stderr
