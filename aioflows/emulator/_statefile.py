"""Reading and atomically writing the emulator's JSON state file.

These functions block; callers run them in a worker thread.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["StateFileError", "encode_state", "read_state_file", "write_state_file"]


class StateFileError(ValueError):
    """A state file that cannot be read as emulator state."""


def encode_state(document: dict[str, Any]) -> bytes:
    """Encode a state document as pretty-printed JSON with sorted keys."""
    return json.dumps(document, indent=2, sort_keys=True).encode()


def write_state_file(path: Path, data: bytes) -> None:
    """Replace a file with encoded state, atomically and readable by its owner only.

    The document goes to a temporary file in the same directory, created
    with mode 0600, which is flushed, synced and renamed over the target, so
    a reader sees the old file or the new one and never a partial one.

    Args:
        path: The state file.
        data: The encoded state, from :func:`encode_state`.

    Raises:
        OSError: If the directory is not writable.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file with O_EXCL and mode 0600 under a unique name.
    descriptor, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_state_file(path: Path) -> dict[str, Any] | None:
    """Read a state file.

    Args:
        path: The state file.

    Returns:
        The JSON document, or None when the file does not exist.

    Raises:
        StateFileError: If the file cannot be read, is not UTF-8 or is not a
            JSON object.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(
            f"cannot read emulator state file {path}: {exc.strerror or exc}; "
            "pass a path to a readable file, or to a new file in an existing directory"
        ) from exc

    try:
        document = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # ValueError covers text that is not UTF-8 and RecursionError
        # covers JSON nested too deeply for the parser.
        raise StateFileError(
            f"emulator state file {path} is not valid UTF-8 JSON ({exc}); "
            "fix it or move it away to start with an empty state"
        ) from exc

    if not isinstance(document, dict):
        raise StateFileError(
            f"emulator state file {path} does not hold a JSON object; "
            "fix it or move it away to start with an empty state"
        )
    return document
