"""The flow interpreter: JSONPath, expressions, Choice rules and real definitions."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from emulator_helpers import create_flow, start_run

from aioflows.emulator import ManualClock
from aioflows.emulator._choice import choose_next
from aioflows.emulator._engine import RunTiming, execute
from aioflows.emulator._expressions import (
    ExpressionError,
    UnsupportedExpression,
    evaluate,
)
from aioflows.emulator._ids import IdSource
from aioflows.emulator._jsonpath import MISSING, JSONPathError, get_path, set_path

SHARED_FLOWS = Path(__file__).resolve().parents[3] / "shared" / "flows-real"
LOCAL_FLOWS = Path(__file__).resolve().parent / "data"


def _run(definition: dict[str, Any], run_input: Any) -> Any:
    return execute(
        definition,
        run_input,
        context={
            "run_id": "r",
            "flow_id": "f",
            "user_id": "u",
            "username": "user@example.org",
            "email": None,
        },
        start=0.0,
        timing=RunTiming(),
        ids=IdSource(random.Random(0)),
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", {"a": {"b": [1, 2, 3]}}),
        ("$.a.b[0]", 1),
        ("$.a.b[-1]", 3),
        ("$.a.b[1:]", [2, 3]),
        ("$['a']['b'][1]", 2),
        ("$.a.missing", MISSING),
        ("$.a.b[7]", MISSING),
    ],
)
def test_get_path_cases(path: str, expected: Any) -> None:
    assert get_path({"a": {"b": [1, 2, 3]}}, path) == expected


def test_get_path_rejects_filters() -> None:
    with pytest.raises(JSONPathError):
        get_path({}, "$.a[?(@.b)]")


def test_set_path_creates_parents() -> None:
    original = {"x": 1}

    updated = set_path(original, "$.a.b", 2)

    assert updated == {"x": 1, "a": {"b": 2}}
    assert original == {"x": 1}


@pytest.mark.parametrize(
    ("expression", "names", "expected"),
    [
        ("state_manager.counter + 1", {"state_manager": {"counter": 4}}, 5),
        (
            "[item.name for item in listing if item.size > 1]",
            {"listing": [{"name": "a", "size": 2}, {"name": "b", "size": 0}]},
            ["a"],
        ),
        ("path.rstrip('/') + '/' + name", {"path": "/data/", "name": "f"}, "/data/f"),
        ("source.rpartition('/')[2]", {"source": "/a/b.txt"}, "b.txt"),
        ("pathsplit('/a/b.tgz')[1]", {}, "b.tgz"),
        ("getattr('absent', 'fallback')", {}, "fallback"),
        ("'x' if flag else 'y'", {"flag": False}, "y"),
        ("'type' in d and d.type == 'dir'", {"d": {"type": "dir"}}, True),
        ("str(len(items))", {"items": [1, 2]}, "2"),
        ("`$._context.user_id` + '!'", {"_context": {"user_id": "me"}}, "me!"),
    ],
)
def test_evaluate_supported_cases(
    expression: str, names: dict[str, Any], expected: Any
) -> None:
    assert evaluate(expression, names) == expected


@pytest.mark.parametrize(
    "expression",
    ["__import__('os')", "x.__class__", "2 ** 8", "lambda: 1", "open('/etc/passwd')"],
)
def test_evaluate_rejects_unsafe(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, {"x": "a"})


@pytest.mark.parametrize(
    "expression",
    [
        "'a' * 10000000",
        "'a'.zfill(10000000)",
        "[x for x in range(1000) for y in range(10000)]",
    ],
)
def test_evaluate_bounds_size(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, {})


def test_evaluate_unknown_function_unsupported() -> None:
    with pytest.raises(UnsupportedExpression):
        evaluate("now()", {})


def test_evaluate_missing_name_fails() -> None:
    with pytest.raises(ExpressionError, match="not defined"):
        evaluate("nothing + 1", {})


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"Variable": "$.n", "NumericLessThan": 10}, "Yes"),
        ({"Variable": "$.n", "NumericGreaterThanEquals": 10}, "No"),
        ({"Variable": "$.s", "StringEquals": "go"}, "Yes"),
        ({"Variable": "$.s", "StringMatches": "g*"}, "Yes"),
        ({"Variable": "$.n", "NumericLessThanPath": "$.limit"}, "Yes"),
        ({"Variable": "$.absent", "IsPresent": False}, "Yes"),
        ({"Variable": "$.absent", "StringEquals": "go"}, "No"),
        ({"Variable": "$.s", "NumericEquals": 1}, "No"),
        (
            {
                "And": [
                    {"Variable": "$.flag", "BooleanEquals": True},
                    {"Variable": "$.n", "NumericEquals": 3},
                ]
            },
            "Yes",
        ),
        (
            {
                "Or": [
                    {"Variable": "$.flag", "BooleanEquals": False},
                    {"Variable": "$.s", "StringEquals": "stop"},
                ]
            },
            "No",
        ),
        ({"Not": {"Variable": "$.flag", "BooleanEquals": False}}, "Yes"),
        ({"Variable": "$.s", "SomeFutureOperator": "go"}, "No"),
    ],
)
def test_choice_rule_cases(rule: dict[str, Any], expected: str) -> None:
    spec = {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"}

    assert choose_next(spec, {"n": 3, "s": "go", "flag": True, "limit": 5}) == expected


def test_loop_counts_to_ten() -> None:
    definition = json.loads(
        (
            LOCAL_FLOWS / "globus-automate-client__loop_a_set_number_of_times.json"
        ).read_text()
    )["definition"]

    trajectory = _run(definition, {})

    assert trajectory.status == "SUCCEEDED"
    assert trajectory.final_details["output"]["state_manager"]["counter"] == 10


def test_hello_world_loop_consumes_list() -> None:
    definition = json.loads(
        (LOCAL_FLOWS / "globus-automate-client__complex_hello_world.json").read_text()
    )["definition"]

    trajectory = _run(definition, {"input": {"Hellos": ["a", "b", "c"]}})

    started = [
        entry
        for entry in trajectory.entries
        if entry.code == "ActionStarted"
        and entry.details["state_name"] == "RunHelloWorld"
    ]
    assert trajectory.status == "SUCCEEDED"
    assert len(started) == 3


def test_unmodelled_state_noted() -> None:
    definition = {
        "StartAt": "Old",
        "States": {"Old": {"Type": "ActionWait", "End": True}},
    }

    trajectory = _run(definition, {"a": 1})

    completed = trajectory.entries[-2]
    assert trajectory.status == "SUCCEEDED"
    assert "ActionWait" in completed.details["emulator_notes"][0]


def test_missing_path_gives_null() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Pass",
                "Parameters": {"v.$": "$.nothing"},
                "ResultPath": "$.out",
                "End": True,
            }
        },
    }

    trajectory = _run(definition, {})

    assert trajectory.final_details["output"] == {"out": {"v": None}}


def _sample(schema: Any, definitions: dict[str, Any]) -> Any:
    """Build a small value that satisfies the simple parts of a JSON Schema."""
    if not isinstance(schema, dict):
        return "sample"
    if "$ref" in schema:
        return _sample(
            definitions.get(schema["$ref"].rpartition("/")[2], {}), definitions
        )
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for combinator in ("oneOf", "anyOf", "allOf"):
        if schema.get(combinator):
            return _sample(schema[combinator][0], definitions)

    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            name: _sample(properties.get(name, {}), definitions)
            for name in schema.get("required", [])
        }
    return {
        "array": [],
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "null": None,
    }.get(str(kind), "/sample/path/")


def _flow_files() -> list[Path]:
    local = sorted(LOCAL_FLOWS.glob("*.json"))
    shared = sorted(SHARED_FLOWS.glob("*.json")) if SHARED_FLOWS.is_dir() else []
    return local + shared


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path", _flow_files(), ids=lambda path: f"{path.parent.name}/{path.stem}"
)
async def test_real_flow_runs_to_end(
    path: Path, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    document = json.loads(await anyio.Path(path).read_text())
    schema = document.get("input_schema") or {}
    definitions = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    run_input = _sample(schema, definitions) if schema else {}
    flow = await create_flow(
        client,
        document["definition"],
        title=document["title"][:128],
        input_schema=schema,
    )

    run = await start_run(client, flow["id"], run_input)
    clock.advance(3600)
    done = (await client.get(f"/runs/{run['run_id']}")).json()

    assert "source" in document
    assert done["status"] in ("SUCCEEDED", "FAILED")


@pytest.mark.skipif(
    not SHARED_FLOWS.is_dir(),
    reason="the collection of 20 public flow definitions is not on this machine",
)
def test_shared_flow_collection_complete() -> None:
    assert len(list(SHARED_FLOWS.glob("*.json"))) == 20
