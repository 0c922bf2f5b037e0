"""Malformed flow and run bodies: each gets 422 naming the field, never a crash."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from emulator_helpers import create_flow, pass_definition, start_run

from aioflows.emulator._context import MAX_JSON_DEPTH
from aioflows.emulator._validation import input_problems

pytestmark = pytest.mark.anyio


def _one_state(**fields: Any) -> dict[str, Any]:
    """Return a definition whose only state, A, has *fields* besides its Type."""
    return {"StartAt": "A", "States": {"A": {"Type": "Pass", **fields}}}


def _choice(choices: Any) -> dict[str, Any]:
    """Return a definition whose Choice state A has *choices* and a Default."""
    return {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Choice", "Choices": choices, "Default": "B"},
            "B": {"Type": "Pass", "End": True},
        },
    }


_STATE = ["definition", "States", "A"]

BAD_DEFINITIONS = {
    "start-at-list": (
        {"StartAt": ["A"], "States": {"A": {"Type": "Pass", "End": True}}},
        ["definition", "StartAt"],
    ),
    "state-not-object": ({"StartAt": "A", "States": {"A": 5}}, _STATE),
    "next-list": (_one_state(Next=["A"]), [*_STATE, "Next"]),
    "default-number": (_one_state(Default=5, End=True), [*_STATE, "Default"]),
    "end-string": (_one_state(End="yes"), [*_STATE, "End"]),
    "choices-number": (_choice(5), [*_STATE, "Choices"]),
    "choices-empty": (_choice([]), [*_STATE, "Choices"]),
    "choice-rule-string": (_choice(["B"]), [*_STATE, "Choices", 0]),
    "choice-rule-no-next": (
        _choice([{"Variable": "$.x", "IsPresent": True}]),
        [*_STATE, "Choices", 0, "Next"],
    ),
    "choice-and-number": (
        _choice([{"And": 5, "Next": "B"}]),
        [*_STATE, "Choices", 0, "And"],
    ),
    "choice-or-item-string": (
        _choice([{"Or": ["x"], "Next": "B"}]),
        [*_STATE, "Choices", 0, "Or", 0],
    ),
    "choice-not-list": (
        _choice([{"Not": [], "Next": "B"}]),
        [*_STATE, "Choices", 0, "Not"],
    ),
    "catch-object": (_one_state(End=True, Catch={"Next": "A"}), [*_STATE, "Catch"]),
    "catcher-no-next": (
        _one_state(End=True, Catch=[{"ErrorEquals": ["States.ALL"]}]),
        [*_STATE, "Catch", 0],
    ),
}


@pytest.mark.parametrize("case", list(BAD_DEFINITIONS))
async def test_create_bad_definition_422(client: httpx.AsyncClient, case: str) -> None:
    definition, loc = BAD_DEFINITIONS[case]

    response = await client.post(
        "/flows", json={"title": "x", "definition": definition}
    )

    assert response.status_code == 422
    assert response.json()["error"]["detail"][0]["loc"] == loc


async def test_nested_choice_rules_accepted(client: httpx.AsyncClient) -> None:
    rule = {
        "And": [
            {"Variable": "$.x", "IsPresent": True},
            {"Not": {"Variable": "$.x", "IsNull": True}},
        ],
        "Next": "B",
    }

    flow = await create_flow(client, _choice([rule]))

    assert flow["definition"]["States"]["A"]["Choices"] == [rule]


BAD_SCHEMAS = {
    "required-number": ({"required": 5}, ["input_schema", "required"]),
    "required-null": ({"required": None}, ["input_schema", "required"]),
    "required-item-number": ({"required": [1]}, ["input_schema", "required"]),
    "properties-list": ({"properties": []}, ["input_schema", "properties"]),
    "property-number": ({"properties": {"a": 5}}, ["input_schema", "properties"]),
}


@pytest.mark.parametrize("case", list(BAD_SCHEMAS))
async def test_create_bad_schema_422(client: httpx.AsyncClient, case: str) -> None:
    schema, loc = BAD_SCHEMAS[case]
    body = {"title": "x", "definition": pass_definition(), "input_schema": schema}

    response = await client.post("/flows", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["detail"][0]["loc"] == loc


async def test_boolean_property_schema_accepted(client: httpx.AsyncClient) -> None:
    schema = {"properties": {"anything": True}, "required": ["anything"]}

    flow = await create_flow(client, input_schema=schema)

    assert flow["input_schema"] == schema


async def test_update_bad_schema_422(client: httpx.AsyncClient) -> None:
    flow = await create_flow(client)

    response = await client.put(
        f"/flows/{flow['id']}", json={"input_schema": {"required": "a"}}
    )
    after = await client.get(f"/flows/{flow['id']}")

    assert response.status_code == 422
    assert after.json()["input_schema"] == {}


def _nested_body(depth: int) -> bytes:
    """Encode a create body nested exactly *depth* levels deep."""
    # The body, definition, States and state objects are the first 4 levels.
    result: Any = []
    for _ in range(depth - 5):
        result = [result]
    definition = _one_state(End=True, Result=result)
    return json.dumps({"title": "deep", "definition": definition}).encode()


async def test_body_at_depth_limit_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/flows", content=_nested_body(MAX_JSON_DEPTH))

    assert response.status_code == 201


async def test_body_over_depth_limit_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/flows", content=_nested_body(MAX_JSON_DEPTH + 1))

    detail = response.json()["error"]["detail"]
    assert response.status_code == 422
    assert detail[0]["loc"] == ["body"]
    assert str(MAX_JSON_DEPTH) in detail[0]["msg"]


async def test_body_past_parser_limit_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/flows", content=b"[" * 100_000)

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("fields", "loc"),
    [({"tags": 5}, ["tags"]), ({"tags": [1]}, ["tags"]), ({"label": 5}, ["label"])],
)
async def test_run_bad_fields_422(
    client: httpx.AsyncClient, fields: dict[str, Any], loc: list[str]
) -> None:
    flow = await create_flow(client)

    response = await client.post(
        f"/flows/{flow['id']}/run", json={"body": {}, **fields}
    )

    assert response.status_code == 422
    assert response.json()["error"]["detail"][0]["loc"] == loc


async def test_run_string_tags_accepted(client: httpx.AsyncClient) -> None:
    flow = await create_flow(client)

    run = await start_run(client, flow["id"], {}, tags=["one", "two"])

    assert run["tags"] == ["one", "two"]


def test_input_check_skips_bad_stored_schema() -> None:
    problems = input_problems({"required": 5, "properties": 5}, {"a": 1})

    assert problems == []
