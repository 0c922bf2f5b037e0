"""Fixtures for the emulator tests: a manual clock, an emulator and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from emulator_helpers import FLOWS_URL

from aioflows.emulator import Emulator, ManualClock, RunTiming


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Emulator:
    return Emulator(clock=clock, seed=1234, timing=RunTiming(action_seconds=1.0))


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    transport = emulator.transport()
    async with httpx.AsyncClient(
        transport=transport, base_url=FLOWS_URL, headers=headers
    ) as http:
        yield http
