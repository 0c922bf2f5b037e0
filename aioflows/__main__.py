"""``python -m aioflows``: the same command line as ``aioflows``."""

from __future__ import annotations

from .cli import main

main()
