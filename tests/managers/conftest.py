"""Fixtures for FlowsManager tests: a mocked Flows service, a Session, managers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import attrs
import pytest
import respx
from globus_sdk.scopes import SpecificFlowScopes

from aioflows import FlowsManager, MemoryStorage, Session, StaticTokenProvider

FLOWS_URL = "https://flows.automate.globus.org"
FLOWS_RESOURCE_SERVER = "flows.globus.org"
FLOWS_TOKEN = "tok-flows"


@attrs.frozen
class FlowIds:
    """Fixed ids used across the tests, each a valid lower-case UUID."""

    old: str = "0a0a0a0a-0000-4000-8000-000000000001"
    new: str = "0b0b0b0b-0000-4000-8000-000000000002"
    other: str = "0c0c0c0c-0000-4000-8000-000000000003"
    run: str = "0d0d0d0d-0000-4000-8000-000000000004"
    group1: str = "01010101-0000-4000-8000-000000000011"
    group2: str = "02020202-0000-4000-8000-000000000012"
    subscription: str = "05050505-0000-4000-8000-000000000015"
    identity: str = "06060606-0000-4000-8000-000000000016"

    def token(self, flow_id: str) -> str:
        """Return the access token the tests give to the flow *flow_id*."""
        return f"tok-run-{flow_id[:4]}"

    def scope(self, flow_id: str) -> str:
        """Return the scope string of the flow *flow_id*."""
        return str(SpecificFlowScopes(flow_id).user)


StoreFlow = Callable[..., Awaitable[None]]


@pytest.fixture
def ids() -> FlowIds:
    """Fixed flow, run, group and subscription ids."""
    return FlowIds()


@pytest.fixture
def definition() -> dict[str, Any]:
    """A small valid flow definition."""
    return {
        "Comment": "Say hello",
        "StartAt": "Hello",
        "States": {
            "Hello": {"Type": "Pass", "Result": {"greeting": "hello"}, "End": True},
        },
    }


@pytest.fixture
def storage() -> MemoryStorage:
    """An empty in-memory storage."""
    return MemoryStorage()


@pytest.fixture
def tokens(ids: FlowIds) -> StaticTokenProvider:
    """Distinct tokens for flow management and for running each known flow.

    There is no default token, so a request for any other resource server
    raises LoginRequired instead of being sent.
    """
    return StaticTokenProvider(
        {
            FLOWS_RESOURCE_SERVER: FLOWS_TOKEN,
            ids.old: ids.token(ids.old),
            ids.new: ids.token(ids.new),
            ids.other: ids.token(ids.other),
        }
    )


@pytest.fixture
async def session(
    tokens: StaticTokenProvider, storage: MemoryStorage, api: respx.MockRouter
) -> AsyncIterator[Session]:
    """A Session without retries, closed after the test.

    It sends through its default pooled transport, which respx intercepts;
    depending on ``api`` keeps every request of every test inside the mock.
    """
    async with Session(tokens=tokens, storage=storage, retries=0) as session:
        yield session


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The mocked Flows service; a request to any unmocked route fails the test."""
    with respx.mock(base_url=FLOWS_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def make_manager(
    session: Session, definition: dict[str, Any]
) -> Callable[..., FlowsManager]:
    """Build FlowsManagers on the test Session, named "test-flow" by default."""

    def make(**kwargs: Any) -> FlowsManager:
        kwargs.setdefault("flow_definition", definition)
        kwargs.setdefault("name", "test-flow")
        return FlowsManager(session=session, **kwargs)

    return make


@pytest.fixture
def store_flow(storage: MemoryStorage) -> StoreFlow:
    """Store a flow id for a manager, with its current checksum unless given."""

    async def store(
        manager: FlowsManager, flow_id: str, checksum: str | None = None
    ) -> None:
        value = checksum if checksum is not None else manager.checksum()
        await storage.set_many(
            manager.name, {"flow_id": flow_id, "flow_checksum": value}
        )

    return store
