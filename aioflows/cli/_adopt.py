"""``aioflows adopt-gladier``: take over flows that Gladier deployed."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .._errors import AioflowsError
from .._gladier import AdoptOutcome, AdoptResult, adopt_gladier
from ._options import CommonOptions, common_options
from ._render import adopt_table
from ._runtime import INTERRUPTED_EXIT_CODE, Interrupted, Runtime

__all__ = ["adopt_gladier_command"]

_PROBLEMS = (AdoptOutcome.CONFLICT, AdoptOutcome.INVALID)


def _parse_names(
    context: click.Context, parameter: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    names: dict[str, str] = {}
    for value in values:
        section, separator, name = value.partition("=")
        if not separator or not section or not name:
            raise click.BadParameter(f"expected SECTION=NAME, got {value!r}")
        names[section] = name
    return names


@click.command("adopt-gladier")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--as",
    "names",
    multiple=True,
    callback=_parse_names,
    metavar="SECTION=NAME",
    help="Store a section under the flow name NAME (its spec is NAME.json) "
    "instead of the section's own name; repeat for more.",
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be imported; write nothing."
)
@common_options
@click.pass_context
def adopt_gladier_command(
    context: click.Context,
    config: Path,
    names: dict[str, str],
    dry_run: bool,
    options: CommonOptions,
) -> None:
    """Import flow ids from the Gladier config CONFIG into the state file.

    Each section of CONFIG with a flow_id becomes the flow of the same name,
    so a spec NAME.json takes over the flow with its id, runs and consents.
    The first sync updates the flow once; CONFIG is only read.
    """
    runtime = Runtime(options)

    async def main() -> tuple[AdoptResult, ...]:
        return await adopt_gladier(
            config, runtime.storage(), names=names, dry_run=dry_run
        )

    try:
        results = runtime.run(main)
    except Interrupted:
        runtime.message("Interrupted.")
        context.exit(INTERRUPTED_EXIT_CODE)
    except (AioflowsError, ValueError) as error:
        raise click.ClickException(str(error)) from None

    if options.json:
        click.echo(json.dumps(_as_json(results), indent=2))
    elif options.verbosity >= 0:
        runtime.stdout.print(adopt_table(results))
        if not results:
            runtime.stdout.print(f"{config} has no section with a flow_id.")
    failed = any(result.outcome in _PROBLEMS for result in results)
    context.exit(1 if failed else 0)


def _as_json(results: tuple[AdoptResult, ...]) -> dict[str, object]:
    summary = {outcome.value: 0 for outcome in AdoptOutcome}
    for result in results:
        summary[result.outcome.value] += 1
    rows = [
        {
            "section": result.section,
            "name": result.name,
            "flow_id": result.flow_id,
            "outcome": result.outcome.value,
            "message": result.message,
        }
        for result in results
    ]
    return {"results": rows, "summary": summary}
