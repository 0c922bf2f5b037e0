"""Fixtures for reconcile, plan, spec and Gladier tests: a stateful mocked Flows service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import respx
from reconcile_support import FLOWS_URL, FakeFlows, hello_definition

from aioflows import FlowsManager, MemoryStorage, Session, StaticTokenProvider


@pytest.fixture
def service() -> Iterator[FakeFlows]:
    """The stateful fake Flows service; any request elsewhere fails the test."""
    fake = FakeFlows()
    with respx.mock(base_url=FLOWS_URL, assert_all_called=False) as router:
        router.route().mock(side_effect=fake.handle)
        yield fake


@pytest.fixture
def storage() -> MemoryStorage:
    """An empty in-memory storage."""
    return MemoryStorage()


@pytest.fixture
async def session(storage: MemoryStorage) -> AsyncIterator[Session]:
    """A Session without retries on the test storage."""
    tokens = StaticTokenProvider(default="tok-test")
    async with Session(tokens=tokens, storage=storage, retries=0) as session:
        yield session


@pytest.fixture
def make_manager(session: Session) -> Callable[..., FlowsManager]:
    """Build a FlowsManager on the test Session; the name doubles as the title."""

    def make(name: str, **kwargs: Any) -> FlowsManager:
        kwargs.setdefault("flow_definition", hello_definition())
        kwargs.setdefault("flow_title", name)
        return FlowsManager(session=session, name=name, **kwargs)

    return make
