"""Where aioflows keeps its state when the caller gives none."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["STATE_FILE_VARIABLE", "default_state_path"]

STATE_FILE_VARIABLE = "AIOFLOWS_STATE_FILE"


def default_state_path() -> Path:
    """Return the state file to use when none is given.

    ``AIOFLOWS_STATE_FILE`` wins when set; otherwise ``state.json`` in the
    user's data directory (``~/.local/share/aioflows`` on Linux).
    """
    override = os.environ.get(STATE_FILE_VARIABLE)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path("aioflows") / "state.json"
