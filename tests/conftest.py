from __future__ import annotations

import os
from pathlib import Path

import pytest

# Flow definitions that people published, kept beside the repository; the
# tests that read them skip where the directory is absent.
REAL_FLOWS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "flows-real"


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test once on asyncio and once on trio."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the caller's Globus settings and state file out of every test."""
    for name in list(os.environ):
        if name.startswith("GLOBUS_SDK_") or name.startswith("AIOFLOWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIOFLOWS_STATE_FILE", str(tmp_path / "default-state.json"))


@pytest.fixture
def real_flows_dir() -> Path:
    """The directory of real flow specs; the test is skipped where it is absent."""
    if not REAL_FLOWS_DIR.is_dir():
        pytest.skip(f"real flow definitions not found at {REAL_FLOWS_DIR}")
    return REAL_FLOWS_DIR
