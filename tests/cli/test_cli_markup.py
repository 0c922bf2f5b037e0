"""Square brackets in flow names, titles and messages are printed as they are."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from cli_support import Cli
from rich.console import Console

from aioflows._reconcile import FlowResult, Outcome, ReconcileReport
from aioflows.cli._render import batch_progress, report_table, run_table


def _definition() -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def _markup_console() -> tuple[Console, io.StringIO]:
    """A console that reads markup, as rich's default console does."""
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=200), buffer


def test_unknown_key_closing_tag(aioflows_cli: Cli, workdir: Path) -> None:
    flows = workdir / "flows"
    flows.mkdir()
    (flows / "tagged.json").write_text(
        json.dumps({"title": "T", "definition": _definition(), "[/x]": 1})
    )

    result = aioflows_cli.invoke("sync", str(flows), "--emulator")

    assert result.exit_code == 1
    assert "unknown key '[/x]'" in result.stdout


def test_run_title_with_brackets(aioflows_cli: Cli, workdir: Path) -> None:
    spec = workdir / "copy.json"
    spec.write_text(
        json.dumps({"title": "Copy data [v2]", "definition": _definition()})
    )

    result = aioflows_cli.invoke("run", str(spec), "--emulator")

    assert result.exit_code == 0
    assert "Copy data [v2]" in result.stdout


def test_gladier_section_with_brackets(aioflows_cli: Cli, workdir: Path) -> None:
    config = workdir / "gladier.cfg"
    config.write_text("[[other]]\nflow_id = 0a0a0a0a-0000-4000-8000-000000000001\n")

    result = aioflows_cli.invoke("adopt-gladier", str(config), "--emulator")

    assert result.exit_code == 0
    assert "[other]" in result.stdout


def test_report_table_cells_literal() -> None:
    console, buffer = _markup_console()
    report = ReconcileReport(
        (
            FlowResult(name="[bold]name", outcome=Outcome.CREATED, flow_id="[i]id"),
            FlowResult(name="b", outcome=Outcome.FAILED, error=ValueError("[/x]")),
        )
    )

    console.print(report_table(report))

    assert "[bold]name" in buffer.getvalue()
    assert "[i]id" in buffer.getvalue()
    assert "ValueError: [/x]" in buffer.getvalue()


def test_run_table_cells_literal() -> None:
    console, buffer = _markup_console()
    run = {
        "run_id": "r",
        "label": "[red]label",
        "tags": ["[b]tag"],
        "details": {"description": "[/x] failed"},
    }

    console.print(run_table(run))

    assert "[red]label" in buffer.getvalue()
    assert "[b]tag" in buffer.getvalue()
    assert "[/x] failed" in buffer.getvalue()


def test_progress_flow_name_literal() -> None:
    console, buffer = _markup_console()

    with batch_progress(console, "Syncing", 1, enabled=True) as advance:
        advance(FlowResult(name="[/x]", outcome=Outcome.CREATED))
        console.file.flush()

    assert "Syncing: [/x]" in buffer.getvalue()
