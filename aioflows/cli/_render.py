"""Rich rendering of reports: the progress bar, result tables and summaries."""

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
        TextColumn("{task.description}"),
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
        cells: list[Any] = [
            result.name,
            _styled(result.outcome.value),
            result.flow_id or "-",
            str(result.http_calls),
            f"{result.duration_s:.2f}",
        ]
        if with_errors:
            cells.append(result.message or "")
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
        cells: list[Any] = [result.name, _styled(result.outcome.value)]
        if report.remote:
            state = result.remote.value if result.remote is not None else "-"
            cells.append(_styled(state))
            cells.append(", ".join(drift.field for drift in result.drift))
        cells.append(result.flow_id or "-")
        if with_errors:
            cells.append(result.message or "")
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
            result.section,
            result.name,
            result.flow_id,
            _styled(result.outcome.value),
            result.message or "",
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
        cell = _styled(value) if field == "status" else str(value)
        table.add_row(field, cell)

    tags = run.get("tags")
    if tags:
        table.add_row("tags", ", ".join(str(tag) for tag in tags))
    description = _run_description(run)
    if description:
        table.add_row("details", description)
    return table


def summary_line(counts: Mapping[str, int], total: int, seconds: float) -> str:
    """Return e.g. ``"20 flows in 0.41 s: 3 created, 17 unchanged"``, leaving out zeros."""
    parts = [f"{count} {outcome}" for outcome, count in counts.items() if count]
    noun = "flow" if total == 1 else "flows"
    return f"{total} {noun} in {seconds:.2f} s: {', '.join(parts) or 'nothing to do'}"


def _styled(value: str) -> Text:
    return Text(value, style=_STYLES.get(value, ""))


def _run_description(run: Mapping[str, Any]) -> str | None:
    details = run.get("details")
    if not isinstance(details, Mapping):
        return None
    description = details.get("description") or details.get("code")
    return str(description) if description else None
