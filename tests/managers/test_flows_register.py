"""Deploying flows: sync_flow, register_flow, on_change, 404 redeploys, scopes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
import respx

from aioflows import (
    APIError,
    FlowObsolete,
    FlowsManager,
    MemoryStorage,
    NoFlowRegistered,
    RegistrationError,
    Session,
    StaticTokenProvider,
)

if TYPE_CHECKING:
    from conftest import FlowIds, StoreFlow

pytestmark = pytest.mark.anyio

FLOWS_URL = "https://flows.automate.globus.org/"

PERMISSIVE = {"additionalProperties": True}


def sent_json(call: Any) -> Any:
    return json.loads(call.request.content)


def created(ids: FlowIds, flow_id: str) -> httpx.Response:
    return httpx.Response(
        201, json={"id": flow_id, "globus_auth_scope": ids.scope(flow_id)}
    )


def stored_checksum_of(body: dict[str, Any]) -> str:
    """Return the checksum of a create or update body, as the manager stores it."""
    fields = {
        key: value
        for key, value in body.items()
        if key not in ("definition", "input_schema")
    }
    return FlowsManager.get_flow_checksum(
        body["definition"], body["input_schema"], fields
    )


# Create and update


async def test_sync_empty_creates_once(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager(flow_title="T1").sync_flow()

    assert create.call_count == 1


async def test_sync_create_body_exact(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    definition: dict[str, Any],
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager(flow_title="T1").sync_flow()

    assert sent_json(create.calls.last) == {
        "title": "T1",
        "definition": definition,
        "input_schema": PERMISSIVE,
    }


async def test_sync_create_uses_flows_token(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager().sync_flow()

    assert create.calls.last.request.headers["Authorization"] == "Bearer tok-flows"


async def test_sync_create_returns_id(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))

    assert await make_manager().sync_flow() == ids.new


async def test_sync_create_stores_sent_checksum(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager(
        flow_title="T1", globus_group=ids.group1, flow_kwargs={"description": "v1"}
    )

    await manager.sync_flow()

    assert await storage.items("test-flow") == {
        "flow_id": ids.new,
        "flow_checksum": stored_checksum_of(sent_json(create.calls.last)),
        "flows_url": FLOWS_URL,
    }


async def test_sync_after_create_sends_nothing(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager()
    await manager.sync_flow()

    await manager.sync_flow()

    assert api.calls.call_count == 1


async def test_sync_current_sends_nothing(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    assert await manager.sync_flow() == ids.old
    assert api.calls.call_count == 0


async def test_sync_obsolete_updates_stored_id(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    update = api.put(f"/flows/{ids.old}").respond(200, json={"id": ids.old})
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    assert await manager.sync_flow() == ids.old
    assert update.call_count == 1
    assert update.calls.last.request.headers["Authorization"] == "Bearer tok-flows"


async def test_sync_update_stores_new_checksum(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    update = api.put(f"/flows/{ids.old}").respond(200, json={"id": ids.old})
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    await manager.sync_flow()

    assert await storage.items("test-flow") == {
        "flow_id": ids.old,
        "flow_checksum": stored_checksum_of(sent_json(update.calls.last)),
        "flows_url": FLOWS_URL,
    }


async def test_create_and_update_send_same_body(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    update = api.put(f"/flows/{ids.old}").respond(200, json={"id": ids.old})
    options: dict[str, Any] = {
        "flow_title": "T1",
        "globus_group": ids.group1,
        "subscription_id": ids.subscription,
        "flow_kwargs": {"description": "v1", "keywords": ["k1"]},
    }
    creating = make_manager(name="created", **options)
    updating = make_manager(name="updated", **options)
    await store_flow(updating, ids.old, checksum="0" * 64)

    await creating.sync_flow()
    await updating.sync_flow()

    assert sent_json(create.calls.last) == sent_json(update.calls.last)


async def test_explicit_id_unstored_updates(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    update = api.put(f"/flows/{ids.old}").respond(200, json={"id": ids.old})
    manager = make_manager(flow_id=ids.old)

    await manager.sync_flow()
    await manager.sync_flow()

    assert update.call_count == 1
    assert await storage.get("test-flow", "flow_id") == ids.old


async def test_register_flow_always_sends(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    update = api.put(f"/flows/{ids.old}").respond(200, json={"id": ids.old})
    manager = make_manager()
    await store_flow(manager, ids.old)

    assert await manager.register_flow() == ids.old
    assert update.call_count == 1


async def test_register_flow_create_returns_id(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))

    assert await make_manager().register_flow() == ids.new


async def test_register_without_definition_raises(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    manager = make_manager(flow_definition=None)

    with pytest.raises(ValueError, match="no flow_definition"):
        await manager.register_flow()
    assert api.calls.call_count == 0


async def test_title_defaults_to_name(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager(name="hello-flow").sync_flow()

    assert sent_json(create.calls.last)["title"] == "hello-flow"


async def test_create_error_stores_nothing(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    storage: MemoryStorage,
) -> None:
    api.post("/flows").respond(400, json={"error": {"code": "BAD_REQUEST"}})

    with pytest.raises(APIError):
        await make_manager().sync_flow()
    assert await storage.items("test-flow") == {}


async def test_create_bad_id_rejected(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    storage: MemoryStorage,
) -> None:
    api.post("/flows").respond(201, json={"id": "not-a-uuid"})

    with pytest.raises(ValueError, match="the id of the created flow"):
        await make_manager().sync_flow()
    assert await storage.items("test-flow") == {}


# Roles, subscription and flow_kwargs


async def test_group_sets_three_role_lists(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    urn = f"urn:globus:groups:id:{ids.group1}"

    await make_manager(globus_group=ids.group1).sync_flow()

    body = sent_json(create.calls.last)
    assert body["flow_viewers"] == [urn]
    assert body["flow_starters"] == [urn]
    assert body["flow_administrators"] == [urn]


async def test_no_group_sends_no_roles(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager().sync_flow()

    assert "flow_viewers" not in sent_json(create.calls.last)


async def test_flow_kwargs_override_group_roles(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager(
        globus_group=ids.group1, flow_kwargs={"flow_viewers": ["public"]}
    )

    await manager.sync_flow()

    body = sent_json(create.calls.last)
    assert body["flow_viewers"] == ["public"]
    assert body["flow_starters"] == [f"urn:globus:groups:id:{ids.group1}"]


async def test_flow_kwargs_override_logs_keys(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager(
        globus_group=ids.group1,
        flow_kwargs={"flow_viewers": ["public"], "flow_starters": []},
    )
    caplog.set_level(logging.WARNING, logger="aioflows")

    await manager.sync_flow()

    warnings = [r.getMessage() for r in caplog.records if "override" in r.getMessage()]
    assert len(warnings) == 1
    assert "flow_starters, flow_viewers" in warnings[0]


async def test_flow_kwargs_override_silent_when_current(
    make_manager: Callable[..., FlowsManager],
    ids: FlowIds,
    store_flow: StoreFlow,
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = make_manager(
        globus_group=ids.group1, flow_kwargs={"flow_viewers": ["public"]}
    )
    await store_flow(manager, ids.old)
    caplog.set_level(logging.WARNING, logger="aioflows")

    await manager.sync_flow()

    assert caplog.records == []


async def test_subscription_id_sent(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager(subscription_id=ids.subscription).sync_flow()

    assert sent_json(create.calls.last)["subscription_id"] == ids.subscription


async def test_flow_kwargs_sent(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager(flow_kwargs={"description": "v1", "keywords": ["a"]})

    await manager.sync_flow()

    body = sent_json(create.calls.last)
    assert body["description"] == "v1"
    assert body["keywords"] == ["a"]


# on_change


async def test_on_change_plain_function(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    seen: list[tuple[FlowsManager, RegistrationError]] = []
    manager = make_manager(on_change=lambda m, error: seen.append((m, error)))

    result = await manager.sync_flow()

    assert result is None
    assert len(seen) == 1
    assert seen[0][0] is manager
    assert isinstance(seen[0][1], NoFlowRegistered)
    assert api.calls.call_count == 0


async def test_on_change_coroutine_function(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    seen: list[RegistrationError] = []

    async def record(manager: FlowsManager, error: RegistrationError) -> None:
        seen.append(error)

    manager = make_manager(on_change=record)
    await store_flow(manager, ids.old, checksum="0" * 64)

    assert await manager.sync_flow() == ids.old
    assert len(seen) == 1
    assert isinstance(seen[0], FlowObsolete)
    assert api.calls.call_count == 0


async def test_on_change_may_register(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    async def deploy(manager: FlowsManager, error: RegistrationError) -> None:
        await manager.register_flow()

    assert await make_manager(on_change=deploy).sync_flow() == ids.new
    assert create.call_count == 1


async def test_on_change_none_uses_obsolete(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    manager = make_manager(on_change=None)
    await store_flow(manager, ids.old, checksum="0" * 64)

    assert await manager.sync_flow() == ids.old
    assert api.calls.call_count == 0


async def test_on_change_none_without_flow(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    assert await make_manager(on_change=None).sync_flow() is None
    assert api.calls.call_count == 0


async def test_on_change_error_propagates(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    def reject_change(manager: FlowsManager, error: RegistrationError) -> None:
        raise RuntimeError("deployments are frozen")

    with pytest.raises(RuntimeError, match="frozen"):
        await make_manager(on_change=reject_change).sync_flow()


# Update returns 404


async def test_update_404_redeploys(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    api.put(f"/flows/{ids.old}").respond(404, json={"error": {"code": "NOT_FOUND"}})
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    assert await manager.sync_flow() == ids.new
    assert create.call_count == 1
    assert await storage.items("test-flow") == {
        "flow_id": ids.new,
        "flow_checksum": stored_checksum_of(sent_json(create.calls.last)),
        "flows_url": FLOWS_URL,
    }


async def test_update_404_register_returns_new(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    api.put(f"/flows/{ids.old}").respond(404)
    api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager()
    await store_flow(manager, ids.old)

    assert await manager.register_flow() == ids.new


async def test_update_404_explicit_id_raises(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    api.put(f"/flows/{ids.old}").respond(404, json={"error": {"code": "NOT_FOUND"}})
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    with pytest.raises(APIError) as caught:
        await make_manager(flow_id=ids.old).sync_flow()

    assert caught.value.http_status == 404
    assert create.call_count == 0
    assert await storage.items("test-flow") == {}


async def test_update_404_explicit_keeps_storage(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    api.put(f"/flows/{ids.old}").respond(404)
    manager = make_manager(flow_id=ids.old)
    await store_flow(manager, ids.old, checksum="0" * 64)

    with pytest.raises(APIError):
        await manager.sync_flow()

    assert await storage.items("test-flow") == {
        "flow_id": ids.old,
        "flow_checksum": "0" * 64,
    }


async def test_update_404_redeploy_disabled(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    api.put(f"/flows/{ids.old}").respond(404)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager(redeploy_on_404=False)
    await store_flow(manager, ids.old, checksum="0" * 64)

    with pytest.raises(APIError):
        await manager.sync_flow()
    assert create.call_count == 0


async def test_update_other_error_no_redeploy(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
) -> None:
    api.put(f"/flows/{ids.old}").respond(403, json={"error": {"code": "FORBIDDEN"}})
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    with pytest.raises(APIError):
        await manager.sync_flow()
    assert create.call_count == 0


# Scopes


async def test_scope_explicit_id_without_request(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    manager = make_manager(flow_id=ids.old)

    scopes = [str(scope) for scope in manager.required_scopes()]

    assert ids.scope(ids.old) in scopes
    assert api.calls.call_count == 0


async def test_scope_stored_id_without_request(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
    tokens: StaticTokenProvider,
) -> None:
    manager = make_manager()
    await store_flow(manager, ids.old)

    await manager.get_flow_id()

    known = [str(scope) for scope in tokens.required_scopes().get(ids.old, ())]
    assert known == [ids.scope(ids.old)]
    assert api.calls.call_count == 0


async def test_scope_unknown_before_flow_id(
    make_manager: Callable[..., FlowsManager],
) -> None:
    scopes = [str(scope) for scope in make_manager().required_scopes()]

    assert not any("/flow_" in scope for scope in scopes)


async def test_scope_includes_flows_service(
    make_manager: Callable[..., FlowsManager],
) -> None:
    scopes = [str(scope) for scope in make_manager().required_scopes()]

    assert scopes == [
        "https://auth.globus.org/scopes/eec9b274-0c81-4334-bdc2-54e90e689b9a/manage_flows",
        "https://auth.globus.org/scopes/eec9b274-0c81-4334-bdc2-54e90e689b9a/run_status",
    ]


async def test_scope_learned_from_create(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    tokens: StaticTokenProvider,
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager().sync_flow()

    known = [str(scope) for scope in tokens.required_scopes().get(ids.new, ())]
    assert known == [ids.scope(ids.new)]


async def test_scope_mismatch_logs_warning(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.post("/flows").respond(
        201, json={"id": ids.new, "globus_auth_scope": "https://example.org/other"}
    )
    caplog.set_level(logging.WARNING, logger="aioflows")

    await make_manager().sync_flow()

    assert any("https://example.org/other" in r.getMessage() for r in caplog.records)


async def test_scope_match_logs_nothing(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))
    caplog.set_level(logging.WARNING, logger="aioflows")

    await make_manager().sync_flow()

    assert caplog.records == []


# Cases from the field


async def test_field_changes_update_once(
    session: Session,
    api: respx.MockRouter,
    ids: FlowIds,
    definition: dict[str, Any],
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    update = api.put(f"/flows/{ids.new}").respond(200, json={"id": ids.new})
    manager = FlowsManager(
        flow_definition=definition,
        flow_title="T1",
        globus_group=ids.group1,
        flow_kwargs={"description": "v1"},
        session=session,
    )
    group1 = [f"urn:globus:groups:id:{ids.group1}"]
    group2 = [f"urn:globus:groups:id:{ids.group2}"]

    await manager.sync_flow()
    first = sent_json(create.calls.last)
    assert create.call_count == 1
    assert first["description"] == "v1"
    assert first["flow_viewers"] == group1
    assert first["flow_starters"] == group1
    assert first["flow_administrators"] == group1

    await manager.sync_flow()
    assert api.calls.call_count == 1

    manager.flow_kwargs = {"description": "v2"}
    await manager.sync_flow()
    await manager.sync_flow()
    assert update.call_count == 1
    assert sent_json(update.calls.last)["description"] == "v2"

    manager.globus_group = ids.group2
    await manager.sync_flow()
    await manager.sync_flow()
    second = sent_json(update.calls.last)
    assert update.call_count == 2
    assert second["flow_viewers"] == group2
    assert second["flow_starters"] == group2
    assert second["flow_administrators"] == group2

    manager.flow_title = "T2"
    await manager.sync_flow()
    await manager.sync_flow()
    assert update.call_count == 3
    assert sent_json(update.calls.last)["title"] == "T2"

    manager.flow_definition = dict(reversed(list(definition.items())))
    manager.flow_schema = dict(PERMISSIVE)
    await manager.sync_flow()
    assert api.calls.call_count == 4
    assert create.call_count == 1


@pytest.mark.parametrize(
    ("field", "value", "sent_key"),
    [
        ("flow_kwargs", {"description": "v2"}, "description"),
        ("globus_group", "02020202-0000-4000-8000-000000000012", "flow_viewers"),
        ("flow_title", "T2", "title"),
        ("subscription_id", "05050505-0000-4000-8000-000000000015", "subscription_id"),
    ],
)
async def test_restart_with_change_updates_once(
    session: Session,
    api: respx.MockRouter,
    ids: FlowIds,
    definition: dict[str, Any],
    field: str,
    value: Any,
    sent_key: str,
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    update = api.put(f"/flows/{ids.new}").respond(200, json={"id": ids.new})
    options: dict[str, Any] = {
        "flow_definition": definition,
        "flow_title": "T1",
        "globus_group": ids.group1,
        "flow_kwargs": {"description": "v1"},
        "name": "restarted-flow",
        "session": session,
    }
    await FlowsManager(**options).sync_flow()

    changed = FlowsManager(**{**options, field: value})
    await changed.sync_flow()
    await FlowsManager(**{**options, field: value}).sync_flow()

    assert create.call_count == 1
    assert update.call_count == 1
    assert sent_json(update.calls.last)[sent_key] == changed.flow_request()[sent_key]


async def test_title_change_keeps_namespace(
    session: Session,
    api: respx.MockRouter,
    ids: FlowIds,
    definition: dict[str, Any],
    storage: MemoryStorage,
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))
    api.put(f"/flows/{ids.new}").respond(200, json={"id": ids.new})
    manager = FlowsManager(flow_definition=definition, flow_title="T1", session=session)
    await manager.sync_flow()

    manager.flow_title = "T2"
    await manager.sync_flow()

    assert manager.name == "T1"
    assert await storage.namespaces() == ["T1"]


async def test_no_schema_sends_flat_permissive(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    await make_manager().sync_flow()

    assert sent_json(create.calls.last)["input_schema"] == {
        "additionalProperties": True
    }


async def test_schema_added_later_updates_once(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post("/flows").mock(return_value=created(ids, ids.new))
    update = api.put(f"/flows/{ids.new}").respond(200, json={"id": ids.new})
    schema = {"type": "object", "required": ["name"]}
    manager = make_manager()
    await manager.sync_flow()

    manager.flow_schema = schema
    await manager.sync_flow()
    await manager.sync_flow()

    assert update.call_count == 1
    assert sent_json(update.calls.last)["input_schema"] == schema


async def test_cancelled_create_still_recorded(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    async def slow_create(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.05)
        return created(ids, ids.new)

    api.post("/flows").mock(side_effect=slow_create)
    manager = make_manager(flow_title="T1")

    with anyio.move_on_after(0.01):
        await manager.register_flow()

    assert await storage.get(manager.name, "flow_id") == ids.new
