"""Fixtures for end-to-end tests: an emulator on a manual clock and Sessions on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import ACTION_SECONDS, FLOWS_URL, EmulatorView, pass_definition

from aioflows import (
    FlowsManager,
    MemoryStorage,
    RetryPolicy,
    Session,
    StaticTokenProvider,
    Storage,
    TokenProvider,
)
from aioflows.emulator import Emulator, ManualClock, RunTiming

# The same directory as the real_flows_dir fixture of tests/conftest.py, read
# here at collection time so that each real flow becomes its own test case.
_REAL_FLOWS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "flows-real"

SessionFactory = Callable[..., Session]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give a test that takes ``real_flow_name`` one case per real flow file."""
    if "real_flow_name" not in metafunc.fixturenames:
        return
    names = sorted(path.stem for path in _REAL_FLOWS_DIR.glob("*.json"))
    # Without the directory one placeholder case remains, and the
    # real_flows_dir fixture skips it.
    metafunc.parametrize("real_flow_name", names or ["absent"])


@pytest.fixture
def clock() -> ManualClock:
    """The emulator clock, which moves only when a test advances it."""
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Emulator:
    """A fresh emulator with fixed ids, whose Action states take one second."""
    return Emulator(
        clock=clock, seed=2024, timing=RunTiming(action_seconds=ACTION_SECONDS)
    )


@pytest.fixture
def view(emulator: Emulator) -> EmulatorView:
    """Reads of the emulator's flows and runs that its counters do not see."""
    return EmulatorView(emulator)


@pytest.fixture
def retries() -> RetryPolicy:
    """Three retries with millisecond waits, so retry tests stay fast."""
    return RetryPolicy(retries=3, initial_delay=0.001, max_delay=0.01, jitter=0)


@pytest.fixture
def storage() -> MemoryStorage:
    """An empty in-memory storage for the default Session."""
    return MemoryStorage()


@pytest.fixture
def tokens(emulator: Emulator) -> StaticTokenProvider:
    """The emulator's development token, accepted for every resource server."""
    return StaticTokenProvider(default=emulator.static_token)


@pytest.fixture
async def make_session(
    emulator: Emulator, tokens: StaticTokenProvider, retries: RetryPolicy
) -> AsyncIterator[SessionFactory]:
    """Build Sessions on the emulator, each closed after the test.

    Keyword arguments replace the defaults: ``storage`` (a new
    MemoryStorage), ``tokens`` (the development token), ``retries`` (the
    fast policy) and ``transport`` (the emulator's in-process transport).
    """
    sessions: list[Session] = []
    default_tokens = tokens
    default_retries = retries

    def make(
        *,
        storage: Storage | None = None,
        tokens: TokenProvider | None = None,
        retries: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Session:
        session = Session(
            tokens=tokens if tokens is not None else default_tokens,
            storage=storage if storage is not None else MemoryStorage(),
            transport=transport if transport is not None else emulator.transport(),
            retries=retries if retries is not None else default_retries,
        )
        sessions.append(session)
        return session

    yield make

    for session in sessions:
        await session.aclose()


@pytest.fixture
def session(make_session: SessionFactory, storage: MemoryStorage) -> Session:
    """The default Session: development token, fast retries, ``storage``."""
    return make_session(storage=storage)


@pytest.fixture
def make_manager(session: Session) -> Callable[..., FlowsManager]:
    """Build FlowsManagers on the default Session.

    The defaults are ``name="e2e-flow"`` and a one-state Pass definition;
    keyword arguments replace them and pass through to FlowsManager.
    """

    def make(**kwargs: Any) -> FlowsManager:
        kwargs.setdefault("name", "e2e-flow")
        kwargs.setdefault("flow_definition", pass_definition())
        kwargs.setdefault("session", session)
        return FlowsManager(**kwargs)

    return make


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the emulator, as a second program or user would use."""
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=FLOWS_URL, headers=headers
    ) as client:
        yield client
