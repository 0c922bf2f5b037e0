"""Options that every command accepts after its name, gathered in one value."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

__all__ = ["BACKEND_VARIABLE", "CommonOptions", "batch_options", "common_options"]

BACKEND_VARIABLE = "AIOFLOWS_BACKEND"

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class CommonOptions:
    """The options shared by every command.

    Attributes:
        state: The state file given with ``--state``, or None for the default.
        emulator: Whether to talk to an embedded emulator instead of Globus.
        emulator_state: The emulator's own state file given with
            ``--emulator-state``, or None for the default.
        json: Whether to print machine-readable JSON on stdout.
        verbosity: -1 for ``-q``, 0 by default, 1 for ``-v``, 2 for ``-vv``.
        backend: The anyio backend to run on, ``asyncio`` or ``trio``.
        concurrency: The maximum number of flows in progress at once, for batch commands.
    """

    state: Path | None = None
    emulator: bool = False
    emulator_state: Path | None = None
    json: bool = False
    verbosity: int = 0
    backend: str = "asyncio"
    concurrency: int = 32


_COMMON = (
    click.option(
        "--state",
        type=click.Path(dir_okay=False, path_type=Path),
        help="State file with flow ids and checksums. Default: state.json in the "
        "user's data directory (AIOFLOWS_STATE_FILE overrides it), or "
        "./.aioflows/state.json with --emulator.",
    ),
    click.option(
        "--emulator",
        is_flag=True,
        help="Talk to an embedded emulator of the Globus services instead of Globus; "
        "its state persists in ./.aioflows/emulator.json.",
    ),
    click.option(
        "--emulator-state",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The embedded emulator's state file. Default: ./.aioflows/emulator.json.",
    ),
    click.option("--json", "json_output", is_flag=True, help="Print JSON on stdout."),
    click.option(
        "-v",
        "--verbose",
        count=True,
        help="Log more on stderr: -v for what changed, -vv for every request.",
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="Print only errors (on stderr): no progress bar, no messages and no "
        "table on stdout. --json still prints its JSON.",
    ),
    click.option(
        "--backend",
        type=click.Choice(["asyncio", "trio"]),
        default="asyncio",
        show_default=True,
        envvar=BACKEND_VARIABLE,
        help=f"The event loop to run on (also {BACKEND_VARIABLE}).",
    ),
)

_CONCURRENCY = click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="The maximum number of flows handled at once (synced, or planned).",
)


def common_options(command: F) -> F:
    """Add the shared options to *command*, passed to it as ``options``."""
    return _gather(command, with_concurrency=False)


def batch_options(command: F) -> F:
    """Add the shared options and ``--concurrency`` to *command*."""
    return _gather(command, with_concurrency=True)


def _gather(command: F, *, with_concurrency: bool) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = kwargs.pop("verbose")
        quiet = kwargs.pop("quiet")
        if kwargs["emulator_state"] is not None and not kwargs["emulator"]:
            raise click.UsageError(
                "--emulator-state is only used together with --emulator."
            )
        if verbose and quiet:
            raise click.UsageError(
                "-v/--verbose and -q/--quiet cannot be used together."
            )

        kwargs["options"] = CommonOptions(
            state=kwargs.pop("state"),
            emulator=kwargs.pop("emulator"),
            emulator_state=kwargs.pop("emulator_state"),
            json=kwargs.pop("json_output"),
            verbosity=-1 if quiet else min(verbose, 2),
            backend=kwargs.pop("backend"),
            concurrency=kwargs.pop("concurrency", 32),
        )
        return command(*args, **kwargs)

    decorated: Any = wrapper
    options = (*_COMMON, _CONCURRENCY) if with_concurrency else _COMMON
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
