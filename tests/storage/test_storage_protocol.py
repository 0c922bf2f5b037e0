"""The Storage protocol, checked against every backend."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from aioflows.storage import JSONFileStorage, MemoryStorage, SQLiteStorage, Storage

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "jsonfile", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "memory":
        return MemoryStorage()
    if request.param == "jsonfile":
        return JSONFileStorage(tmp_path / "state.json")
    return SQLiteStorage(tmp_path / "state.db")


def _circular_list() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


JSON_VALUES = [
    pytest.param({"nested": {"list": [1, 2.5, None, True, "é"]}}, id="nested"),
    pytest.param(2**70, id="big-int"),
    pytest.param(-1.5e-300, id="small-float"),
    pytest.param("", id="empty-str"),
    pytest.param("line\nbreak \u2028 ✓ \U0001f600", id="unicode"),
    pytest.param([], id="empty-list"),
    pytest.param({}, id="empty-dict"),
    pytest.param(False, id="false"),
    pytest.param(0, id="zero"),
    pytest.param(None, id="none"),
]

NOT_JSON_VALUES = [
    pytest.param({1, 2}, id="set"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param(object(), id="object"),
    pytest.param(math.nan, id="nan"),
    pytest.param({"inner": [math.inf]}, id="nested-infinity"),
    pytest.param((1, 2), id="tuple"),
    pytest.param({1: "int key"}, id="int-key"),
    pytest.param({"a": 1, 2: "b"}, id="mixed-keys"),
    pytest.param(_circular_list(), id="circular"),
    pytest.param("\ud800", id="lone-surrogate"),
]


async def test_backend_is_storage(storage: Storage) -> None:
    assert isinstance(storage, Storage)


async def test_get_missing_key(storage: Storage) -> None:
    await storage.set("flows", "present", 1)

    assert await storage.get("flows", "absent") is None
    assert await storage.get("other", "present") is None


async def test_set_then_get(storage: Storage) -> None:
    await storage.set("two-hop-transfer", "flow_id", "4a5b")

    assert await storage.get("two-hop-transfer", "flow_id") == "4a5b"


async def test_set_replaces_value(storage: Storage) -> None:
    await storage.set("flows", "flow_id", "old")
    await storage.set("flows", "flow_id", "new")

    assert await storage.get("flows", "flow_id") == "new"


@pytest.mark.parametrize("value", JSON_VALUES)
async def test_json_values_round_trip(storage: Storage, value: Any) -> None:
    await storage.set("flows", "value", value)
    stored = await storage.get("flows", "value")

    assert stored == value
    assert type(stored) is type(value)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(1, True, id="int-then-bool"),
        pytest.param(True, 1, id="bool-then-int"),
        pytest.param(1, 1.0, id="int-then-float"),
        pytest.param(0.0, -0.0, id="zero-then-negative-zero"),
    ],
)
async def test_equal_python_values_replace(
    storage: Storage, first: Any, second: Any
) -> None:
    # Python compares 1, True and 1.0 as equal, but JSON distinguishes them, so
    # the second set must not be skipped as unchanged.
    await storage.set("flows", "value", first)
    await storage.set("flows", "value", second)
    stored = await storage.get("flows", "value")

    assert json.dumps(stored) == json.dumps(second)


async def test_none_value_listed_in_items(storage: Storage) -> None:
    await storage.set("flows", "nothing", None)

    assert await storage.items("flows") == {"nothing": None}


async def test_delete_removes_key(storage: Storage) -> None:
    await storage.set_many("flows", {"flow_id": "a", "flow_checksum": "b"})
    await storage.delete("flows", "flow_id")

    assert await storage.items("flows") == {"flow_checksum": "b"}


async def test_delete_missing_key(storage: Storage) -> None:
    await storage.set("flows", "kept", 1)
    await storage.delete("flows", "absent")
    await storage.delete("absent-namespace", "absent")

    assert await storage.items("flows") == {"kept": 1}


async def test_set_many_stores_all(storage: Storage) -> None:
    await storage.set("flows", "existing", 0)
    await storage.set_many("flows", {"existing": 1, "added": [2]})

    assert await storage.items("flows") == {"existing": 1, "added": [2]}


async def test_set_many_empty_mapping(storage: Storage) -> None:
    await storage.set_many("flows", {})

    assert await storage.namespaces() == []


async def test_delete_many_removes_listed(storage: Storage) -> None:
    await storage.set_many("flows", {"a": 1, "b": 2, "c": 3})
    await storage.delete_many("flows", iter(["a", "c", "absent"]))

    assert await storage.items("flows") == {"b": 2}


async def test_delete_many_empty_keys(storage: Storage) -> None:
    await storage.set("flows", "a", 1)
    await storage.delete_many("flows", [])

    assert await storage.items("flows") == {"a": 1}


async def test_delete_many_rejects_str(storage: Storage) -> None:
    await storage.set_many("flows", {"a": 1, "b": 2})

    with pytest.raises(TypeError, match=r"single str \('ab'\)"):
        await storage.delete_many("flows", "ab")
    assert await storage.items("flows") == {"a": 1, "b": 2}


async def test_items_empty_namespace(storage: Storage) -> None:
    assert await storage.items("flows") == {}


async def test_items_returns_copy(storage: Storage) -> None:
    await storage.set("flows", "config", {"roles": ["admin"]})

    items = await storage.items("flows")
    items["config"]["roles"].append("viewer")
    items["added"] = True

    assert await storage.items("flows") == {"config": {"roles": ["admin"]}}


async def test_get_returns_copy(storage: Storage) -> None:
    await storage.set("flows", "config", {"roles": ["admin"]})

    value: Any = await storage.get("flows", "config")
    value["roles"].append("viewer")

    assert await storage.get("flows", "config") == {"roles": ["admin"]}


async def test_set_copies_input(storage: Storage) -> None:
    value = {"roles": ["admin"]}
    await storage.set("flows", "config", value)
    await storage.set_many("flows", {"other": value})

    value["roles"].append("viewer")

    assert await storage.get("flows", "config") == {"roles": ["admin"]}
    assert await storage.get("flows", "other") == {"roles": ["admin"]}


async def test_namespaces_sorted(storage: Storage) -> None:
    for namespace in ("beta", "alpha", "Zulu", "gamma"):
        await storage.set(namespace, "key", namespace)

    assert await storage.namespaces() == ["Zulu", "alpha", "beta", "gamma"]


async def test_namespaces_skip_emptied(storage: Storage) -> None:
    await storage.set_many("emptied", {"a": 1, "b": 2})
    await storage.set("kept", "a", 1)

    await storage.delete("emptied", "a")
    await storage.delete_many("emptied", ["b"])

    assert await storage.namespaces() == ["kept"]


async def test_namespaces_isolate_keys(storage: Storage) -> None:
    await storage.set("first", "flow_id", "1")
    await storage.set("second", "flow_id", "2")
    await storage.delete("first", "flow_id")

    assert await storage.get("first", "flow_id") is None
    assert await storage.get("second", "flow_id") == "2"


def _calls(namespace: Any, key: Any) -> list[Callable[[Storage], Awaitable[Any]]]:
    return [
        lambda storage: storage.get(namespace, key),
        lambda storage: storage.set(namespace, key, 1),
        lambda storage: storage.delete(namespace, key),
        lambda storage: storage.set_many(namespace, {key: 1}),
        lambda storage: storage.delete_many(namespace, [key]),
    ]


CALL_IDS = ["get", "set", "delete", "set_many", "delete_many"]


@pytest.mark.parametrize("call_index", range(len(CALL_IDS)), ids=CALL_IDS)
@pytest.mark.parametrize(
    ("namespace", "key", "error", "argument"),
    [
        pytest.param(1, "key", TypeError, "namespace", id="namespace-int"),
        pytest.param(None, "key", TypeError, "namespace", id="namespace-none"),
        pytest.param("", "key", ValueError, "namespace", id="namespace-empty"),
        pytest.param("flows", 1, TypeError, "key", id="key-int"),
        pytest.param("flows", b"key", TypeError, "key", id="key-bytes"),
        pytest.param("flows", "", ValueError, "key", id="key-empty"),
        pytest.param(
            "caf\udce9", "key", ValueError, "namespace", id="namespace-surrogate"
        ),
        pytest.param("flows", "\ud800", ValueError, "key", id="key-surrogate"),
    ],
)
async def test_invalid_names_rejected(
    storage: Storage,
    call_index: int,
    namespace: Any,
    key: Any,
    error: type[Exception],
    argument: str,
) -> None:
    call = _calls(namespace, key)[call_index]

    with pytest.raises(error, match=rf"^{argument} must be"):
        await call(storage)
    assert await storage.namespaces() == []


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda storage: storage.items(""), id="items-empty"),
        pytest.param(lambda storage: storage.items(None), id="items-none"),
        pytest.param(lambda storage: storage.items("\udce9"), id="items-surrogate"),
    ],
)
async def test_items_rejects_bad_namespace(
    storage: Storage, call: Callable[[Storage], Awaitable[Any]]
) -> None:
    with pytest.raises((TypeError, ValueError), match=r"^namespace must be"):
        await call(storage)


@pytest.mark.parametrize("value", NOT_JSON_VALUES)
async def test_set_rejects_non_json(storage: Storage, value: Any) -> None:
    await storage.set("flows", "config", "old")

    with pytest.raises(TypeError, match="key 'config' in namespace 'flows'"):
        await storage.set("flows", "config", value)
    assert await storage.get("flows", "config") == "old"


@pytest.mark.parametrize("value", NOT_JSON_VALUES)
async def test_set_many_rejects_non_json(storage: Storage, value: Any) -> None:
    with pytest.raises(TypeError, match="key 'bad' in namespace 'flows'"):
        await storage.set_many("flows", {"good": 1, "bad": value})
    assert await storage.items("flows") == {}


async def test_set_many_rejects_pairs(storage: Storage) -> None:
    with pytest.raises(TypeError, match="values must be a mapping"):
        await storage.set_many("flows", [("a", 1)])  # type: ignore[arg-type]


async def test_repr_omits_values(storage: Storage) -> None:
    await storage.set("flows", "flow_id", "value-in-store")

    assert "value-in-store" not in repr(storage)


async def test_concurrent_tasks_lose_nothing(storage: Storage) -> None:
    async def write(index: int) -> None:
        await storage.set("flows", f"key-{index}", index)

    async with anyio.create_task_group() as group:
        for index in range(25):
            group.start_soon(write, index)

    assert await storage.items("flows") == {
        f"key-{index}": index for index in range(25)
    }


async def test_concurrent_set_many_atomic(storage: Storage) -> None:
    # Each set_many writes the same number under both keys, so a reader must
    # never see two different numbers.
    seen: list[tuple[Any, Any]] = []

    async def write(index: int) -> None:
        await storage.set_many("flows", {"first": index, "second": index})

    async def read() -> None:
        for _ in range(20):
            items = await storage.items("flows")
            seen.append((items.get("first"), items.get("second")))

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        for index in range(20):
            group.start_soon(write, index)

    assert [pair for pair in seen if pair[0] != pair[1]] == []


def test_one_storage_many_event_loops(storage: Storage) -> None:
    # A storage made at import time may serve several anyio.run calls, and
    # its in-process lock must not stay bound to the first event loop.
    async def write(prefix: str) -> None:
        async with anyio.create_task_group() as group:
            for index in range(5):
                group.start_soon(storage.set, "flows", f"{prefix}-{index}", index)

    for backend in ("asyncio", "trio", "asyncio"):
        anyio.run(write, backend, backend=backend)

    stored = anyio.run(storage.items, "flows")
    assert sorted(stored) == sorted(
        f"{backend}-{index}" for backend in ("asyncio", "trio") for index in range(5)
    )
