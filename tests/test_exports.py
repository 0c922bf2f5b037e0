from __future__ import annotations

import inspect

import aioflows


def _isort_key(name: str) -> tuple[int, str]:
    """Order constants, then classes, then functions, as ruff's RUF022 does."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def test_all_sorted() -> None:
    names = list(aioflows.__all__)

    assert names == sorted(names, key=_isort_key)


def test_all_names_importable() -> None:
    missing = [name for name in aioflows.__all__ if not hasattr(aioflows, name)]

    assert missing == []


def test_no_public_name_left_out() -> None:
    public = {
        name
        for name, value in vars(aioflows).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name not in {"annotations", "logging"}
    }

    assert public - set(aioflows.__all__) == set()


def test_classes_show_package_module() -> None:
    assert aioflows.Session.__module__ == "aioflows"
    assert aioflows.FlowsManager.__module__ == "aioflows"
    assert aioflows.APIError.__module__ == "aioflows"
