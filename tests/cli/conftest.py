"""Fixtures for command-line tests, each run once on asyncio and once on trio."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Cli

from aioflows.cli._runtime import TOKEN_VARIABLE


@pytest.fixture(params=["asyncio", "trio"])
def aioflows_cli(request: pytest.FixtureRequest) -> Cli:
    """The command line on one anyio backend."""
    return Cli(backend=str(request.param))


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, so ./.aioflows/ lands in the test's tmp_path.

    The user's own state file and token are kept out of reach.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    monkeypatch.setenv("AIOFLOWS_STATE_FILE", str(tmp_path / "user-state.json"))
    return tmp_path
