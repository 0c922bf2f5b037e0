"""``aioflows run``, ``status`` and ``watch``: start a flow and follow its runs."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from .._errors import AioflowsError, LoginRequired, RunFailed
from .._principals import check_uuid
from .._printable import printable_path
from .._specs import FlowSpec, SpecError, load_spec
from ..managers import FlowsManager
from ._login import login_message
from ._options import CommonOptions, common_options
from ._render import run_table
from ._runtime import INTERRUPTED_EXIT_CODE, Interrupted, Runtime

__all__ = ["run_command", "status_command", "watch_command"]

# Status and watch only read runs, so their manager needs no flow; its name
# is never written to the state file.
_READER_NAME = "aioflows-cli"


def _run_id(context: click.Context, parameter: click.Parameter, value: str) -> str:
    try:
        return check_uuid(value, "RUN_ID")
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


# Run statuses change over seconds, so polling more often than this mostly
# adds load on the service.
_MIN_POLL_INTERVAL = 0.5

_INTERVAL = click.option(
    "--interval",
    type=click.FloatRange(min=_MIN_POLL_INTERVAL),
    default=2.0,
    show_default=True,
    help=f"Seconds between the first two polls, at least {_MIN_POLL_INTERVAL}; "
    "later polls slow down while the status stays the same.",
)


@click.command("run")
@click.argument("name")
@click.option(
    "--flows",
    "spec_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A spec file, or a directory with NAME.json, to sync before the run. "
    "Without it, NAME is a spec file or a flow already recorded in the state file.",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    help="A JSON file with the run's input ('-' reads stdin). Default: the spec's "
    "run.body, else {}.",
)
@click.option("--label", help="The run's label; at most 64 characters are kept.")
@click.option(
    "--tag", "tags", multiple=True, help="A tag for the run; repeat for more."
)
@click.option(
    "--watch",
    is_flag=True,
    help="Wait for the run to end and exit 1 unless it succeeded.",
)
@_INTERVAL
@common_options
@click.pass_context
def run_command(
    context: click.Context,
    name: str,
    spec_paths: tuple[Path, ...],
    input_path: Path | None,
    label: str | None,
    tags: tuple[str, ...],
    watch: bool,
    interval: float,
    options: CommonOptions,
) -> None:
    """Start a run of the flow NAME, syncing it first when its spec is known.

    NAME is a flow's name (the stem of its spec file) or the path of a spec file.
    """
    runtime = Runtime(options)
    runtime.check_ready()
    spec = _find_spec(name, spec_paths)
    body = _read_input(input_path) if input_path is not None else _default_body(spec)
    flow_name = spec.name if spec is not None else name
    started: list[str] = []

    async def main() -> dict[str, Any]:
        async with runtime.session() as session:
            manager = (
                spec.to_manager(session)
                if spec is not None
                else FlowsManager(name=flow_name, session=session)
            )
            if spec is None and await manager.get_flow_id() is None:
                raise click.ClickException(
                    f"no flow named {flow_name!r} in the state file {runtime.state_path}; "
                    "sync its spec first (aioflows sync DIR) or pass --flows DIR"
                )
            run = await manager.run_flow(body, label=label, tags=list(tags) or None)
            run_id = run.get("run_id")
            if not isinstance(run_id, str) or not run_id:
                return _without_run_id(runtime, run, flow_name, watch=watch)

            started.append(run_id)
            if options.verbosity >= 0:
                runtime.message(f"Started run {run_id} of flow {flow_name!r}")
            if not watch:
                return run
            return await _follow(runtime, manager, run_id, interval)

    run = _run(context, runtime, main, started)
    _print_run(runtime, run)
    context.exit(_exit_code(run) if watch else 0)


@click.command("status")
@click.argument("run_id", callback=_run_id)
@common_options
@click.pass_context
def status_command(context: click.Context, run_id: str, options: CommonOptions) -> None:
    """Print the status of the run RUN_ID."""
    runtime = Runtime(options)
    runtime.check_ready()

    async def main() -> dict[str, Any]:
        async with runtime.session() as session:
            return await FlowsManager(name=_READER_NAME, session=session).get_status(
                run_id
            )

    _print_run(runtime, _run(context, runtime, main, []))
    context.exit(0)


@click.command("watch")
@click.argument("run_id", callback=_run_id)
@_INTERVAL
@common_options
@click.pass_context
def watch_command(
    context: click.Context, run_id: str, interval: float, options: CommonOptions
) -> None:
    """Follow the run RUN_ID until it ends; exit 1 unless it succeeded."""
    runtime = Runtime(options)
    runtime.check_ready()

    async def main() -> dict[str, Any]:
        async with runtime.session() as session:
            manager = FlowsManager(name=_READER_NAME, session=session)
            return await _follow(runtime, manager, run_id, interval)

    run = _run(context, runtime, main, [run_id])
    _print_run(runtime, run)
    context.exit(_exit_code(run))


def _run(
    context: click.Context,
    runtime: Runtime,
    main: Callable[[], Awaitable[dict[str, Any]]],
    run_ids: Sequence[str],
) -> dict[str, Any]:
    """Run *main*, turning aioflows errors into messages and Ctrl-C into exit 130.

    Args:
        context: The click context, for the exit code.
        runtime: The command's runtime.
        main: The command's work.
        run_ids: The run that *main* started or follows, once known. The
            Ctrl-C message gives the command that follows it again.
    """
    try:
        return runtime.run(main)
    except Interrupted:
        runtime.message(_interrupted_message(runtime.options, run_ids))
        context.exit(INTERRUPTED_EXIT_CODE)
    except RunFailed as error:
        _print_run(runtime, error.run)
        raise click.ClickException(str(error)) from None
    except LoginRequired as error:
        message = login_message([error], emulator=runtime.options.emulator)
        raise click.ClickException(message or str(error)) from None
    except (AioflowsError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def _without_run_id(
    runtime: Runtime, run: dict[str, Any], flow_name: str, *, watch: bool
) -> dict[str, Any]:
    """Return a run whose response has no run_id, or raise when --watch needs one.

    Raises:
        click.ClickException: *watch* is set, because no run_id means no
            run to follow.
    """
    if watch:
        raise click.ClickException(
            f"the response to the run request of flow {flow_name!r} has no run_id "
            f"(status {run.get('status')!r}), so --watch cannot follow the run; "
            "look for the run among the flow's runs in the Globus web app"
        )
    if runtime.options.verbosity >= 0:
        runtime.message(
            f"Started a run of flow {flow_name!r}, but the response has no run_id"
        )
    return run


def _interrupted_message(options: CommonOptions, run_ids: Sequence[str]) -> str:
    if not run_ids:
        return "Interrupted."

    run_id = run_ids[0]
    command = ["aioflows", "watch", run_id]
    if options.emulator:
        command.append("--emulator")
    if options.emulator_state is not None:
        command += ["--emulator-state", str(options.emulator_state)]
    service = "the embedded emulator" if options.emulator else "the Flows service"
    return (
        f"Interrupted. Run {run_id} goes on in {service}; "
        f"follow it with: {shlex.join(command)}"
    )


async def _follow(
    runtime: Runtime, manager: FlowsManager, run_id: str, interval: float
) -> dict[str, Any]:
    final: dict[str, Any] = {}
    last_status = None
    async for run in manager.watch_run(run_id, interval):
        final = run
        status = run.get("status")
        if status != last_status and runtime.options.verbosity >= 0:
            runtime.message(f"Run {run_id}: {status}")
        last_status = status
    return final


def _print_run(runtime: Runtime, run: Mapping[str, Any]) -> None:
    if runtime.options.json:
        click.echo(json.dumps(run, indent=2))
    elif runtime.options.verbosity >= 0:
        runtime.stdout.print(run_table(run))


def _exit_code(run: Mapping[str, Any]) -> int:
    return 0 if run.get("status") == "SUCCEEDED" else 1


def _find_spec(name: str, spec_paths: tuple[Path, ...]) -> FlowSpec | None:
    """Return the spec of NAME: a spec file path, or NAME.json under --flows."""
    try:
        candidate = Path(name)
        if candidate.suffix == ".json" and candidate.is_file():
            return load_spec(candidate)

        for path in spec_paths:
            file = path / f"{name}.json" if path.is_dir() else path
            if file.is_file() and file.stem == name:
                return load_spec(file)
    except SpecError as error:
        raise click.ClickException(str(error)) from None

    if spec_paths:
        searched = ", ".join(str(path) for path in spec_paths)
        raise click.ClickException(
            f"no spec named {name!r} ({name}.json) in {searched}"
        )
    return None


def _read_input(path: Path) -> dict[str, Any]:
    from_stdin = str(path) == "-"
    where = "stdin" if from_stdin else printable_path(path)
    try:
        # utf-8-sig drops the byte order mark that some editors write.
        text = sys.stdin.read() if from_stdin else path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise click.ClickException(
            f"--input {where}: cannot read it: {error.strerror}"
        ) from None
    except UnicodeDecodeError as error:
        raise click.ClickException(
            f"--input {where}: not valid UTF-8 at byte {error.start}; "
            "save the file as UTF-8"
        ) from None

    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"--input {where}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise click.ClickException(
            f"--input {where}: the JSON is nested too deeply to parse; "
            "flatten the run input"
        ) from None
    except ValueError as error:
        # json.loads raises a plain ValueError for an integer longer than
        # sys.get_int_max_str_digits() allows.
        raise click.ClickException(f"--input {where}: invalid JSON: {error}") from None

    if not isinstance(body, dict):
        raise click.ClickException(
            f"--input {where}: the run input must be a JSON object"
        )
    return body


def _default_body(spec: FlowSpec | None) -> dict[str, Any]:
    if spec is None or spec.run.body is None:
        return {}
    return dict(spec.run.body)
