"""Values and helpers shared by the hardening tests."""

from __future__ import annotations

from typing import Any

from aioflows import RetryPolicy

FLOWS_URL = "https://flows.automate.globus.org"

# Retries without waits, so fault tests cost no time.
NO_WAIT_RETRIES = RetryPolicy(retries=3, initial_delay=0, max_delay=0, jitter=0)


def pass_definition(state: str = "Hello") -> dict[str, Any]:
    """Return a one-state flow definition whose state is named *state*."""
    return {
        "StartAt": state,
        "States": {state: {"Type": "Pass", "Result": {"said": state}, "End": True}},
    }
