"""Helpers for command-line tests: a runner bound to a backend and the embedded emulator."""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import attrs
import httpx
from click.testing import CliRunner, Result

from aioflows.cli import cli
from aioflows.emulator import Emulator

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "examples" / "flows"
REAL_FLOWS = REPOSITORY.parent / "shared" / "flows-real"
EMULATOR_STATE = Path(".aioflows") / "emulator.json"
STATE = Path(".aioflows") / "state.json"
FLOWS_URL = "https://flows.automate.globus.org"

T = TypeVar("T")


@attrs.frozen
class Cli:
    """Runs ``aioflows`` commands in-process on one anyio backend.

    Attributes:
        backend: ``asyncio`` or ``trio``, passed through AIOFLOWS_BACKEND.
    """

    backend: str

    def invoke(self, *args: str, input: str | None = None) -> Result:
        """Run ``aioflows ARGS`` and return its result; exceptions are not caught."""
        runner = CliRunner(env={"AIOFLOWS_BACKEND": self.backend})
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    def json(self, *args: str) -> Any:
        """Run ``aioflows ARGS --json`` and return the decoded stdout."""
        result = self.invoke(*args, "--json")
        return json.loads(result.stdout)


def copy_examples(directory: Path) -> Path:
    """Copy the example specs into *directory*/flows and return that folder."""
    target = directory / "flows"
    shutil.copytree(EXAMPLES, target)
    return target


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    """Return the outcome of every row of a JSON report, by flow name."""
    return {row["name"]: row["outcome"] for row in document["results"]}


def edit_spec(path: Path, **fields: Any) -> None:
    """Rewrite a spec file with *fields* replaced."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document.update(fields)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def with_emulator(work: Callable[[Emulator, httpx.AsyncClient], Awaitable[T]]) -> T:
    """Load the embedded emulator's saved state, run *work* on it, and save it again.

    *work* gets the emulator and a client authorised with its static token,
    for changes made "outside aioflows", as the web app would.
    """

    async def main() -> T:
        emulator = await Emulator.load(EMULATOR_STATE)
        headers = {"Authorization": f"Bearer {emulator.static_token}"}
        async with httpx.AsyncClient(
            transport=emulator.transport(), base_url=FLOWS_URL, headers=headers
        ) as client:
            result = await work(emulator, client)
        await emulator.save(EMULATOR_STATE)
        return result

    return anyio.run(main)


def stored_state() -> dict[str, Any]:
    """Return the state file of the embedded emulator's runs."""
    document: dict[str, Any] = json.loads(STATE.read_text(encoding="utf-8"))
    return document
