"""The ``aioflows`` command line: sync, plan, run and follow flows from spec files."""

from __future__ import annotations

from collections.abc import Sequence

import click

from .. import __version__
from ..emulator._cli import emulator as emulator_group
from ._adopt import adopt_gladier_command
from ._batch import plan_command, sync_command
from ._runs import run_command, status_command, watch_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aioflows")
def cli() -> None:
    """Keep Globus flows in step with flow spec files, and run them.

    Try it offline on the embedded emulator with: aioflows sync DIR --emulator
    where DIR is a directory of flow spec files, such as examples/flows in
    the aioflows source repository.
    """


for _command in (
    sync_command,
    plan_command,
    run_command,
    status_command,
    watch_command,
    adopt_gladier_command,
    emulator_group,
):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line with *argv* (default: ``sys.argv[1:]``) and exit."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="aioflows")
