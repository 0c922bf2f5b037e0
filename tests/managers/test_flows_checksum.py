"""The flow checksum: the static function and what a manager puts into it."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest

from aioflows import PERMISSIVE_SCHEMA, FlowsManager

if TYPE_CHECKING:
    from conftest import FlowIds

DEFINITION = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
SCHEMA = {"additionalProperties": True}
OTHER_GROUP = "0e0e0e0e-0000-4000-8000-00000000001e"
OTHER_SUBSCRIPTION = "0f0f0f0f-0000-4000-8000-00000000001f"

# Computed once with hashlib for the inputs above, so a change of the
# serialisation (separators, key order, encoding) cannot pass unnoticed.
DIGEST_WITH_DESCRIPTION = (
    "872aae70d27859c8e425af3aba9201e51efb8c6ee6f2413870fe1b338e46d261"
)
DIGEST_WITHOUT_FIELDS = (
    "e042cc86877177dda090e858575023678732f95af0866a550adb0e4084a2c73c"
)


def offline_manager(**kwargs: Any) -> FlowsManager:
    """Build a manager without a Session: computing checksums sends nothing."""
    kwargs.setdefault("flow_definition", DEFINITION)
    kwargs.setdefault("name", "checksum-test")
    return FlowsManager(**kwargs)


def gladier_formula(
    definition: Any, schema: Any, flow_kwargs: dict[str, Any] | None
) -> str:
    text = (
        json.dumps(definition, sort_keys=True)
        + json.dumps(schema, sort_keys=True)
        + json.dumps(flow_kwargs or {}, sort_keys=True)
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_static_checksum_known_digest() -> None:
    digest = FlowsManager.get_flow_checksum(DEFINITION, SCHEMA, {"description": "v1"})

    assert digest == DIGEST_WITH_DESCRIPTION


def test_static_checksum_without_fields() -> None:
    assert FlowsManager.get_flow_checksum(DEFINITION, SCHEMA) == DIGEST_WITHOUT_FIELDS


def test_static_checksum_none_equals_empty() -> None:
    with_none = FlowsManager.get_flow_checksum(DEFINITION, SCHEMA, None)
    with_empty = FlowsManager.get_flow_checksum(DEFINITION, SCHEMA, {})

    assert with_none == with_empty


@pytest.mark.parametrize(
    "flow_kwargs",
    [None, {}, {"description": "v1", "keywords": ["a", "b"]}, {"title": "é ü"}],
)
def test_static_checksum_matches_gladier(flow_kwargs: dict[str, Any] | None) -> None:
    expected = gladier_formula(DEFINITION, SCHEMA, flow_kwargs)

    assert FlowsManager.get_flow_checksum(DEFINITION, SCHEMA, flow_kwargs) == expected


def test_static_checksum_ignores_key_order() -> None:
    reordered_definition = {
        "States": {"A": {"End": True, "Type": "Pass"}},
        "StartAt": "A",
    }
    reordered_fields = {"keywords": ["x"], "description": "d"}

    first = FlowsManager.get_flow_checksum(
        DEFINITION, SCHEMA, {"description": "d", "keywords": ["x"]}
    )
    second = FlowsManager.get_flow_checksum(
        reordered_definition, dict(SCHEMA), reordered_fields
    )

    assert first == second


def test_static_checksum_sees_list_order() -> None:
    first = FlowsManager.get_flow_checksum(DEFINITION, SCHEMA, {"keywords": ["a", "b"]})
    second = FlowsManager.get_flow_checksum(
        DEFINITION, SCHEMA, {"keywords": ["b", "a"]}
    )

    assert first != second


def test_manager_checksum_covers_sent_fields(ids: FlowIds) -> None:
    manager = offline_manager(
        flow_title="T1",
        globus_group=ids.group1,
        subscription_id=ids.subscription,
        flow_kwargs={"description": "v1", "keywords": ["k"]},
    )
    request = manager.flow_request()
    fields = {
        key: value
        for key, value in request.items()
        if key not in ("definition", "input_schema")
    }

    expected = gladier_formula(request["definition"], request["input_schema"], fields)

    assert manager.checksum() == expected


def test_manager_checksum_unset_schema_is_permissive() -> None:
    implicit = offline_manager(flow_title="T")
    explicit = offline_manager(
        flow_title="T", flow_schema={"additionalProperties": True}
    )

    assert implicit.checksum() == explicit.checksum()


def test_permissive_schema_is_flat() -> None:
    assert dict(PERMISSIVE_SCHEMA) == {"additionalProperties": True}


@pytest.mark.parametrize(
    ("changed_field", "changed_value"),
    [
        ("flow_title", "T2"),
        ("globus_group", OTHER_GROUP),
        ("subscription_id", OTHER_SUBSCRIPTION),
        ("flow_kwargs", {"description": "v2"}),
        ("flow_kwargs", {"description": "v1", "keywords": ["k"]}),
        ("flow_schema", {"type": "object", "additionalProperties": True}),
        (
            "flow_definition",
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
        ),
    ],
)
def test_manager_checksum_changes_with_field(
    ids: FlowIds,
    changed_field: str,
    changed_value: Any,
) -> None:
    base: dict[str, Any] = {
        "flow_title": "T1",
        "globus_group": ids.group1,
        "subscription_id": ids.subscription,
        "flow_kwargs": {"description": "v1"},
    }
    changed = {**base, changed_field: changed_value}

    assert offline_manager(**base).checksum() != offline_manager(**changed).checksum()


def test_manager_checksum_ignores_key_order() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    first = offline_manager(
        flow_title="T",
        flow_schema=schema,
        flow_kwargs={"description": "d", "keywords": ["x"]},
    )
    second = offline_manager(
        flow_title="T",
        flow_definition=dict(reversed(list(DEFINITION.items()))),
        flow_schema=dict(reversed(list(schema.items()))),
        flow_kwargs={"keywords": ["x"], "description": "d"},
    )

    assert first.checksum() == second.checksum()


def test_manager_checksum_same_for_group_urn(ids: FlowIds) -> None:
    by_id = offline_manager(globus_group=ids.group1)
    by_urn = offline_manager(globus_group=f"urn:globus:groups:id:{ids.group1}")

    assert by_id.checksum() == by_urn.checksum()
