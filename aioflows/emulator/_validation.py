"""Checks of flow and run request bodies, reported as validation problems.

Each check returns a list of ``{"loc", "msg", "type"}`` entries, the items
of the ``detail`` list in a 422 error. The emulator checks the structure it
needs and accepts the rest, so definitions with constructs it does not model
still deploy.
"""

from __future__ import annotations

import re
from typing import Any

from ._definition_checks import definition_problems
from ._principals import FLOW_ROLE_FIELDS, validate_roles

__all__ = ["flow_body_problems", "input_problems", "run_body_problems"]

_MAX_TITLE_LENGTH = 128
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_STRING_FIELDS = ("subtitle", "description")
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _problem(loc: list[Any], message: str) -> dict[str, Any]:
    return {"loc": loc, "msg": message, "type": "value_error"}


def flow_body_problems(body: Any, *, creating: bool) -> list[dict[str, Any]]:
    """Check the body of a flow create or update request.

    Args:
        body: The decoded body.
        creating: True for ``POST /flows``, where ``title`` and
            ``definition`` are required; False for ``PUT``, where every field
            is optional.

    Returns:
        The problems found, empty when the body is acceptable.
    """
    if not isinstance(body, dict):
        return [_problem(["body"], "The request body must be a JSON object")]

    problems = _title_problems(body, creating)
    if creating or body.get("definition") is not None:
        problems += definition_problems(body.get("definition"))
    problems += _simple_field_problems(body)
    problems += _input_schema_problems(body.get("input_schema"))
    problems += validate_roles(body, FLOW_ROLE_FIELDS)
    return problems


def _title_problems(body: dict[str, Any], creating: bool) -> list[dict[str, Any]]:
    title = body.get("title")
    if title is None and not creating:
        return []
    if not isinstance(title, str) or not title.strip():
        return [_problem(["title"], "title must be a non-empty string")]
    if len(title) > _MAX_TITLE_LENGTH:
        return [
            _problem(["title"], f"title must be at most {_MAX_TITLE_LENGTH} characters")
        ]
    return []


def _simple_field_problems(body: dict[str, Any]) -> list[dict[str, Any]]:
    problems = []
    for field in _STRING_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], str):
            problems.append(_problem([field], f"{field} must be a string"))

    keywords = body.get("keywords")
    if keywords is not None and not (
        isinstance(keywords, list) and all(isinstance(word, str) for word in keywords)
    ):
        problems.append(_problem(["keywords"], "keywords must be a list of strings"))

    subscription_id = body.get("subscription_id")
    if subscription_id is not None and not (
        isinstance(subscription_id, str) and _UUID.fullmatch(subscription_id)
    ):
        problems.append(
            _problem(["subscription_id"], "subscription_id must be a UUID or null")
        )
    return problems


def _input_schema_problems(schema: Any) -> list[dict[str, Any]]:
    # Only the keywords that input_problems reads are checked.
    if schema is None:
        return []
    if not isinstance(schema, dict):
        return [_problem(["input_schema"], "input_schema must be a JSON object")]

    problems = []
    required = schema.get("required", [])
    if not (isinstance(required, list) and all(isinstance(n, str) for n in required)):
        problems.append(
            _problem(
                ["input_schema", "required"],
                "required must be a list of property names",
            )
        )

    properties = schema.get("properties", {})
    if not (
        isinstance(properties, dict)
        and all(isinstance(p, (dict, bool)) for p in properties.values())
    ):
        problems.append(
            _problem(
                ["input_schema", "properties"],
                "properties must be a JSON object that maps each property name "
                "to a schema (an object or a boolean)",
            )
        )
    return problems


def run_body_problems(body: Any) -> list[dict[str, Any]]:
    """Check the fields of a run request body that the emulator stores.

    Args:
        body: The decoded body of ``POST /flows/{flow_id}/run``.

    Returns:
        The problems found, empty when the body is acceptable. The role
        lists and the run input are checked separately.
    """
    if not isinstance(body, dict):
        return [_problem(["body"], "The request body must be a JSON object")]

    problems = []
    label = body.get("label")
    if label is not None and not isinstance(label, str):
        problems.append(_problem(["label"], "label must be a string"))

    tags = body.get("tags")
    if tags is not None and not (
        isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
    ):
        problems.append(_problem(["tags"], "tags must be a list of strings"))
    return problems


def input_problems(schema: dict[str, Any], run_input: Any) -> list[dict[str, Any]]:
    """Check a run input against the top level of a flow's input schema.

    Only the top-level ``type``, ``required`` and the simple ``type`` of each
    top-level property are checked; the rest of the JSON Schema is not.

    Args:
        schema: The flow's input schema.
        run_input: The run's ``body``.

    Returns:
        Problems with JSONPath locations such as ``$.source``.
    """
    if not isinstance(run_input, dict):
        return [
            {
                "loc": ["$"],
                "type": "InvalidActionInput",
                "msg": "The run input must be a JSON object",
            }
        ]

    # A schema saved by an older emulator may hold keywords of the wrong
    # type, and those are skipped here instead of failing every run.
    required = schema.get("required")
    properties = schema.get("properties")
    problems = []
    for name in required if isinstance(required, list) else []:
        if isinstance(name, str) and name not in run_input:
            problems.append(
                {
                    "loc": [f"$.{name}"],
                    "type": "InvalidActionInput",
                    "msg": f"{name!r} is a required property",
                }
            )

    for name, prop in properties.items() if isinstance(properties, dict) else []:
        if (
            name in run_input
            and isinstance(prop, dict)
            and not _has_type(run_input[name], prop.get("type"))
        ):
            problems.append(
                {
                    "loc": [f"$.{name}"],
                    "type": "InvalidActionInput",
                    "msg": f"{run_input[name]!r} is not of type {prop.get('type')!r}",
                }
            )
    return problems


def _has_type(value: Any, expected: Any) -> bool:
    names = expected if isinstance(expected, list) else [expected]
    if any(
        not isinstance(name, str) or (name not in _JSON_TYPES and name != "null")
        for name in names
    ):
        return True

    for name in names:
        if name == "null" and value is None:
            return True
        if name in _JSON_TYPES and isinstance(value, _JSON_TYPES[name]):
            if name in ("integer", "number") and isinstance(value, bool):
                continue
            return True
    return False
