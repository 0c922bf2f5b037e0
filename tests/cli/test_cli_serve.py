"""The banner of ``aioflows emulator serve``: one paste points the command line at it."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import pytest
from cli_support import copy_examples

pytestmark = pytest.mark.anyio

TOKEN_NOTE = "The token changes at each start; pass --token to keep one."


@asynccontextmanager
async def serving(*options: str) -> AsyncIterator[str]:
    """Run ``aioflows emulator serve --port 0 OPTIONS`` and yield its banner; stop it with SIGINT."""
    command = [sys.executable, "-m", "aioflows", "emulator", "serve", "--port", "0"]
    async with await anyio.open_process(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            yield await _read_banner(process)
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(20):
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()


async def _read_banner(process: anyio.abc.Process) -> str:
    assert process.stdout is not None
    text = ""
    with anyio.fail_after(20):
        async for chunk in process.stdout:
            text += chunk.decode()
            if "Press Ctrl-C" in text:
                break
    return text


def exports(banner: str) -> dict[str, str]:
    """Return the variables of the banner's ``export NAME=VALUE`` lines."""
    variables: dict[str, str] = {}
    for line in banner.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            variables[name] = value
    return variables


async def test_banner_exports_token() -> None:
    async with serving() as banner:
        token = banner.split("Development token for user ")[1].split(": ")[1].split()[0]

    assert exports(banner)["AIOFLOWS_ACCESS_TOKEN"] == token
    assert TOKEN_NOTE in banner


async def test_banner_fixed_token() -> None:
    async with serving("--token", "dev-token") as banner:
        pass

    assert exports(banner)["AIOFLOWS_ACCESS_TOKEN"] == "dev-token"
    assert TOKEN_NOTE not in banner


async def test_banner_exports_reach_server(tmp_path: Path) -> None:
    flows = copy_examples(tmp_path)
    environment = {**os.environ, "AIOFLOWS_STATE_FILE": str(tmp_path / "state.json")}
    command = [sys.executable, "-m", "aioflows", "sync", str(flows), "--json"]

    async with serving() as banner:
        with anyio.fail_after(60):
            completed = await anyio.run_process(
                command, env={**environment, **exports(banner)}, check=False
            )

    assert completed.returncode == 0, completed.stderr.decode()
    assert json.loads(completed.stdout)["summary"]["created"] == 6
