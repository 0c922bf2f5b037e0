"""Fixtures for the hardening tests: an emulator, a Session on it, fake sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import respx
from hardening_support import FLOWS_URL, NO_WAIT_RETRIES, pass_definition

from aioflows import (
    FlowsManager,
    MemoryStorage,
    Session,
    StaticTokenProvider,
)
from aioflows.emulator import Emulator, ManualClock, RunTiming


@pytest.fixture
def clock() -> ManualClock:
    """The emulator's clock, moved only by the test."""
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Emulator:
    """A seeded emulator whose runs end as soon as they start."""
    return Emulator(clock=clock, seed=11, timing=RunTiming(action_seconds=0))


@pytest.fixture
def storage() -> MemoryStorage:
    """An empty in-memory storage."""
    return MemoryStorage()


@pytest.fixture
async def session(emulator: Emulator, storage: MemoryStorage) -> AsyncIterator[Session]:
    """A Session on the emulator's in-process transport, retrying without waits."""
    tokens = StaticTokenProvider(default=emulator.static_token)
    async with Session(
        tokens=tokens,
        storage=storage,
        transport=emulator.transport(),
        retries=NO_WAIT_RETRIES,
    ) as session:
        yield session


@pytest.fixture
def make_manager(session: Session) -> Callable[..., FlowsManager]:
    """Build FlowsManagers on the emulator Session, named "hardened" by default."""

    def make(**kwargs: Any) -> FlowsManager:
        kwargs.setdefault("flow_definition", pass_definition())
        kwargs.setdefault("name", "hardened")
        return FlowsManager(session=session, **kwargs)

    return make


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A mocked Flows service, where a request to an unmocked route fails the test."""
    with respx.mock(base_url=FLOWS_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def mocked_session(
    storage: MemoryStorage, api: respx.MockRouter
) -> AsyncIterator[Session]:
    """A Session without retries whose requests go to the ``api`` mock."""
    tokens = StaticTokenProvider(default="tok-hardening")
    async with Session(tokens=tokens, storage=storage, retries=0) as session:
        yield session


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every anyio.sleep and return at once, so waits cost no time."""
    recorded: list[float] = []

    async def record_sleep(seconds: float) -> None:
        recorded.append(seconds)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(anyio, "sleep", record_sleep)
    return recorded
