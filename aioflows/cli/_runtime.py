"""The context of one command: state paths, credentials, a Session, an event loop."""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs
import click
from rich.console import Console
from rich.logging import RichHandler

from .._paths import default_state_path
from .._printable import printable_path
from .._session import Session
from ..auth import StaticTokenProvider
from ..storage import JSONFileStorage
from ._offline import NoRequestTokens
from ._options import CommonOptions

if TYPE_CHECKING:
    from ..emulator import Emulator

__all__ = [
    "EMULATOR_DIRECTORY",
    "INTERRUPTED_EXIT_CODE",
    "TOKEN_VARIABLE",
    "Interrupted",
    "Runtime",
]

TOKEN_VARIABLE = "AIOFLOWS_ACCESS_TOKEN"
EMULATOR_DIRECTORY = Path(".aioflows")
INTERRUPTED_EXIT_CODE = 130

_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}

T = TypeVar("T")

_NO_CREDENTIALS = f"""\
No credentials for the Globus services: {TOKEN_VARIABLE} is not set and \
--emulator was not given.

- To try aioflows on this machine, add --emulator: an embedded emulator \
responds in place of Globus, with its state in ./.aioflows/.
- To use a real or loopback service, set {TOKEN_VARIABLE} to an access token \
(for example the one that 'aioflows emulator serve' prints), and for a \
loopback emulator set GLOBUS_SDK_SERVICE_URL_FLOWS to its URL.

Interactive login ('aioflows login') is not available yet."""


class Interrupted(Exception):
    """Raised by :meth:`Runtime.run` when the user pressed Ctrl-C."""


@attrs.define
class Runtime:
    """Builds what a command needs from its :class:`CommonOptions`.

    Both consoles print text as it is, without rich markup, because flow
    names, titles and error messages may contain square brackets.

    Args:
        options: The command's shared options.
        stderr: The console for progress, logs and messages.
        stdout: The console for tables and JSON.
        log_filters: Filters added to the log handler of :meth:`run`.
    """

    options: CommonOptions
    stderr: Console = attrs.field(factory=lambda: Console(stderr=True, markup=False))
    stdout: Console = attrs.field(factory=lambda: _output_console())
    log_filters: tuple[logging.Filter, ...] = ()

    @property
    def state_path(self) -> Path:
        """The state file to use."""
        if self.options.state is not None:
            return self.options.state.expanduser().absolute()
        if self.options.emulator:
            return (EMULATOR_DIRECTORY / "state.json").absolute()
        return default_state_path()

    @property
    def emulator_path(self) -> Path:
        """The embedded emulator's state file."""
        if self.options.emulator_state is not None:
            return self.options.emulator_state.expanduser().absolute()
        return (EMULATOR_DIRECTORY / "emulator.json").absolute()

    def message(self, text: str) -> None:
        """Print *text* on stderr as it is: no markup, and one line per line of *text*.

        Rich would wrap long lines at 80 columns off a terminal, which
        splits messages that tools and users search for.
        """
        self.stderr.print(text, soft_wrap=True)

    def storage(self) -> JSONFileStorage:
        """Return the storage of the state file."""
        return JSONFileStorage(self.state_path)

    def check_ready(self, *, offline: str | None = None) -> None:
        """Fail before any request when neither credentials nor ``--emulator`` are given.

        Args:
            offline: The command line, such as ``"sync --dry-run"``, when
                the command sends no request and so needs no token; None
                when it needs one.

        Raises:
            click.ClickException: No token and no emulator, or the chosen
                backend or the emulator is not installed.
        """
        if self.options.backend == "trio" and importlib.util.find_spec("trio") is None:
            raise click.UsageError("--backend trio needs trio: pip install trio")
        if self.options.emulator:
            _import_emulator()
            return
        if offline is None and not os.environ.get(TOKEN_VARIABLE):
            raise click.ClickException(_NO_CREDENTIALS)

    @asynccontextmanager
    async def session(self, *, offline: str | None = None) -> AsyncIterator[Session]:
        """Open the Session of this command; with ``--emulator``, save its state at the end.

        Args:
            offline: The command line of a command that sends no request.
                Without ``--emulator``, its Session gets no token at all,
                so a request sent by mistake fails instead of going out.
        """
        self.check_ready(offline=offline)
        if not self.options.emulator:
            tokens = (
                NoRequestTokens(offline)
                if offline is not None
                else StaticTokenProvider(default=os.environ[TOKEN_VARIABLE])
            )
            async with Session(tokens=tokens, storage=self.storage()) as session:
                yield session
            return

        emulator = await self._load_emulator()
        if self.options.verbosity >= 0:
            self.message(
                "Using the embedded emulator, with its state in "
                f"{_shown(self.emulator_path)}; no request leaves this machine."
            )
        try:
            tokens = StaticTokenProvider(default=emulator.static_token)
            transport = emulator.transport()
            async with Session(
                tokens=tokens, storage=self.storage(), transport=transport
            ) as session:
                yield session
        finally:
            # Saved even on Ctrl-C or an error, so the emulator's flows stay in
            # step with the state file that already records them.
            with anyio.CancelScope(shield=True):
                await self._save_emulator(emulator)

    def run(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run *main* on the chosen backend with logging set up.

        Raises:
            Interrupted: The user pressed Ctrl-C.
        """
        with self.logging():
            try:
                return anyio.run(main, backend=self.options.backend)
            except BaseException as error:
                if _contains_interrupt(error):
                    raise Interrupted from None
                raise

    @contextmanager
    def logging(self) -> Iterator[None]:
        """Send aioflows' log records to stderr at the level of ``-v``/``-q``."""
        logger = logging.getLogger("aioflows")
        handler = RichHandler(
            console=self.stderr, show_time=False, show_path=False, markup=False
        )
        for log_filter in self.log_filters:
            handler.addFilter(log_filter)
        previous_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(_LEVELS[self.options.verbosity])
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous_level)

    async def _load_emulator(self) -> Emulator:
        """Load the emulator state, and check that it can be saved again.

        The check comes before any request, so an unwritable path fails
        the command before flows are created and recorded in the state
        file that the emulator could then not keep.

        Raises:
            click.ClickException: The state file is invalid, or its path
                cannot be read or written.
        """
        emulator_class = _import_emulator()
        path = self.emulator_path
        try:
            emulator: Emulator = await emulator_class.load(path)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            raise click.ClickException(
                _emulator_state_message(path, "read", error)
            ) from None

        try:
            await anyio.to_thread.run_sync(_check_writable_directory, path.parent)
        except OSError as error:
            raise click.ClickException(
                _emulator_state_message(path, "write", error)
            ) from None
        return emulator

    async def _save_emulator(self, emulator: Emulator) -> None:
        # Emulator.save logs the path itself.
        path = self.emulator_path
        try:
            await emulator.save(path)
        except OSError as error:
            raise click.ClickException(
                _emulator_state_message(path, "write", error)
            ) from None


def _check_writable_directory(directory: Path) -> None:
    """Create *directory* as Emulator.save would, and check that files can go in it.

    Raises:
        OSError: The directory cannot be created, or is not writable.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(directory))


def _emulator_state_message(path: Path, action: str, error: OSError) -> str:
    return (
        f"cannot {action} the emulator state file {printable_path(path)}: "
        f"{error.strerror or error}; pass --emulator-state with the path of a "
        "file that you can write, in a directory that exists or can be created"
    )


def _shown(path: Path) -> str:
    """Return *path* relative to the working directory when it is below it."""
    try:
        return os.path.join(os.curdir, path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _contains_interrupt(error: BaseException) -> bool:
    """Return whether *error* is a KeyboardInterrupt or a group that contains one.

    trio raises Ctrl-C inside whichever task runs, so a task group can wrap
    it in an exception group together with other errors.
    """
    if isinstance(error, KeyboardInterrupt):
        return True
    children = getattr(error, "exceptions", None)
    if not isinstance(children, tuple):
        return False
    return any(_contains_interrupt(child) for child in children)


def _import_emulator() -> Any:
    try:
        from ..emulator import Emulator
    except ImportError as error:
        raise click.ClickException(
            f"the embedded emulator is not available: {error}"
        ) from None
    return Emulator


# Tables written to a file or a pipe use this width, so that flow ids, which
# are never wrapped, leave room for names instead of rich's default of 80.
_PIPE_WIDTH = 160


def _output_console() -> Console:
    console = Console(markup=False)
    if not console.is_terminal:
        console = Console(width=_PIPE_WIDTH, markup=False)
    return console
