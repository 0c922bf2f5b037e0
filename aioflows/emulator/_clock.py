"""Clocks that drive simulated time in the emulator.

Runs move forward on the emulator's clock, never on their own. A test that wants
full control passes a :class:`ManualClock` and advances it. The default
:class:`SystemClock` follows wall time.
"""

from __future__ import annotations

import datetime
import time
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Clock", "ManualClock", "SystemClock", "format_timestamp"]

# 2024-01-01T00:00:00Z, so manual timestamps are stable across test runs.
_MANUAL_EPOCH = 1_704_067_200.0


@runtime_checkable
class Clock(Protocol):
    """A source of the current time in seconds since the Unix epoch."""

    def now(self) -> float:
        """Return the current time in seconds since the Unix epoch."""
        ...


@attrs.define
class SystemClock:
    """A clock that reads the wall time."""

    def now(self) -> float:
        """Return the wall time in seconds since the Unix epoch."""
        return time.time()


@attrs.define
class ManualClock:
    """A clock that moves only when a test calls :meth:`advance`.

    Attributes:
        current: The time it returns, in seconds since the Unix epoch.
    """

    current: float = _MANUAL_EPOCH

    def now(self) -> float:
        """Return the time set by the last :meth:`advance`."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move the clock forward.

        Args:
            seconds: How far to move, in seconds; must not be negative.

        Raises:
            ValueError: If ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(
                f"cannot move a ManualClock backwards by {seconds} s; "
                "pass a duration of 0 or more"
            )

        self.current += seconds


def format_timestamp(seconds: float) -> str:
    """Format a time as the services do, such as ``2024-01-01T00:00:00.000000+00:00``.

    Args:
        seconds: Seconds since the Unix epoch.

    Returns:
        The ISO 8601 text in UTC with microseconds.
    """
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="microseconds")
