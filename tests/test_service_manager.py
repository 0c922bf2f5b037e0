from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from globus_sdk.scopes import GroupsScopes, Scope

from aioflows import (
    JSONFileStorage,
    MemoryStorage,
    ServiceManager,
    Session,
    StaticTokenProvider,
)

pytestmark = pytest.mark.anyio


class GroupsLikeManager(ServiceManager):
    """A minimal manager with one scope, standing in for a real service."""

    def _scopes_by_resource_server(self) -> Mapping[str, list[Scope]]:
        return {
            GroupsScopes.resource_server: [GroupsScopes.view_my_groups_and_memberships]
        }


async def test_uses_session_storage_and_tokens() -> None:
    storage = MemoryStorage()
    tokens = StaticTokenProvider(default="tok")
    async with Session(tokens=tokens, storage=storage) as session:
        manager = GroupsLikeManager(session=session, name="groups")

        assert manager.storage is storage
        assert manager.tokens is tokens
        assert manager.session is session


async def test_own_storage_wins_over_session() -> None:
    own = MemoryStorage()
    async with Session(storage=MemoryStorage()) as session:
        manager = GroupsLikeManager(session=session, storage=own, name="groups")

        assert manager.storage is own


async def test_set_storage_replace_false_keeps_first() -> None:
    first, second = MemoryStorage(), MemoryStorage()
    async with Session(storage=MemoryStorage()) as session:
        manager = GroupsLikeManager(session=session, name="groups")
        manager.set_storage(first)
        manager.set_storage(second, replace=False)

        assert manager.storage is first


async def test_set_storage_replace_true_swaps() -> None:
    first, second = MemoryStorage(), MemoryStorage()
    async with Session(storage=MemoryStorage()) as session:
        manager = GroupsLikeManager(session=session, storage=first, name="groups")
        manager.set_storage(second)

        assert manager.storage is second


async def test_set_token_provider_registers_scopes() -> None:
    provider = StaticTokenProvider(default="tok")
    async with Session(storage=MemoryStorage()) as session:
        manager = GroupsLikeManager(session=session, name="groups")
        manager.set_token_provider(provider)

    registered = provider.required_scopes()[GroupsScopes.resource_server]
    assert [str(scope) for scope in registered] == [
        str(GroupsScopes.view_my_groups_and_memberships)
    ]


async def test_set_token_provider_replace_false_keeps_first() -> None:
    first, second = StaticTokenProvider(default="a"), StaticTokenProvider(default="b")
    manager = GroupsLikeManager(tokens=first, storage=MemoryStorage(), name="groups")
    manager.set_token_provider(second, replace=False)

    assert manager.tokens is first
    await manager.aclose()


def test_required_scopes_are_scope_objects() -> None:
    manager = GroupsLikeManager(name="groups")

    scopes = manager.required_scopes()

    assert all(isinstance(scope, Scope) for scope in scopes)
    assert [str(scope) for scope in scopes] == [
        str(GroupsScopes.view_my_groups_and_memberships)
    ]


async def test_own_session_closed_by_aclose() -> None:
    manager = GroupsLikeManager(storage=MemoryStorage(), name="groups")
    session = manager.session

    await manager.aclose()

    assert session.closed


async def test_own_session_closed_by_context() -> None:
    async with GroupsLikeManager(storage=MemoryStorage(), name="groups") as manager:
        session = manager.session

    assert session.closed


async def test_given_session_left_open() -> None:
    async with Session(storage=MemoryStorage()) as session:
        async with GroupsLikeManager(session=session, name="groups"):
            pass

        assert not session.closed


async def test_default_storage_is_state_file(tmp_path: Path) -> None:
    manager = GroupsLikeManager(name="groups")

    storage = manager.storage

    assert isinstance(storage, JSONFileStorage)
    assert Path(storage.path) == tmp_path / "default-state.json"
    await manager.aclose()


def test_empty_name_rejected() -> None:
    with pytest.raises(ValueError, match="name"):
        GroupsLikeManager(name="  ")


def test_default_name_is_class_name() -> None:
    assert GroupsLikeManager().name == "GroupsLikeManager"
