"""Structural checks of a flow definition in a create or update request.

The emulator checks what its interpreter reads (``StartAt``, each state's
``Next``, ``Default``, ``End``, ``Choices`` and ``Catch``) and accepts the
rest, so definitions with constructs it does not model still deploy. A
definition that passes these checks can be run without the interpreter
meeting a value of the wrong type.
"""

from __future__ import annotations

from typing import Any

__all__ = ["definition_problems"]


def _problem(loc: list[Any], message: str) -> dict[str, Any]:
    return {"loc": loc, "msg": message, "type": "value_error"}


def definition_problems(definition: Any) -> list[dict[str, Any]]:
    """Check the structure of a flow definition.

    Args:
        definition: The ``definition`` field of the request body.

    Returns:
        ``{"loc", "msg", "type"}`` entries with locations under
        ``definition``, empty when the definition is acceptable.
    """
    if not isinstance(definition, dict):
        return [_problem(["definition"], "definition must be a JSON object")]

    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        return [_problem(["definition", "States"], "States must be a non-empty object")]

    start_at = definition.get("StartAt")
    if not isinstance(start_at, str) or start_at not in states:
        return [
            _problem(
                ["definition", "StartAt"],
                f"StartAt {start_at!r} does not name a state in States",
            )
        ]

    problems = []
    for name, state in states.items():
        problems += _state_problems(name, state, states)
    return problems


def _state_problems(
    name: str, state: Any, states: dict[str, Any]
) -> list[dict[str, Any]]:
    loc = ["definition", "States", name]
    if not isinstance(state, dict):
        return [_problem(loc, f"State {name!r} must be a JSON object")]

    problems = _field_type_problems(loc, state)
    if problems:
        return problems

    for target in _targets_of(state):
        if target not in states:
            problems.append(
                _problem(
                    loc,
                    f"State {name!r} moves to {target!r}, which is not a state in States",
                )
            )
    return problems


def _field_type_problems(loc: list[Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    problems = []
    for field in ("Next", "Default"):
        if field in state and not isinstance(state[field], str):
            problems.append(_problem([*loc, field], f"{field} must be a state name"))

    if "End" in state and not isinstance(state["End"], bool):
        problems.append(_problem([*loc, "End"], "End must be true or false"))

    if state.get("Type") == "Choice" or "Choices" in state:
        problems += _choices_problems([*loc, "Choices"], state.get("Choices"))

    if "Catch" in state:
        problems += _catch_problems([*loc, "Catch"], state["Catch"])
    return problems


def _choices_problems(loc: list[Any], choices: Any) -> list[dict[str, Any]]:
    if not isinstance(choices, list) or not choices:
        return [_problem(loc, "Choices must be a non-empty list of Choice rules")]

    problems = []
    for index, rule in enumerate(choices):
        problems += _rule_problems([*loc, index], rule)
        if isinstance(rule, dict) and not isinstance(rule.get("Next"), str):
            problems.append(
                _problem(
                    [*loc, index, "Next"], "Each Choice rule needs a Next state name"
                )
            )
    return problems


def _rule_problems(loc: list[Any], rule: Any) -> list[dict[str, Any]]:
    # Nesting is bounded by the request body's depth limit, so recursion is safe.
    if not isinstance(rule, dict):
        return [_problem(loc, "A Choice rule must be a JSON object")]

    problems = []
    for operator in ("And", "Or"):
        if operator not in rule:
            continue
        parts = rule[operator]
        if not isinstance(parts, list):
            problems.append(
                _problem([*loc, operator], f"{operator} must be a list of Choice rules")
            )
            continue
        for index, part in enumerate(parts):
            problems += _rule_problems([*loc, operator, index], part)

    if "Not" in rule:
        problems += _rule_problems([*loc, "Not"], rule["Not"])
    return problems


def _catch_problems(loc: list[Any], catchers: Any) -> list[dict[str, Any]]:
    if not isinstance(catchers, list):
        return [_problem(loc, "Catch must be a list of catcher objects")]

    problems = []
    for index, catcher in enumerate(catchers):
        if not isinstance(catcher, dict) or not isinstance(catcher.get("Next"), str):
            problems.append(
                _problem(
                    [*loc, index],
                    "Each catcher must be an object with a Next state name",
                )
            )
    return problems


def _targets_of(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    if "Default" in state:
        targets.append(state["Default"])
    for rule in state.get("Choices") or []:
        targets.append(rule["Next"])
    for catcher in state.get("Catch") or []:
        targets.append(catcher["Next"])
    return targets
