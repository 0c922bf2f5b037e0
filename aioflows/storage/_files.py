"""Blocking helpers that create private files and directories and replace files.

Callers run these in a worker thread. Every file is created with mode 0600
and every directory with 0700 from the first system call, so no other user
can open them even for an instant. The umask can only remove bits from
those modes, and regular files are set to exactly 0600 afterwards.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
from pathlib import Path

__all__ = ["create_private_file", "make_private_dirs", "replace_file", "resolve_path"]

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700

# Some file systems do not support fsync on a directory and report one of these.
_UNSUPPORTED_FSYNC_ERRORS = frozenset(
    {errno.EINVAL, errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP)}
)


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each with mode 0700.

    Raises:
        OSError: A directory cannot be created.
    """
    missing: list[Path] = []
    current = directory
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent

    for path in reversed(missing):
        try:
            os.mkdir(path, DIRECTORY_MODE)
        except FileExistsError:
            pass  # Another process created it between the check and mkdir.
        else:
            logger.debug("Created directory %s with mode 0700", path)


def create_private_file(path: Path) -> None:
    """Create an empty file at ``path`` with mode 0600 unless it exists.

    Raises:
        OSError: The file cannot be created.
    """
    if path.exists():
        return

    try:
        descriptor = os.open(path, _create_flags(), FILE_MODE)
    except FileExistsError:
        return  # Another process created it between the check and open.
    try:
        _set_private_mode(descriptor)
    finally:
        os.close(descriptor)


def resolve_path(path: Path) -> Path:
    """Return ``path`` as an absolute path with every symbolic link followed.

    A missing file or a dangling link resolves to the path it would have, so
    callers may create it there.
    """
    return Path(os.path.realpath(path))


def replace_file(path: Path, data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` so readers never see a partial file.

    A symbolic link at ``path`` is followed and stays a link: the file it
    points to is replaced. The data goes to a new file with mode 0600 in the
    directory of that file. It is flushed and fsynced, then renamed over the
    file with ``os.replace``, and the directory is fsynced so the rename
    survives a crash. A file left behind by a crash between those steps is
    named ``.<name>.<random>.tmp``.

    Raises:
        OSError: Writing, syncing or renaming failed. The file is unchanged
            then, and the temporary file is removed.
    """
    path = resolve_path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, _create_flags(), FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _set_private_mode(file.fileno())
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

    _fsync_directory(path.parent)


def _create_flags() -> int:
    # O_BINARY and O_CLOEXEC exist only on some platforms.
    return (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_BINARY", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )


def _set_private_mode(descriptor: int) -> None:
    # A umask such as 0o277 would otherwise leave the owner without write access.
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, FILE_MODE)


def _fsync_directory(directory: Path) -> None:
    if os.name == "nt":
        return  # Windows cannot open a directory as a file.

    descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in _UNSUPPORTED_FSYNC_ERRORS:
            raise
        logger.debug("Skipped fsync of directory %s: %s", directory, error)
    finally:
        os.close(descriptor)
