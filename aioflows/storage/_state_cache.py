"""A cache of the last parsed state file, checked against the file at every read.

Every write of JSONFileStorage renames a new file over the state file, so
each version of the file is a new inode. A read therefore stats the file and
reuses the parsed state while the file's identity (device, inode, size,
modification and change times) is the one seen when it was parsed.

The identity alone can repeat: a file system may give a freed inode number
to the next new file, and two versions of equal size written within one
tick of the file system's clock get equal times. So an identity counts only
when the file's times were already older than ``RACY_SECONDS`` when it was
seen. Until then, a read also reads the file and compares its bytes with
the cached ones, which costs a read but no parsing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import attrs

from .._errors import StorageError
from ._state_format import State, parse_state

__all__ = ["RACY_SECONDS", "StateCache"]

logger = logging.getLogger(__name__)

# Longer than the coarsest timestamp granularity of a local file system in
# use (2 s on FAT, 1 s on ext3 and HFS+) plus a clock tick. So a version
# written after a stat cannot get the times of a version that was already
# this old at that stat.
RACY_SECONDS = 3.0

_RACY_NS = int(RACY_SECONDS * 1_000_000_000)

Identity = tuple[int, int, int, int, int]


@attrs.frozen
class _Snapshot:
    """A parsed state with the bytes it came from and the file it was read from."""

    state: State
    data: bytes
    # None when the identity is unknown or may repeat, so reads compare bytes.
    identity: Identity | None


@attrs.define(eq=False)
class StateCache:
    """The last state read from or written to one state file.

    Thread-safe: worker threads of any event loop may call it at once. The
    states it returns are shared and must not be mutated.
    """

    _snapshot: _Snapshot | None = attrs.field(default=None, init=False)
    # Held for a whole read, so threads that read a changed file together
    # parse it once.
    _mutex: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def read(self, path: Path, reported_path: Path) -> State:
        """Return the state in ``path``, parsing the file only when it changed.

        Blocking: call it from a worker thread. A missing file reads as empty.

        Args:
            path: The file to read.
            reported_path: The path to name in errors.

        Raises:
            StorageError: The file cannot be read, is not valid JSON or is
                not an object of objects.
        """
        with self._mutex:
            try:
                status = os.stat(path)
            except FileNotFoundError:
                return {}
            except OSError as error:
                raise _read_error(reported_path, error) from error

            snapshot = self._snapshot
            if snapshot is not None and snapshot.identity == _identity(status):
                return snapshot.state
            return self._read_changed(path, reported_path, snapshot)

    def remember(self, state: State, data: bytes) -> None:
        """Record ``state`` as the content ``data`` that was just written.

        The written file's identity is left unknown, so the next read compares
        bytes and takes the identity from the file it reads.
        """
        with self._mutex:
            self._snapshot = _Snapshot(state, data, identity=None)

    def _read_changed(
        self, path: Path, reported_path: Path, snapshot: _Snapshot | None
    ) -> State:
        started_ns = time.time_ns()
        try:
            with open(path, "rb") as file:
                status = os.fstat(file.fileno())
                data = file.read()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise _read_error(reported_path, error) from error

        if snapshot is not None and snapshot.data == data:
            state = snapshot.state
        else:
            state = parse_state(data, reported_path)
            logger.debug("Parsed %s (%d bytes)", reported_path, len(data))

        identity = _identity(status) if _settled(status, started_ns) else None
        self._snapshot = _Snapshot(state, data, identity)
        return state


def _identity(status: os.stat_result) -> Identity:
    return (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


def _settled(status: os.stat_result, started_ns: int) -> bool:
    # A version that replaces the file after started_ns gets a change time of
    # at least started_ns minus the clock's granularity, because Linux file
    # systems update it on rename, so it cannot repeat these times.
    # NOTE: where rename leaves the change time alone, a version written more
    # than RACY_SECONDS before its rename could repeat them. Writers here
    # rename right after the fsync.
    changed_ns = max(status.st_mtime_ns, status.st_ctime_ns)
    return changed_ns < started_ns - _RACY_NS


def _read_error(path: Path, error: OSError) -> StorageError:
    return StorageError(
        f"Cannot read the state file {path}: {error.strerror or error}. "
        f"Check that it is a file this user may read.",
        path=str(path),
    )
