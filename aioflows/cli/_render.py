"""Rich rendering of reports: the progress bar, result tables and summaries.

Every cell built from data is a :class:`rich.text.Text`, which rich prints
as it is, because flow names, titles and messages may contain square
brackets that rich would otherwise read as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from .._errors import LoginRequired
from .._gladier import AdoptResult
from .._plan import PlanReport
from .._reconcile import ReconcileReport

__all__ = [
    "adopt_table",
    "batch_progress",
    "plan_table",
    "report_table",
    "run_table",
    "summary_line",
]

_STYLES = {
    "created": "green",
    "updated": "cyan",
    "redeployed": "yellow",
    "unchanged": "dim",
    "failed": "bold red",
    "would-create": "green",
    "would-update": "cyan",
    "in-sync": "dim",
    "drifted": "yellow",
    "deleted": "bold red",
    "not-deployed": "dim",
    "adopted": "green",
    "already-adopted": "dim",
    "conflict": "bold red",
    "invalid": "bold red",
    "SUCCEEDED": "green",
    "ACTIVE": "cyan",
    "INACTIVE": "yellow",
    "FAILED": "bold red",
    "ENDED": "yellow",
}


@contextmanager
def batch_progress(
    console: Console, description: str, total: int, *, enabled: bool
) -> Iterator[Callable[[Any], None]]:
    """Show a progress bar on *console*; yield the function that advances it by one result.

    The bar disappears when the block ends, leaving room for the table.
    """
    if not enabled:
        yield lambda result: None
        return

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)

        def advance(result: Any) -> None:
            progress.update(
                task, advance=1, description=f"{description}: {result.name}"
            )

        yield advance


def report_table(report: ReconcileReport) -> Table:
    """Return one row per flow: name, outcome, flow id, HTTP calls, seconds, error."""
    table = Table(
        title="Dry run" if report.dry_run else None,
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("Flow", overflow="fold", min_width=20)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Flow id", overflow="fold")
    table.add_column("Calls", justify="right")
    table.add_column("Seconds", justify="right")
    with_errors = not report.ok
    if with_errors:
        table.add_column("Error", overflow="fold")

    for result in report.results:
        cells: list[Text] = [
            Text(result.name),
            _styled(result.outcome.value),
            Text(result.flow_id or "-"),
            Text(str(result.http_calls)),
            Text(f"{result.duration_s:.2f}"),
        ]
        if with_errors:
            cells.append(_error_cell(result.error, result.message))
        table.add_row(*cells)
    return table


def plan_table(report: PlanReport) -> Table:
    """Return one row per flow: name, local outcome, remote state, drifted fields, error."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("Flow", overflow="fold", min_width=20)
    table.add_column("Local")
    if report.remote:
        table.add_column("Remote")
        table.add_column("Drifted fields", overflow="fold")
    table.add_column("Flow id", overflow="fold")
    with_errors = not report.ok
    if with_errors:
        table.add_column("Error", overflow="fold")

    for result in report.results:
        cells: list[Text] = [Text(result.name), _styled(result.outcome.value)]
        if report.remote:
            state = result.remote.value if result.remote is not None else "-"
            cells.append(_styled(state))
            cells.append(Text(", ".join(drift.field for drift in result.drift)))
        cells.append(Text(result.flow_id or "-"))
        if with_errors:
            cells.append(_error_cell(result.error, result.message))
        table.add_row(*cells)
    return table


def adopt_table(results: tuple[AdoptResult, ...]) -> Table:
    """Return one row per Gladier section."""
    table = Table()
    table.add_column("Section", overflow="fold")
    table.add_column("Name", overflow="fold")
    table.add_column("Flow id", overflow="fold")
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Message", overflow="fold")
    for result in results:
        table.add_row(
            Text(result.section),
            Text(result.name),
            Text(result.flow_id),
            _styled(result.outcome.value),
            Text(result.message or ""),
        )
    return table


def run_table(run: Mapping[str, Any]) -> Table:
    """Return the main fields of a run document as a two-column table."""
    table = Table(show_header=False)
    table.add_column("Field", style="bold")
    table.add_column("Value", overflow="fold")
    for field in (
        "run_id",
        "flow_id",
        "flow_title",
        "label",
        "status",
        "start_time",
        "completion_time",
    ):
        value = run.get(field)
        if value is None:
            continue
        cell = _styled(str(value)) if field == "status" else Text(str(value))
        table.add_row(field, cell)

    tags = run.get("tags")
    if tags:
        table.add_row("tags", Text(", ".join(str(tag) for tag in tags)))
    for field, value in _details_rows(run):
        table.add_row(field, Text(value))
    return table


def summary_line(counts: Mapping[str, int], total: int, seconds: float) -> str:
    """Return e.g. ``"20 flows in 0.41 s: 3 created, 17 unchanged"``, leaving out zeros."""
    parts = [f"{count} {outcome}" for outcome, count in counts.items() if count]
    noun = "flow" if total == 1 else "flows"
    return f"{total} {noun} in {seconds:.2f} s: {', '.join(parts) or 'nothing to do'}"


def _styled(value: str) -> Text:
    return Text(value, style=_STYLES.get(value, ""))


def _error_cell(error: BaseException | None, message: str | None) -> Text:
    # Every flow fails the same way when the token is rejected, so the long
    # explanation is printed once after the table instead of in each row.
    if isinstance(error, LoginRequired):
        return Text("login required; see the message after the table")
    return Text(message or "")


def _details_rows(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the rows of the run's ``details``: its description and code, then why it failed.

    The reason of a failure sits in the nested ``details`` document: the
    ``error`` name, the ``state_name`` it was raised in, and the ``cause``.
    """
    details = run.get("details")
    if not isinstance(details, Mapping):
        return []

    rows: list[tuple[str, str]] = []
    description = details.get("description")
    code = details.get("code")
    if description and code:
        rows.append(("details", f"{description} ({code})"))
    elif description or code:
        rows.append(("details", str(description or code)))

    reason = details.get("details")
    if not isinstance(reason, Mapping):
        return rows
    error = reason.get("error")
    state = reason.get("state_name")
    if error:
        rows.append(("error", f"{error} in state {state}" if state else str(error)))
    cause = reason.get("cause")
    if cause:
        rows.append(("cause", str(cause)))
    return rows
