from __future__ import annotations

import io

from rich.console import Console

from aioflows._reconcile import FlowResult, Outcome, ReconcileReport
from aioflows.cli._render import batch_progress, report_table, summary_line


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120), buffer


def test_progress_names_finished_flow() -> None:
    console, buffer = terminal()

    with batch_progress(console, "Syncing", 2, enabled=True) as advance:
        advance(FlowResult(name="alpha", outcome=Outcome.CREATED))
        console.file.flush()

    assert "Syncing: alpha" in buffer.getvalue()
    assert "1/2" in buffer.getvalue()


def test_progress_disabled_silent() -> None:
    console, buffer = terminal()

    with batch_progress(console, "Syncing", 1, enabled=False) as advance:
        advance(FlowResult(name="alpha", outcome=Outcome.CREATED))

    assert buffer.getvalue() == ""


def test_table_shows_error_column() -> None:
    console, buffer = terminal()
    report = ReconcileReport(
        (
            FlowResult(name="alpha", outcome=Outcome.CREATED, flow_id="id-1"),
            FlowResult(name="beta", outcome=Outcome.FAILED, error=RuntimeError("boom")),
        )
    )

    console.print(report_table(report))

    text = buffer.getvalue()
    assert "RuntimeError: boom" in text
    assert "Error" in text


def test_table_hides_empty_error_column() -> None:
    console, buffer = terminal()
    report = ReconcileReport((FlowResult(name="alpha", outcome=Outcome.UNCHANGED),))

    console.print(report_table(report))

    assert "Error" not in buffer.getvalue()


def test_summary_leaves_out_zeros() -> None:
    line = summary_line({"created": 2, "updated": 0, "failed": 1}, 3, 1.234)

    assert line == "3 flows in 1.23 s: 2 created, 1 failed"


def test_summary_empty_batch() -> None:
    assert summary_line({"created": 0}, 0, 0.0) == "0 flows in 0.00 s: nothing to do"
