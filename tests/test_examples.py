from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "first_program.py"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_first_program_succeeds(backend: str) -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE), backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "run SUCCEEDED" in completed.stdout
    assert "{'greeting': 'world'}" in completed.stdout
