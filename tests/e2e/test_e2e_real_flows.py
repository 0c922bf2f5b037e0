"""Published flow definitions: each deploys, runs and ends on the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from e2e_support import TERMINAL_STATUSES, EmulatorView, sample_input

from aioflows import FlowsManager, Session
from aioflows.emulator import Emulator, ManualClock

pytestmark = pytest.mark.anyio

# Emulator seconds to move per poll. Wait states are capped at one second
# and Action states take one, so a poll or two covers even the loops.
CLOCK_STEP = 3600.0


async def load_flow(directory: Path, name: str) -> dict[str, Any]:
    """Read one real flow file: ``{"title", "definition", "input_schema"?, "source"}``."""
    document: dict[str, Any] = json.loads(
        await anyio.Path(directory / f"{name}.json").read_text()
    )
    return document


async def test_real_flow_runs_to_end(
    real_flows_dir: Path,
    real_flow_name: str,
    session: Session,
    emulator: Emulator,
    view: EmulatorView,
    clock: ManualClock,
) -> None:
    document = await load_flow(real_flows_dir, real_flow_name)
    schema = document.get("input_schema")
    manager = FlowsManager(
        name=real_flow_name,
        flow_title=document["title"],
        flow_definition=document["definition"],
        flow_schema=schema,
        session=session,
    )

    run = await manager.run_flow(sample_input(schema or {}), label=real_flow_name)
    final = await manager.progress(
        run["run_id"], callback=lambda _: clock.advance(CLOCK_STEP), delay=0
    )

    assert emulator.count("POST", "/flows") == 1
    assert view.flow(run["flow_id"])["definition"] == document["definition"]
    assert final["status"] in TERMINAL_STATUSES
    assert final == view.run(run["run_id"])


async def test_real_flow_sync_stable(
    real_flows_dir: Path,
    real_flow_name: str,
    session: Session,
    emulator: Emulator,
) -> None:
    document = await load_flow(real_flows_dir, real_flow_name)

    def build() -> FlowsManager:
        return FlowsManager(
            name=real_flow_name,
            flow_title=document["title"],
            flow_definition=document["definition"],
            flow_schema=document.get("input_schema"),
            session=session,
        )

    await build().sync_flow()
    emulator.request_log.clear()
    await build().sync_flow()

    assert emulator.count() == 0
