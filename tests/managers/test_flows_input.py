"""Bad input to FlowsManager is rejected in the constructor, before any request."""

from __future__ import annotations

import inspect
import math
from types import MappingProxyType
from typing import Any

import pytest

import aioflows
from aioflows import FlowsManager, ensure_flow_registered

DEFINITION = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
FLOW_ID = "0a0a0a0a-0000-4000-8000-000000000001"


def offline_manager(**kwargs: Any) -> FlowsManager:
    """Build a manager without a Session: construction sends nothing."""
    kwargs.setdefault("flow_definition", DEFINITION)
    kwargs.setdefault("name", "input-test")
    return FlowsManager(**kwargs)


# Ids


@pytest.mark.parametrize(
    "flow_id",
    [
        "not-a-uuid",
        "",
        "../runs",
        FLOW_ID.replace("-", ""),
        f"{{{FLOW_ID}}}",
        f"urn:uuid:{FLOW_ID}",
        f"{FLOW_ID}/run",
    ],
)
def test_flow_id_not_uuid(flow_id: str) -> None:
    with pytest.raises(ValueError, match="flow_id"):
        offline_manager(flow_id=flow_id)


def test_flow_id_not_string() -> None:
    with pytest.raises(ValueError, match="flow_id must be a UUID string"):
        offline_manager(flow_id=12345)


def test_flow_id_canonicalised() -> None:
    assert offline_manager(flow_id=FLOW_ID.upper()).flow_id == FLOW_ID


def test_flow_id_checked_on_change() -> None:
    manager = offline_manager()

    with pytest.raises(ValueError, match="flow_id"):
        manager.flow_id = "../runs"


def test_subscription_id_not_uuid() -> None:
    with pytest.raises(ValueError, match="subscription_id"):
        offline_manager(subscription_id="my-subscription")


def test_group_not_uuid() -> None:
    with pytest.raises(ValueError, match="group id"):
        offline_manager(globus_group="my-group")


# Definition and schema


@pytest.mark.parametrize("definition", [["StartAt", "A"], "StartAt: A", 42])
def test_definition_not_mapping(definition: Any) -> None:
    with pytest.raises(TypeError, match="flow_definition must be a mapping"):
        offline_manager(flow_definition=definition)


def test_definition_without_start_at() -> None:
    with pytest.raises(ValueError, match="flow_definition must have a 'StartAt'"):
        offline_manager(flow_definition={"States": DEFINITION["States"]})


def test_definition_start_at_not_string() -> None:
    with pytest.raises(ValueError, match="StartAt"):
        offline_manager(flow_definition={**DEFINITION, "StartAt": 1})


def test_definition_without_states() -> None:
    with pytest.raises(
        ValueError, match="flow_definition must have a non-empty 'States'"
    ):
        offline_manager(flow_definition={"StartAt": "A"})


def test_definition_empty_states() -> None:
    with pytest.raises(ValueError, match="States"):
        offline_manager(flow_definition={"StartAt": "A", "States": {}})


def test_definition_start_not_a_state() -> None:
    with pytest.raises(ValueError, match="'B', which is not one of its States"):
        offline_manager(flow_definition={**DEFINITION, "StartAt": "B"})


@pytest.mark.parametrize("bad_value", [object(), {1, 2}, math.nan, b"bytes"])
def test_definition_not_serialisable(bad_value: Any) -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Result": bad_value, "End": True}},
    }

    with pytest.raises(TypeError, match="flow_definition is not JSON-serialisable"):
        offline_manager(flow_definition=definition)


def test_definition_checked_on_change() -> None:
    manager = offline_manager()

    with pytest.raises(ValueError, match="StartAt"):
        manager.flow_definition = {"States": DEFINITION["States"]}


def test_definition_copied() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    manager = offline_manager(flow_definition=definition)
    before = manager.checksum()

    definition["States"]["A"]["Type"] = "Fail"

    assert manager.checksum() == before


def test_schema_not_mapping() -> None:
    with pytest.raises(TypeError, match="flow_schema must be a mapping"):
        offline_manager(flow_schema=["a"])


def test_schema_not_serialisable() -> None:
    with pytest.raises(TypeError, match="flow_schema is not JSON-serialisable"):
        offline_manager(flow_schema={"default": object()})


# Other fields


def test_flow_kwargs_not_mapping() -> None:
    with pytest.raises(TypeError, match="flow_kwargs must be a mapping"):
        offline_manager(flow_kwargs=[("description", "x")])


def test_flow_kwargs_not_serialisable() -> None:
    with pytest.raises(TypeError, match="flow_kwargs is not JSON-serialisable"):
        offline_manager(flow_kwargs={"description": object()})


def test_run_kwargs_not_mapping() -> None:
    with pytest.raises(TypeError, match="run_kwargs must be a mapping"):
        offline_manager(run_kwargs="label=x")


def test_run_kwargs_not_serialisable() -> None:
    with pytest.raises(TypeError, match="run_kwargs is not JSON-serialisable"):
        offline_manager(run_kwargs={"tags": {1, 2}})


def test_title_not_string() -> None:
    with pytest.raises(TypeError, match="flow_title must be a string"):
        offline_manager(flow_title=7)


@pytest.mark.parametrize("title", ["", "   "])
def test_title_empty(title: str) -> None:
    with pytest.raises(ValueError, match="flow_title must be a non-empty string"):
        offline_manager(flow_title=title)


@pytest.mark.parametrize("name", ["", "  ", 5])
def test_name_invalid(name: Any) -> None:
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        offline_manager(name=name)


def test_no_namespace_rejected() -> None:
    with pytest.raises(ValueError, match="stable storage namespace"):
        FlowsManager(flow_definition=DEFINITION)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"name": "n", "flow_title": "t"}, "n"),
        ({"flow_title": "t"}, "t"),
        ({"flow_id": FLOW_ID}, FLOW_ID),
    ],
)
def test_namespace_derived(options: dict[str, Any], expected: str) -> None:
    assert FlowsManager(flow_definition=DEFINITION, **options).name == expected


@pytest.mark.parametrize("length", [2, 0, -1])
def test_max_label_length_too_small(length: int) -> None:
    with pytest.raises(ValueError, match="max_label_length"):
        offline_manager(max_label_length=length)


# The public signature


def test_signature_matches_documented_order() -> None:
    parameters = inspect.signature(FlowsManager).parameters

    positional = [
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    keyword_only = [
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]

    assert positional == [
        "flow_id",
        "flow_definition",
        "flow_schema",
        "flow_title",
        "subscription_id",
        "globus_group",
        "on_change",
        "redeploy_on_404",
        "flow_kwargs",
        "run_kwargs",
    ]
    assert sorted(keyword_only) == sorted(
        ["session", "storage", "tokens", "name", "max_label_length"]
    )


def test_signature_defaults() -> None:
    parameters = inspect.signature(FlowsManager).parameters

    assert parameters["on_change"].default is ensure_flow_registered
    assert parameters["redeploy_on_404"].default is True
    assert parameters["max_label_length"].default == 64


def test_exported_from_package() -> None:
    assert aioflows.FlowsManager is FlowsManager
    assert aioflows.ensure_flow_registered is ensure_flow_registered


def test_checksum_is_static() -> None:
    assert isinstance(
        inspect.getattr_static(FlowsManager, "get_flow_checksum"), staticmethod
    )


@pytest.mark.anyio
@pytest.mark.parametrize("body", ["x", ["a", "b"], 3])
async def test_run_body_not_mapping(body: Any) -> None:
    manager = offline_manager(flow_id=FLOW_ID)

    with pytest.raises(TypeError, match="run body must be a mapping"):
        await manager.run_flow(body)


def test_definition_bad_value_located() -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Result": [1, math.inf], "End": True}},
    }

    with pytest.raises(TypeError) as caught:
        offline_manager(flow_definition=definition)

    assert "the value at ['States']['A']['Result'][1] is inf" in str(caught.value)


def test_definition_surrogate_key_rejected() -> None:
    definition = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Result": {"\udc80": 1}, "End": True}},
    }

    with pytest.raises(TypeError, match="lone surrogate") as caught:
        offline_manager(flow_definition=definition)

    assert "['States']['A']['Result']" in str(caught.value)


def test_definition_read_only_mapping_accepted() -> None:
    manager = offline_manager(flow_definition=MappingProxyType(DEFINITION))

    assert manager.flow_definition == DEFINITION
