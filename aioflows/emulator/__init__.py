"""A local emulator of the Globus Flows, Groups and Auth APIs.

Use it for offline development, tests, demos and benchmarks::

    emulator = Emulator()
    async with httpx.AsyncClient(transport=emulator.transport()) as client:
        ...

or serve it on the loopback interface with :meth:`Emulator.serve` or the
``aioflows emulator serve`` command. ``docs/emulator.md`` lists what is
emulated, what is not, and every knob.
"""

from __future__ import annotations

from ._clock import Clock, ManualClock, SystemClock
from ._emulator import Emulator, Subscription
from ._engine import RunTiming
from ._faults import Fault, FaultKind, FaultPlan, Latency, RateLimit
from ._http import EmulatorRequest, EmulatorResponse
from ._pipeline import Outcome
from ._requestlog import LoggedRequest, RequestLog
from ._server import RunningServer
from ._state import ROUTES
from ._statefile import StateFileError
from ._transport import EmulatorTransport

__all__ = [
    "ROUTES",
    "Clock",
    "Emulator",
    "EmulatorRequest",
    "EmulatorResponse",
    "EmulatorTransport",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Latency",
    "LoggedRequest",
    "ManualClock",
    "Outcome",
    "RateLimit",
    "RequestLog",
    "RunTiming",
    "RunningServer",
    "StateFileError",
    "Subscription",
    "SystemClock",
]
