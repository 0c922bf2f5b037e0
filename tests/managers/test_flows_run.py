"""Running flows: run_flow requests, labels, roles, 404 redeploys and errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx

from aioflows import (
    APIError,
    FlowsManager,
    LoginRequired,
    MemoryStorage,
    NoFlowRegistered,
    RegistrationError,
    RunFailed,
)

if TYPE_CHECKING:
    from conftest import FlowIds, StoreFlow

pytestmark = pytest.mark.anyio

FLOWS_URL = "https://flows.automate.globus.org/"

NOT_FOUND = {"error": {"code": "NOT_FOUND", "detail": "No such flow"}}
MISSING_SCOPE = {"error": {"code": "MISSING_SCOPE", "detail": "Consent required"}}


def sent_json(call: Any) -> Any:
    return json.loads(call.request.content)


def created(ids: FlowIds, flow_id: str) -> httpx.Response:
    return httpx.Response(
        201, json={"id": flow_id, "globus_auth_scope": ids.scope(flow_id)}
    )


def started(ids: FlowIds, flow_id: str, status: str = "ACTIVE") -> httpx.Response:
    return httpx.Response(
        201, json={"run_id": ids.run, "flow_id": flow_id, "status": status}
    )


def stored_checksum_of(body: dict[str, Any]) -> str:
    fields = {
        key: value
        for key, value in body.items()
        if key not in ("definition", "input_schema")
    }
    return FlowsManager.get_flow_checksum(
        body["definition"], body["input_schema"], fields
    )


@pytest.fixture
async def current(
    make_manager: Callable[..., FlowsManager], ids: FlowIds, store_flow: StoreFlow
) -> Callable[..., Any]:
    """Build a manager whose stored flow OLD is current, so a sync sends nothing."""

    async def build(**kwargs: Any) -> FlowsManager:
        manager = make_manager(**kwargs)
        await store_flow(manager, ids.old)
        return manager

    return build


# The run request


async def test_run_posts_to_flow(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow({"name": "Ada"})

    assert run.call_count == 1
    assert sent_json(run.calls.last) == {"body": {"name": "Ada"}}


async def test_run_uses_flow_token(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow()

    authorization = run.calls.last.request.headers["Authorization"]
    assert authorization == f"Bearer {ids.token(ids.old)}"


async def test_run_returns_document(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    assert await manager.run_flow() == {
        "run_id": ids.run,
        "flow_id": ids.old,
        "status": "ACTIVE",
    }


async def test_run_without_body_sends_empty(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow()

    assert sent_json(run.calls.last) == {"body": {}}


async def test_run_sends_tags_and_kwargs(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow(
        {"a": 1},
        tags=["nightly"],
        activity_notification_policy={"status": ["FAILED"]},
    )

    assert sent_json(run.calls.last) == {
        "body": {"a": 1},
        "tags": ["nightly"],
        "activity_notification_policy": {"status": ["FAILED"]},
    }


async def test_run_syncs_first(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    run = api.post(f"/flows/{ids.new}/run").mock(return_value=started(ids, ids.new))

    await make_manager().run_flow()

    assert [call.request.url.path for call in api.calls] == [
        "/flows",
        f"/flows/{ids.new}/run",
    ]
    assert create.call_count == 1
    assert run.call_count == 1


async def test_run_explicit_id_without_definition(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))

    await make_manager(flow_definition=None, flow_id=ids.old).run_flow()

    assert run.call_count == 1
    assert api.calls.call_count == 1


async def test_run_no_flow_on_change_none(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    with pytest.raises(NoFlowRegistered, match="register_flow"):
        await make_manager(on_change=None).run_flow()
    assert api.calls.call_count == 0


async def test_run_failed_raises_run_failed(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(
        201,
        json={
            "run_id": ids.run,
            "status": "FAILED",
            "details": {"code": "FlowFailed", "description": "Input was rejected"},
        },
    )
    manager = await current()

    with pytest.raises(RunFailed) as caught:
        await manager.run_flow()

    assert caught.value.description == "Input was rejected"
    assert caught.value.run_id == ids.run
    assert "Input was rejected" in str(caught.value)


# Roles


async def test_run_group_sets_run_roles(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current(globus_group=ids.group1)
    urn = f"urn:globus:groups:id:{ids.group1}"

    await manager.run_flow()

    body = sent_json(run.calls.last)
    assert body["run_managers"] == [urn]
    assert body["run_monitors"] == [urn]


async def test_run_kwargs_override_group(
    current: Callable[..., Any],
    api: respx.MockRouter,
    ids: FlowIds,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    identity = f"urn:globus:auth:identity:{ids.identity}"
    manager = await current(
        globus_group=ids.group1, run_kwargs={"run_monitors": [identity]}
    )
    caplog.set_level(logging.WARNING, logger="aioflows")

    await manager.run_flow()

    body = sent_json(run.calls.last)
    assert body["run_monitors"] == [identity]
    assert body["run_managers"] == [f"urn:globus:groups:id:{ids.group1}"]
    assert any(
        "run_kwargs run_monitors override" in r.getMessage() for r in caplog.records
    )


async def test_call_kwargs_override_run_kwargs(
    current: Callable[..., Any],
    api: respx.MockRouter,
    ids: FlowIds,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    identity = f"urn:globus:auth:identity:{ids.identity}"
    manager = await current(
        globus_group=ids.group1,
        run_kwargs={"run_managers": [f"urn:globus:groups:id:{ids.group2}"]},
    )
    caplog.set_level(logging.WARNING, logger="aioflows")

    await manager.run_flow(run_managers=[identity, identity])

    assert sent_json(run.calls.last)["run_managers"] == [identity]
    assert any(
        "keyword arguments run_managers override" in r.getMessage()
        for r in caplog.records
    )


async def test_run_kwargs_sent_every_run(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current(run_kwargs={"tags": ["from-manager"]})

    await manager.run_flow()
    await manager.run_flow()

    assert [sent_json(call)["tags"] for call in run.calls] == [
        ["from-manager"],
        ["from-manager"],
    ]


# Labels


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("fl" + "o" * 63, "fl" + "o" * 60 + ".."),
        ("fl" + "o" * 62, "fl" + "o" * 62),
        ("short", "short"),
    ],
)
async def test_label_cut_to_max_length(
    current: Callable[..., Any],
    api: respx.MockRouter,
    ids: FlowIds,
    label: str,
    expected: str,
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow(label=label)

    assert sent_json(run.calls.last)["label"] == expected


async def test_label_cut_length_is_max(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow(label="fl" + "o" * 63)

    assert len(sent_json(run.calls.last)["label"]) == 64


async def test_label_empty_left_out(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow(label="")

    assert "label" not in sent_json(run.calls.last)


async def test_label_from_run_kwargs_cut(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current(run_kwargs={"label": "y" * 100})

    await manager.run_flow()

    assert sent_json(run.calls.last)["label"] == "y" * 62 + ".."


async def test_label_empty_in_run_kwargs_left_out(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current(run_kwargs={"label": ""})

    await manager.run_flow()

    assert "label" not in sent_json(run.calls.last)


async def test_label_argument_beats_run_kwargs(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current(run_kwargs={"label": "default"})

    await manager.run_flow(label="this run")

    assert sent_json(run.calls.last)["label"] == "this run"


async def test_label_custom_max_length(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current(max_label_length=32)
    label = "".join(chr(ord("a") + i % 26) for i in range(40))

    await manager.run_flow(label=label)

    assert sent_json(run.calls.last)["label"] == label[:30] + ".."


async def test_label_not_string_rejected(
    current: Callable[..., Any], api: respx.MockRouter
) -> None:
    manager = await current()

    with pytest.raises(ValueError, match="label must be a string"):
        await manager.run_flow(label=42)  # type: ignore[arg-type]
    assert api.calls.call_count == 0


# Stored flow deleted: the run returns 404


async def test_run_404_redeploys_and_retries(
    current: Callable[..., Any],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    old_run = api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    new_run = api.post(f"/flows/{ids.new}/run").mock(return_value=started(ids, ids.new))
    manager = await current()

    result = await manager.run_flow({"x": 1}, label="retry me")

    assert result["flow_id"] == ids.new
    assert create.call_count == 1
    assert old_run.call_count == 1
    assert new_run.call_count == 1
    assert sent_json(new_run.calls.last) == sent_json(old_run.calls.last)
    assert await storage.items("test-flow") == {
        "flow_id": ids.new,
        "flow_checksum": stored_checksum_of(sent_json(create.calls.last)),
        "flows_url": FLOWS_URL,
    }


async def test_run_404_retry_uses_new_token(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    old_run = api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    api.post("/flows").mock(return_value=created(ids, ids.new))
    new_run = api.post(f"/flows/{ids.new}/run").mock(return_value=started(ids, ids.new))
    manager = await current()

    await manager.run_flow()

    old_authorization = old_run.calls.last.request.headers["Authorization"]
    new_authorization = new_run.calls.last.request.headers["Authorization"]
    assert old_authorization == f"Bearer {ids.token(ids.old)}"
    assert new_authorization == f"Bearer {ids.token(ids.new)}"


async def test_run_404_create_uses_flows_token(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    api.post(f"/flows/{ids.new}/run").mock(return_value=started(ids, ids.new))
    manager = await current()

    await manager.run_flow()

    assert create.calls.last.request.headers["Authorization"] == "Bearer tok-flows"


async def test_run_404_twice_creates_once(
    current: Callable[..., Any],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    new_run = api.post(f"/flows/{ids.new}/run").respond(404, json=NOT_FOUND)
    manager = await current()

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 404
    assert create.call_count == 1
    assert new_run.call_count == 1
    assert await storage.get("test-flow", "flow_id") == ids.new


async def test_run_404_explicit_id_raises(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    run = api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = make_manager(flow_id=ids.old)
    await store_flow(manager, ids.old)
    before = await storage.items("test-flow")

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 404
    assert run.call_count == 1
    assert create.call_count == 0
    assert await storage.items("test-flow") == before


async def test_run_404_run_only_manager_raises(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))

    with pytest.raises(APIError):
        await make_manager(flow_definition=None, flow_id=ids.old).run_flow()

    assert create.call_count == 0
    assert await storage.items("test-flow") == {}


async def test_run_404_redeploy_disabled(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = await current(redeploy_on_404=False)

    with pytest.raises(APIError):
        await manager.run_flow()
    assert create.call_count == 0


async def test_update_404_during_run_sync(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    ids: FlowIds,
    store_flow: StoreFlow,
    storage: MemoryStorage,
) -> None:
    update = api.put(f"/flows/{ids.old}").respond(404, json=NOT_FOUND)
    old_run = api.post(f"/flows/{ids.old}/run").respond(404, json=NOT_FOUND)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    new_run = api.post(f"/flows/{ids.new}/run").mock(return_value=started(ids, ids.new))
    manager = make_manager()
    await store_flow(manager, ids.old, checksum="0" * 64)

    await manager.run_flow()

    assert update.call_count == 1
    assert create.call_count == 1
    assert old_run.call_count == 0
    assert new_run.call_count == 1
    assert new_run.calls.last.request.headers["Authorization"] == (
        f"Bearer {ids.token(ids.new)}"
    )
    assert await storage.items("test-flow") == {
        "flow_id": ids.new,
        "flow_checksum": stored_checksum_of(sent_json(create.calls.last)),
        "flows_url": FLOWS_URL,
    }


# Missing consent: the run returns 403


async def test_run_403_missing_scope_login(
    current: Callable[..., Any],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(403, json=MISSING_SCOPE)
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = await current()
    before = await storage.items("test-flow")

    with pytest.raises(LoginRequired) as caught:
        await manager.run_flow()

    assert ids.scope(ids.old) in caught.value.required_scopes
    assert caught.value.resource_server == ids.old
    assert create.call_count == 0
    assert await storage.items("test-flow") == before


async def test_run_403_auth_requirements_login(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(
        403,
        json={
            "code": "AuthorizationRequired",
            "authorization_parameters": {
                "session_message": "Log in with your campus identity",
                "session_required_policies": ["a-policy"],
            },
        },
    )
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = await current()

    with pytest.raises(LoginRequired) as caught:
        await manager.run_flow()

    assert ids.scope(ids.old) in caught.value.required_scopes
    assert caught.value.authorization_parameters["session_message"] == (
        "Log in with your campus identity"
    )
    assert create.call_count == 0


async def test_run_403_scope_listed_once(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(403, json=MISSING_SCOPE)
    manager = await current()

    with pytest.raises(LoginRequired) as caught:
        await manager.run_flow()

    assert caught.value.required_scopes.count(ids.scope(ids.old)) == 1


async def test_run_403_forbidden_api_error(
    current: Callable[..., Any],
    api: respx.MockRouter,
    ids: FlowIds,
    storage: MemoryStorage,
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(
        403, json={"error": {"code": "FORBIDDEN", "detail": "Not a flow starter"}}
    )
    create = api.post("/flows").mock(return_value=created(ids, ids.new))
    manager = await current()
    before = await storage.items("test-flow")

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 403
    assert create.call_count == 0
    assert await storage.items("test-flow") == before


async def test_run_without_flow_token_login(
    make_manager: Callable[..., FlowsManager],
    api: respx.MockRouter,
    store_flow: StoreFlow,
    ids: FlowIds,
) -> None:
    unknown = "0f0f0f0f-0000-4000-8000-0000000000ff"
    manager = make_manager()
    await store_flow(manager, unknown)

    with pytest.raises(LoginRequired) as caught:
        await manager.run_flow()

    assert ids.scope(unknown) in caught.value.required_scopes
    assert api.calls.call_count == 0


# Run requests checked before the sync


async def test_run_tags_tuple_sent_as_list(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    run = api.post(f"/flows/{ids.old}/run").mock(return_value=started(ids, ids.old))
    manager = await current()

    await manager.run_flow(tags=("a", "b"))  # type: ignore[arg-type]

    assert sent_json(run.calls.last)["tags"] == ["a", "b"]


@pytest.mark.parametrize("tags", ["nightly", {"nightly"}, 5], ids=["str", "set", "int"])
async def test_run_tags_not_list_rejected(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter, tags: Any
) -> None:
    with pytest.raises(ValueError, match="tags must be a list of strings"):
        await make_manager().run_flow(tags=tags)

    assert api.calls.call_count == 0


async def test_run_label_surrogate_rejected_first(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    with pytest.raises(TypeError, match=r"run request .* \['label'\]"):
        await make_manager().run_flow(label="bad \udc80 label")

    assert api.calls.call_count == 0


async def test_run_keyword_not_json_rejected_first(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    with pytest.raises(TypeError, match=r"\['activity_notification_policy'\]"):
        await make_manager().run_flow(activity_notification_policy=object())

    assert api.calls.call_count == 0


async def test_run_body_value_located(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    with pytest.raises(TypeError) as caught:
        await make_manager().run_flow({"files": [{"size": float("nan")}]})

    assert "the run body is not JSON-serialisable" in str(caught.value)
    assert "['files'][0]['size'] is nan" in str(caught.value)
    assert api.calls.call_count == 0


async def test_run_no_flow_names_on_change(
    make_manager: Callable[..., FlowsManager], api: respx.MockRouter
) -> None:
    def keep_old_flow(manager: FlowsManager, error: RegistrationError) -> None:
        return None

    with pytest.raises(NoFlowRegistered) as caught:
        await make_manager(on_change=keep_old_flow).run_flow()

    assert "keep_old_flow" in str(caught.value)
    assert "returned without deploying it" in str(caught.value)
    assert api.calls.call_count == 0


async def test_run_document_not_object_raises(
    current: Callable[..., Any], api: respx.MockRouter, ids: FlowIds
) -> None:
    api.post(f"/flows/{ids.old}/run").respond(201, json=[{"run_id": ids.run}])
    manager = await current()

    with pytest.raises(APIError) as caught:
        await manager.run_flow()

    assert caught.value.http_status == 201
    assert caught.value.problem is not None
    assert "its body is an array" in str(caught.value)
