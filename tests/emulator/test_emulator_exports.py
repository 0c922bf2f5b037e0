"""The public names of ``aioflows.emulator``."""

from __future__ import annotations

import aioflows.emulator


def _ruff_key(name: str) -> tuple[int, str]:
    """Order constants, then classes, then functions, as ruff's RUF022 does."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def test_emulator_all_sorted() -> None:
    names = list(aioflows.emulator.__all__)

    assert names == sorted(names, key=_ruff_key)


def test_emulator_all_importable() -> None:
    missing = [
        name
        for name in aioflows.emulator.__all__
        if not hasattr(aioflows.emulator, name)
    ]

    assert missing == []


def test_emulator_no_public_name_missing() -> None:
    public = {
        name
        for name in vars(aioflows.emulator)
        if not name.startswith("_") and name[0].isupper()
    }

    assert public - set(aioflows.emulator.__all__) == set()
