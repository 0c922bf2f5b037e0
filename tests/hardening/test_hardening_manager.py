"""FlowsManager under cancellation, hostile callbacks and odd definitions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hardening_support import NO_WAIT_RETRIES, pass_definition

from aioflows import (
    FlowsManager,
    JSONFileStorage,
    MemoryStorage,
    NoFlowRegistered,
    RegistrationError,
    Session,
    StaticTokenProvider,
)
from aioflows.emulator import Emulator, RunTiming

pytestmark = pytest.mark.anyio

# More checkpoints than any sync or run passes through, so the sweep ends.
MAX_CHECKPOINTS = 60


class CancelAtCheckpoint:
    """Cancels a scope when the k-th storage call or HTTP request starts or ends."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.scope: anyio.CancelScope | None = None

    def tick(self) -> None:
        self.count += 1
        if self.count == self.target and self.scope is not None:
            self.scope.cancel()


class CountingStorage:
    """A JSONFileStorage whose every call is a cancellation point of the sweep."""

    def __init__(self, inner: JSONFileStorage, trigger: CancelAtCheckpoint) -> None:
        self.inner = inner
        self.trigger = trigger

    async def _call(self, result: Awaitable[Any]) -> Any:
        self.trigger.tick()
        value = await result
        self.trigger.tick()
        return value

    async def get(self, namespace: str, key: str) -> Any:
        return await self._call(self.inner.get(namespace, key))

    async def set(self, namespace: str, key: str, value: Any) -> None:
        await self._call(self.inner.set(namespace, key, value))

    async def delete(self, namespace: str, key: str) -> None:
        await self._call(self.inner.delete(namespace, key))

    async def set_many(self, namespace: str, values: Mapping[str, Any]) -> None:
        await self._call(self.inner.set_many(namespace, values))

    async def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        await self._call(self.inner.delete_many(namespace, keys))

    async def items(self, namespace: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(self.inner.items(namespace))
        return result

    async def namespaces(self) -> list[str]:
        result: list[str] = await self._call(self.inner.namespaces())
        return result


class CountingTransport(httpx.AsyncBaseTransport):
    """The emulator's transport, with every request a cancellation point."""

    def __init__(self, emulator: Emulator, trigger: CancelAtCheckpoint) -> None:
        self.inner = emulator.transport()
        self.trigger = trigger

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.trigger.tick()
        response = await self.inner.handle_async_request(request)
        self.trigger.tick()
        return response


async def cancelled_attempt(kind: str, target: int, path: Path) -> dict[str, Any]:
    """Cancel a create, update or 404-redeploy at one checkpoint, then finish it.

    Returns what the checks need: how many checkpoints the cancelled call
    passed, the stored state right after it, the flows deployed then and at
    the end, and the stored id at the end.
    """
    emulator = Emulator(seed=5, timing=RunTiming(action_seconds=0))
    trigger = CancelAtCheckpoint(target)
    inner = JSONFileStorage(path)
    storage = CountingStorage(inner, trigger)
    tokens = StaticTokenProvider(default=emulator.static_token)
    async with Session(
        tokens=tokens,
        storage=storage,
        transport=CountingTransport(emulator, trigger),
        retries=NO_WAIT_RETRIES,
    ) as session:
        if kind != "create":
            first = FlowsManager(
                flow_definition=pass_definition("Old"), name="swept", session=session
            )
            await first.sync_flow()
        if kind == "run-404":
            emulator.delete_flow(emulator.flow_ids()[0])

        definition = pass_definition("Old" if kind == "run-404" else "New")
        manager = FlowsManager(
            flow_definition=definition, name="swept", session=session
        )
        work = manager.run_flow if kind == "run-404" else manager.sync_flow
        trigger.count = 0
        with anyio.CancelScope() as scope:
            trigger.scope = scope
            await work()
        trigger.scope = None
        checkpoints = trigger.count

        after_cancel = await inner.items("swept")
        deployed_after_cancel = emulator.flow_ids()
        await work()
        return {
            "checkpoints": checkpoints,
            "after_cancel": after_cancel,
            "deployed_after_cancel": deployed_after_cancel,
            "deployed": emulator.flow_ids(),
            "stored": await inner.get("swept", "flow_id"),
        }


@pytest.mark.parametrize("kind", ["create", "update", "run-404"])
async def test_cancel_every_checkpoint_consistent(kind: str, tmp_path: Path) -> None:
    half_states: list[int] = []
    orphans: list[int] = []
    wrong_final: list[int] = []

    for target in range(1, MAX_CHECKPOINTS):
        outcome = await cancelled_attempt(kind, target, tmp_path / f"{target}.json")
        if target > outcome["checkpoints"]:
            break
        stored = outcome["after_cancel"]
        if ("flow_id" in stored) != ("flow_checksum" in stored):
            half_states.append(target)
        if [f for f in outcome["deployed_after_cancel"] if f != stored.get("flow_id")]:
            orphans.append(target)
        if outcome["deployed"] != [outcome["stored"]]:
            wrong_final.append(target)

    assert target > 1
    assert target < MAX_CHECKPOINTS
    assert half_states == []
    assert orphans == []
    assert wrong_final == []


async def test_on_change_error_releases_lock(
    make_manager: Callable[..., FlowsManager],
) -> None:
    def reject_change(manager: FlowsManager, error: RegistrationError) -> None:
        raise RuntimeError("deployments are frozen")

    with pytest.raises(RuntimeError, match="frozen"):
        await make_manager(on_change=reject_change).sync_flow()

    with anyio.fail_after(5):
        flow_id = await make_manager().sync_flow()

    assert flow_id is not None


async def test_noop_on_change_message_accurate(
    make_manager: Callable[..., FlowsManager],
) -> None:
    def skip_deploy(manager: FlowsManager, error: RegistrationError) -> None:
        return None

    with pytest.raises(NoFlowRegistered) as caught:
        await make_manager(on_change=skip_deploy).run_flow({})

    assert "on_change is None" not in str(caught.value)


@pytest.mark.parametrize(
    ("max_length", "label", "sent"),
    [
        (3, "abcd", "a.."),
        (3, "abc", "abc"),
        (64, "😀" * 65, "😀" * 62 + ".."),
        (64, "é" * 64, "é" * 64),
    ],
    ids=["min-cut", "min-fits", "astral-cut", "exact-fit"],
)
async def test_label_edges_sent(
    make_manager: Callable[..., FlowsManager],
    max_length: int,
    label: str,
    sent: str,
) -> None:
    manager = make_manager(max_label_length=max_length)

    run = await manager.run_flow({}, label=label)

    assert run["label"] == sent


async def test_lone_surrogate_rejected_early() -> None:
    definition = pass_definition()
    definition["States"]["Hello"]["Result"] = {"said": "\ud800"}

    with pytest.raises((TypeError, ValueError), match="flow_definition"):
        FlowsManager(flow_definition=definition, name="surrogate")


def test_storage_reused_across_event_loops() -> None:
    emulator = Emulator(seed=2)
    storage = MemoryStorage()

    async def sync_three_at_once() -> None:
        tokens = StaticTokenProvider(default=emulator.static_token)
        async with Session(
            tokens=tokens, storage=storage, transport=emulator.transport()
        ) as session:
            manager = FlowsManager(
                flow_definition=pass_definition(), name="shared", session=session
            )
            async with anyio.create_task_group() as group:
                for _ in range(3):
                    group.start_soon(manager.sync_flow)

    for backend in ("asyncio", "trio"):
        anyio.run(sync_three_at_once, backend=backend)

    assert len(emulator.flow_ids()) == 1


def test_deep_definition_rejected() -> None:
    nested: list[Any] = []
    innermost = nested
    for _ in range(5_000):
        inner: list[Any] = []
        innermost.append(inner)
        innermost = inner
    definition = pass_definition()
    definition["States"]["Hello"]["Result"] = nested

    with pytest.raises(TypeError, match="flow_definition"):
        FlowsManager(flow_definition=definition, name="deep")


@pytest.mark.parametrize("tags", [5, {"nightly": True}], ids=["number", "dict"])
async def test_tags_wrong_type_rejected(
    make_manager: Callable[..., FlowsManager], tags: Any, emulator: Emulator
) -> None:
    with pytest.raises(ValueError, match="tags"):
        await make_manager().run_flow({}, tags=tags)

    assert emulator.count() == 0


@pytest.mark.parametrize(
    "value", [anyio.Event, float("nan")], ids=["object", "not-a-number"]
)
async def test_unserialisable_body_rejected_first(
    make_manager: Callable[..., FlowsManager], emulator: Emulator, value: Any
) -> None:
    with pytest.raises((TypeError, ValueError), match="body"):
        await make_manager().run_flow({"value": value})

    assert emulator.count() == 0


async def test_two_storages_one_file_create_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    arrived = 0
    both_arrived = anyio.Event()

    async def deploy_after_peer(
        manager: FlowsManager, error: RegistrationError
    ) -> None:
        # Wait briefly for the other manager, so both decide before either writes.
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_arrived.set()
        with anyio.move_on_after(0.5):
            await both_arrived.wait()
        await manager.register_flow()

    async def sync_with_own_storage() -> None:
        tokens = StaticTokenProvider(default=emulator.static_token)
        async with Session(
            tokens=tokens, storage=JSONFileStorage(path), transport=emulator.transport()
        ) as session:
            manager = FlowsManager(
                flow_definition=pass_definition(),
                name="shared",
                on_change=deploy_after_peer,
                session=session,
            )
            await manager.sync_flow()

    async with anyio.create_task_group() as group:
        group.start_soon(sync_with_own_storage)
        group.start_soon(sync_with_own_storage)

    assert len(emulator.flow_ids()) == 1


async def test_concurrent_purge_during_run(
    make_manager: Callable[..., FlowsManager],
) -> None:
    failures: list[NoFlowRegistered] = []

    async with anyio.create_task_group() as group:

        async def deploy_then_purge_elsewhere(
            manager: FlowsManager, error: RegistrationError
        ) -> None:
            await manager.register_flow()
            purged = anyio.Event()

            async def purge() -> None:
                await manager.purge_flow()
                purged.set()

            group.start_soon(purge)
            # A purge that waits for the deploy lock cannot finish here.
            with anyio.move_on_after(0.2):
                await purged.wait()

        manager = make_manager(on_change=deploy_then_purge_elsewhere)
        try:
            await manager.run_flow({})
        except NoFlowRegistered as error:
            failures.append(error)

    assert failures == []
