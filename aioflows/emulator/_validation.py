"""Checks of flow and run request bodies, reported as validation problems.

Each check returns a list of ``{"loc", "msg", "type"}`` entries, the items
of the ``detail`` list in a 422 error. The emulator checks the structure it
needs and accepts the rest, so definitions with constructs it does not model
still deploy.
"""

from __future__ import annotations

import re
from typing import Any

from ._principals import FLOW_ROLE_FIELDS, validate_roles

__all__ = ["flow_body_problems", "input_problems"]

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

    problems = _title_problems(body, creating) + _definition_problems(body, creating)
    problems += _simple_field_problems(body)
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


def _definition_problems(body: dict[str, Any], creating: bool) -> list[dict[str, Any]]:
    definition = body.get("definition")
    if definition is None and not creating:
        return []
    if not isinstance(definition, dict):
        return [_problem(["definition"], "definition must be a JSON object")]

    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        return [_problem(["definition", "States"], "States must be a non-empty object")]

    start_at = definition.get("StartAt")
    if start_at not in states:
        return [
            _problem(
                ["definition", "StartAt"],
                f"StartAt {start_at!r} does not name a state in States",
            )
        ]

    problems = []
    for name, state in states.items():
        for target in _targets_of(state):
            if target not in states:
                problems.append(
                    _problem(
                        ["definition", "States", name],
                        f"State {name!r} moves to {target!r}, which is not a state in States",
                    )
                )
    return problems


def _targets_of(state: Any) -> list[Any]:
    if not isinstance(state, dict):
        return []

    targets = [state["Next"]] if "Next" in state else []
    if "Default" in state:
        targets.append(state["Default"])
    for rule in state.get("Choices") or []:
        if isinstance(rule, dict) and "Next" in rule:
            targets.append(rule["Next"])
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, dict) and "Next" in catcher:
            targets.append(catcher["Next"])
    return targets


def _simple_field_problems(body: dict[str, Any]) -> list[dict[str, Any]]:
    problems = []
    for field in _STRING_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], str):
            problems.append(_problem([field], f"{field} must be a string"))

    schema = body.get("input_schema")
    if schema is not None and not isinstance(schema, dict):
        problems.append(
            _problem(["input_schema"], "input_schema must be a JSON object")
        )

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

    problems = []
    for name in schema.get("required") or []:
        if isinstance(name, str) and name not in run_input:
            problems.append(
                {
                    "loc": [f"$.{name}"],
                    "type": "InvalidActionInput",
                    "msg": f"{name!r} is a required property",
                }
            )

    for name, prop in (schema.get("properties") or {}).items():
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
