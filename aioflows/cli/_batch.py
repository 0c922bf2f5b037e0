"""``aioflows sync`` and ``aioflows plan``: one command for a directory of flow specs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import click

from .._plan import FlowPlan, PlanReport, plan
from .._printable import printable_path
from .._reconcile import FlowResult, Outcome, ReconcileReport, reconcile
from .._specs import SpecError, SpecLoad, load_specs
from ._logfilters import BatchLogFilter
from ._login import login_message
from ._options import CommonOptions, batch_options
from ._render import batch_progress, plan_table, report_table, summary_line
from ._runtime import INTERRUPTED_EXIT_CODE, Interrupted, Runtime

__all__ = ["plan_command", "sync_command"]

_PATHS = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)


@click.command("sync")
@_PATHS
@click.option(
    "--dry-run",
    is_flag=True,
    help="Report what would be created or updated, from local checksums only; "
    "send nothing and write nothing.",
)
@click.option(
    "--remote",
    is_flag=True,
    help="Fetch each deployed flow first and repair changes made outside aioflows: "
    "deploy deleted flows again and update edited ones back. One extra GET per flow.",
)
@batch_options
@click.pass_context
def sync_command(
    context: click.Context,
    paths: tuple[Path, ...],
    dry_run: bool,
    remote: bool,
    options: CommonOptions,
) -> None:
    """Create or update the flows of the spec files under PATHS.

    Each PATH is a spec file or a directory of *.json spec files. Prints one
    row per flow and exits with 1 when any flow failed or a spec was invalid.
    """
    if dry_run and remote:
        raise click.UsageError(
            "--dry-run and --remote cannot be combined; "
            "run 'aioflows plan --remote' to see drift without changing anything"
        )
    runtime = Runtime(options, log_filters=(BatchLogFilter(),))
    offline = "sync --dry-run" if dry_run else None
    runtime.check_ready(offline=offline)
    finished: list[FlowResult] = []

    async def main() -> ReconcileReport:
        specs = await _load(paths)
        async with runtime.session(offline=offline) as session:
            managers = [spec.to_manager(session) for spec in specs.specs]
            verb = "Previewing" if dry_run else "Syncing"
            with batch_progress(
                runtime.stderr, verb, len(managers), enabled=_show_progress(runtime)
            ) as advance:

                def on_progress(result: FlowResult) -> None:
                    finished.append(result)
                    advance(result)

                report = await reconcile(
                    managers,
                    concurrency=options.concurrency,
                    dry_run=dry_run,
                    remote=remote,
                    on_progress=on_progress,
                )
        return _with_spec_errors(report, specs.errors)

    try:
        report = runtime.run(main)
    except Interrupted:
        _report_interrupt(runtime, None if dry_run else len(finished))
        context.exit(INTERRUPTED_EXIT_CODE)

    if options.json:
        click.echo(report.to_json())
    elif options.verbosity >= 0:
        runtime.stdout.print(report_table(report))
        runtime.stdout.print(
            summary_line(report.summary, len(report.results), report.duration_s)
        )
    _report_login(runtime, [result.error for result in report.results])
    context.exit(0 if report.ok else 1)


@click.command("plan")
@_PATHS
@click.option(
    "--remote",
    is_flag=True,
    help="Also fetch each deployed flow and report changes made outside aioflows "
    "(drift) and flows deleted remotely.",
)
@batch_options
@click.pass_context
def plan_command(
    context: click.Context,
    paths: tuple[Path, ...],
    remote: bool,
    options: CommonOptions,
) -> None:
    """Show what 'sync' would change for the spec files under PATHS, changing nothing.

    Exits with 1 when any flow could not be planned or a spec was invalid;
    drift alone exits with 0.
    """
    runtime = Runtime(options, log_filters=(BatchLogFilter(),))
    # Without --remote, plan only compares checksums with the state file.
    offline = None if remote else "plan"
    runtime.check_ready(offline=offline)

    async def main() -> PlanReport:
        specs = await _load(paths)
        async with runtime.session(offline=offline) as session:
            managers = [spec.to_manager(session) for spec in specs.specs]
            with batch_progress(
                runtime.stderr,
                "Planning",
                len(managers),
                enabled=_show_progress(runtime),
            ) as advance:
                report = await plan(
                    managers,
                    remote=remote,
                    concurrency=options.concurrency,
                    on_progress=advance,
                )
        return _plan_with_spec_errors(report, specs.errors)

    try:
        report = runtime.run(main)
    except Interrupted:
        _report_interrupt(runtime, None)
        context.exit(INTERRUPTED_EXIT_CODE)

    if options.json:
        click.echo(report.to_json())
    elif options.verbosity >= 0:
        runtime.stdout.print(plan_table(report))
        counts: dict[str, int] = {**report.summary, **report.remote_summary}
        runtime.stdout.print(
            summary_line(counts, len(report.results), report.duration_s)
        )
    _report_login(runtime, [result.error for result in report.results])
    context.exit(0 if report.ok else 1)


async def _load(paths: Sequence[Path]) -> SpecLoad:
    try:
        return await anyio.to_thread.run_sync(load_specs, paths)
    except SpecError as error:
        raise click.ClickException(str(error)) from None


def _spec_name(error: SpecError) -> str:
    # A file name that is not UTF-8 would put lone surrogates in the report.
    return printable_path(error.path.stem) if error.path is not None else "unknown"


def _with_spec_errors(
    report: ReconcileReport, errors: Sequence[SpecError]
) -> ReconcileReport:
    """Add one ``failed`` row per unreadable spec, named after its file."""
    rows = [
        FlowResult(name=_spec_name(error), outcome=Outcome.FAILED, error=error)
        for error in errors
    ]
    return ReconcileReport(
        _by_name([*report.results, *rows]),
        dry_run=report.dry_run,
        duration_s=report.duration_s,
    )


def _plan_with_spec_errors(
    report: PlanReport, errors: Sequence[SpecError]
) -> PlanReport:
    rows = [
        FlowPlan(name=_spec_name(error), outcome=Outcome.FAILED, error=error)
        for error in errors
    ]
    return PlanReport(
        _by_name([*report.results, *rows]),
        remote=report.remote,
        duration_s=report.duration_s,
    )


def _by_name(results: list[Any]) -> tuple[Any, ...]:
    return tuple(sorted(results, key=lambda result: result.name))


def _report_interrupt(runtime: Runtime, finished: int | None) -> None:
    done = (
        ""
        if finished is None
        else f" {finished} flow(s) had finished and are recorded."
    )
    runtime.message(
        f"Interrupted.{done} The state file keeps every change completed so far; "
        "run the command again to finish the rest."
    )


def _report_login(runtime: Runtime, errors: Sequence[BaseException | None]) -> None:
    """Print one message for every flow that failed with LoginRequired.

    It is printed even with ``-q``, because it is an error.
    """
    message = login_message(errors, emulator=runtime.options.emulator)
    if message is not None:
        runtime.message(message)


def _show_progress(runtime: Runtime) -> bool:
    # Off a terminal (CI logs, pipes) a live bar only leaves blank lines.
    return runtime.options.verbosity >= 0 and runtime.stderr.is_terminal
