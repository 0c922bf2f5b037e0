"""The ``aioflows emulator`` command group, with its ``serve`` command."""

from __future__ import annotations

import contextlib
import logging
import shlex
import signal
import sys
from pathlib import Path

import anyio
import click

from ._emulator import Emulator
from ._faults import Latency
from ._server import RunningServer, is_loopback
from ._statefile import StateFileError
from ._tokens import check_static_token

__all__ = ["emulator"]

logger = logging.getLogger(__name__)

_SERVICES = ("FLOWS", "GROUPS", "AUTH")


@click.group(name="emulator")
def emulator() -> None:
    """Run a local emulator of the Globus Flows, Groups and Auth APIs."""


@emulator.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; a loopback address unless --allow-remote-host is given.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="TCP port to listen on; 0 picks a free port.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file to load the state from at start and save it to at stop.",
)
@click.option(
    "--token",
    help="Static development token of visible ASCII characters, accepted for every service as the default user. Default: a new random token at each start, printed in the banner.",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Delay added to every request, in seconds.",
)
@click.option(
    "--allow-remote-host",
    is_flag=True,
    help="Allow a non-loopback --host. Anyone who can connect gets the token's access.",
)
def serve(
    host: str,
    port: int,
    state_path: Path | None,
    token: str | None,
    latency: float,
    allow_remote_host: bool,
) -> None:
    """Serve the Flows, Groups and Auth APIs on one local HTTP server until Ctrl-C."""
    if not allow_remote_host and not is_loopback(host):
        raise click.BadParameter(
            f"{host!r} is not a loopback address; use 127.0.0.1, or add --allow-remote-host to expose the emulator and its token to the network",
            param_hint="--host",
        )

    if token is not None:
        try:
            check_static_token(token, "the token")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--token") from exc

    try:
        anyio.run(_serve, host, port, state_path, token, latency, allow_remote_host)
    except StateFileError as exc:
        raise click.ClickException(str(exc)) from exc


async def _serve(
    host: str,
    port: int,
    state_path: Path | None,
    token: str | None,
    latency: float,
    allow_remote_host: bool,
) -> None:
    knob = Latency(latency)
    if state_path is None:
        instance = Emulator(static_token=token, latency=knob)
    else:
        instance = await Emulator.load(state_path, static_token=token, latency=knob)
        # Saving once before serving makes an unwritable --state path fail
        # now, not at Ctrl-C after the session's state has built up.
        await _save(instance, state_path)

    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with contextlib.AsyncExitStack() as stack:
            server = await _listen(stack, instance, host, port, allow_remote_host)
            _print_banner(server.url, instance, fixed_token=token is not None)
            async for received in signals:
                logger.info("Emulator server stopping on signal %s", received)
                break

    if state_path is not None:
        await _save(instance, state_path)
        click.echo(f"Saved the emulator state to {state_path}")


async def _listen(
    stack: contextlib.AsyncExitStack,
    instance: Emulator,
    host: str,
    port: int,
    allow_remote_host: bool,
) -> RunningServer:
    # Only binding is wrapped, so an OSError from loading or saving the
    # state is never reported as a port problem.
    try:
        return await stack.enter_async_context(
            instance.serve(host, port, allow_remote_host=allow_remote_host)
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc}; pick another --port, or 0 for a free one"
        ) from exc


async def _save(instance: Emulator, state_path: Path) -> None:
    try:
        await instance.save(state_path)
    except OSError as exc:
        raise click.ClickException(
            f"cannot save the emulator state to {state_path}: {exc.strerror or exc}; "
            "pass a --state path in a writable directory"
        ) from exc


def _print_banner(url: str, instance: Emulator, *, fixed_token: bool) -> None:
    # The token is printed once here because the user needs it to connect; it is never logged.
    click.echo(f"aioflows emulator listening on {url}")
    click.echo(
        f"Development token for user {instance.identity_id}: {instance.static_token}"
    )
    if not fixed_token:
        click.echo("The token changes at each start; pass --token to keep one.")
    click.echo("Point the aioflows command line and other Globus clients at it with:")
    click.echo(f"  export AIOFLOWS_ACCESS_TOKEN={shlex.quote(instance.static_token)}")
    for service in _SERVICES:
        click.echo(f"  export GLOBUS_SDK_SERVICE_URL_{service}={url}/")
    click.echo("Press Ctrl-C to stop.")
    sys.stdout.flush()
