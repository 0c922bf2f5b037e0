"""The interpreter that plays a flow definition into a timed run log.

A run is computed in full when it starts: every state is stepped through at
once and each log entry gets an offset in seconds from the start. The run's
visible status at any moment is the prefix of entries whose offsets have passed
(see ``_runs.py``). Actions succeed with synthetic documents, so the whole run is
known up front and needs no background task.

What the interpreter does not model it accepts: unknown state types pass their
input through, a JSONPath or expression it cannot resolve yields null, and a
note in the state's log entry records it. Loops are bounded by
:attr:`RunTiming.max_states`.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs

from ._actions import action_details
from ._choice import choose_next
from ._clock import format_timestamp
from ._expressions import ExpressionError, evaluate
from ._identities import identity_urn
from ._ids import IdSource
from ._jsonpath import MISSING, JSONPathError, get_path, set_path

__all__ = ["LogEntry", "RunTiming", "Trajectory", "execute"]


@attrs.frozen
class RunTiming:
    """How long the states of emulated runs take on the emulator clock.

    Attributes:
        action_seconds: Duration of each Action and AwaitWebInput state.
        max_wait_seconds: Upper bound on a Wait state's duration, so a flow
            that waits 30 minutes finishes in seconds.
        max_states: States executed before a run is stopped as a runaway
            loop; it then ends FAILED.
    """

    action_seconds: float = 0.5
    max_wait_seconds: float = 1.0
    max_states: int = 1_000


@attrs.frozen(eq=False)
class LogEntry:
    """One run log entry, placed in time relative to the run's start.

    Attributes:
        offset: Seconds after the run's start.
        code: The log code, such as ``ActionStarted``.
        description: A sentence about the event.
        details: The entry's details object.
    """

    offset: float
    code: str
    description: str
    details: dict[str, Any]


@attrs.frozen(eq=False)
class Trajectory:
    """The complete, timed course of one run.

    Attributes:
        entries: Log entries in time order; the last one ends the run.
        status: ``SUCCEEDED`` or ``FAILED``.
        final_details: The run's ``details`` once it has ended.
    """

    entries: tuple[LogEntry, ...]
    status: str
    final_details: dict[str, Any]


class _RunFailure(Exception):
    def __init__(self, error: str, cause: str, state_name: str | None) -> None:
        super().__init__(cause)
        self.details = {"error": error, "cause": cause, "state_name": state_name}


def execute(
    definition: dict[str, Any],
    run_input: Any,
    *,
    context: dict[str, Any],
    start: float,
    timing: RunTiming,
    ids: IdSource,
) -> Trajectory:
    """Play a flow definition on an input.

    Args:
        definition: The flow definition (``StartAt`` and ``States``).
        run_input: The run's input document.
        context: The ``_context`` object of expressions: ``run_id``,
            ``flow_id``, ``user_id``, ``username`` and ``email``.
        start: The run's start time in seconds since the Unix epoch, for the
            timestamps inside action documents.
        timing: State durations and the loop bound.
        ids: The generator of action and web input ids.

    Returns:
        The run's timed log and outcome.
    """
    return _Runner(definition, context, start, timing, ids).run(run_input)


class _Runner:
    def __init__(
        self,
        definition: dict[str, Any],
        context: dict[str, Any],
        start: float,
        timing: RunTiming,
        ids: IdSource,
    ) -> None:
        self.states: dict[str, Any] = definition.get("States") or {}
        self.start_at = definition.get("StartAt")
        self.context = context
        self.start = start
        self.timing = timing
        self.ids = ids
        self.offset = 0.0
        self.entries: list[LogEntry] = []
        self.notes: list[str] = []
        self.web_input_options: list[Any] = []

    def run(self, run_input: Any) -> Trajectory:
        self._log("FlowStarted", "The run started", {"input": copy.deepcopy(run_input)})
        state = copy.deepcopy(run_input)
        try:
            state = self._run_states(state)
        except _RunFailure as failure:
            return self._end_failed(failure.details)

        final = {
            "code": "FlowSucceeded",
            "description": "The run reached a successful end state",
            "output": state,
        }
        self._log("FlowSucceeded", final["description"], {"output": state})
        return Trajectory(tuple(self.entries), "SUCCEEDED", final)

    def _run_states(self, state: Any) -> Any:
        name = self.start_at
        for _ in range(self.timing.max_states):
            if name is None:
                return state

            spec = self.states.get(name)
            if not isinstance(spec, dict):
                raise _RunFailure("States.Runtime", f"No state is named {name!r}", name)

            state, name = self._step(name, spec, state)

        raise _RunFailure(
            "EmulatorStateLimit",
            f"The emulator stopped the run after {self.timing.max_states} states; "
            "raise RunTiming.max_states if the loop is meant to run longer",
            name,
        )

    def _step(
        self, name: str, spec: dict[str, Any], state: Any
    ) -> tuple[Any, str | None]:
        state_type = str(spec.get("Type", ""))
        if state_type == "Fail":
            raise _RunFailure(
                str(spec.get("Error", "")), str(spec.get("Cause", "")), name
            )
        if state_type == "Choice":
            return state, self._choice(name, spec, state)

        self.notes = []
        step_input = self._input_of(spec, state)
        self._log(
            f"{state_type}Started",
            f"State {name} of type {state_type} started",
            {"state_name": name, "state_type": state_type, "input": step_input},
        )

        result = self._result_of(name, state_type, spec, step_input)
        completed: dict[str, Any] = {
            "state_name": name,
            "state_type": state_type,
            "output": result,
        }
        if self.notes:
            completed["emulator_notes"] = list(self.notes)
        self._log(
            f"{state_type}Completed",
            f"State {name} of type {state_type} completed",
            completed,
        )

        if state_type in ("Succeed",):
            return state, None
        return self._apply_result(spec, state, result), _next_of(spec)

    def _choice(self, name: str, spec: dict[str, Any], state: Any) -> str | None:
        target = choose_next(spec, self._document(state))
        if target is None:
            raise _RunFailure(
                "States.NoChoiceMatched",
                f"No rule of Choice state {name} matched and it has no Default",
                name,
            )
        self._log(
            "ChoiceCompleted",
            f"State {name} of type Choice chose {target}",
            {"state_name": name, "state_type": "Choice", "next": target},
        )
        return target

    def _result_of(
        self, name: str, state_type: str, spec: dict[str, Any], step_input: Any
    ) -> Any:
        if state_type == "Pass":
            if "Result" in spec:
                return copy.deepcopy(spec["Result"])
            return (
                self._resolve(spec["Parameters"], step_input)
                if "Parameters" in spec
                else step_input
            )

        if state_type == "ExpressionEval":
            return self._resolve(spec.get("Parameters", {}), step_input)

        if state_type == "Action":
            return self._action(name, spec, step_input)

        if state_type == "Wait":
            self.offset += self._wait_seconds(spec, step_input)
            return step_input

        if state_type in ("CreateWebInput", "AwaitWebInput"):
            return self._web_input(state_type, spec, step_input)

        if state_type != "Succeed":
            self.notes.append(
                f"The emulator does not model {state_type or 'untyped'} states and passed the input through"
            )
        return step_input

    def _action(
        self, name: str, spec: dict[str, Any], step_input: Any
    ) -> dict[str, Any]:
        parameters = (
            self._resolve(spec["Parameters"], step_input)
            if "Parameters" in spec
            else step_input
        )
        url = str(spec.get("ActionUrl") or spec.get("Resource") or "")
        began = self.start + self.offset
        self.offset += self.timing.action_seconds
        details = action_details(
            url, parameters if isinstance(parameters, dict) else {}, self.ids
        )
        return {
            "action_id": self.ids.uuid(),
            "completion_time": format_timestamp(self.start + self.offset),
            "creator_id": identity_urn(str(self.context.get("user_id"))),
            "details": details,
            "display_status": "SUCCEEDED",
            "label": parameters.get("label") if isinstance(parameters, dict) else None,
            "manage_by": [],
            "monitor_by": [],
            "release_after": None,
            "start_time": format_timestamp(began),
            "state_name": name,
            "status": "SUCCEEDED",
        }

    def _web_input(
        self, state_type: str, spec: dict[str, Any], step_input: Any
    ) -> dict[str, Any]:
        parameters = self._resolve(spec.get("Parameters", {}), step_input)
        if state_type == "CreateWebInput":
            options = (
                parameters.get("Options") if isinstance(parameters, dict) else None
            )
            self.web_input_options = options if isinstance(options, list) else []
            return {"web_input_id": self.ids.uuid(), "status": "ACTIVE"}

        # Every web input gets the Value of its first option as the response.
        self.offset += self.timing.action_seconds
        first = self.web_input_options[0] if self.web_input_options else {}
        return {
            "web_input_id": parameters.get("web_input_id")
            if isinstance(parameters, dict)
            else None,
            "response": first.get("Value") if isinstance(first, dict) else None,
            "responder": identity_urn(str(self.context.get("user_id"))),
        }

    def _wait_seconds(self, spec: dict[str, Any], step_input: Any) -> float:
        seconds: Any = spec.get("Seconds")
        if "SecondsPath" in spec:
            seconds = self._path(self._document(step_input), str(spec["SecondsPath"]))
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
            seconds = self.timing.max_wait_seconds
        return float(min(max(seconds, 0.0), self.timing.max_wait_seconds))

    def _input_of(self, spec: dict[str, Any], state: Any) -> Any:
        path = spec.get("InputPath")
        if path is None:
            return copy.deepcopy(state)
        return copy.deepcopy(self._path(self._document(state), str(path)))

    def _apply_result(self, spec: dict[str, Any], state: Any, result: Any) -> Any:
        if "ResultPath" not in spec:
            return result
        path = spec["ResultPath"]
        if path is None:
            return state
        try:
            return set_path(state, str(path), result)
        except JSONPathError as exc:
            self.notes.append(f"ResultPath ignored: {exc}")
            return state

    def _resolve(self, template: Any, step_input: Any) -> Any:
        if isinstance(template, list):
            return [self._resolve(item, step_input) for item in template]
        if not isinstance(template, dict):
            return copy.deepcopy(template)

        resolved: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = copy.deepcopy(
                    self._path(self._document(step_input), str(value))
                )
            elif key.endswith(".="):
                resolved[key[:-2]] = self._expression(str(value), step_input)
            else:
                resolved[key] = self._resolve(value, step_input)
        return resolved

    def _path(self, document: Any, path: str) -> Any:
        try:
            value = get_path(document, path)
        except JSONPathError as exc:
            self.notes.append(str(exc))
            return None
        if value is MISSING:
            self.notes.append(f"JSONPath {path} matched nothing and gave null")
            return None
        return value

    def _expression(self, expression: str, step_input: Any) -> Any:
        try:
            return evaluate(expression, self._document(step_input))
        except ExpressionError as exc:
            self.notes.append(f"Expression gave null: {exc}")
            return None

    def _document(self, state: Any) -> dict[str, Any]:
        names = dict(state) if isinstance(state, dict) else {}
        names["_context"] = self.context
        return names

    def _end_failed(self, failure: dict[str, Any]) -> Trajectory:
        description = "The run failed"
        final = {"code": "FlowFailed", "description": description, "details": failure}
        self._log("FlowFailed", description, failure)
        return Trajectory(tuple(self.entries), "FAILED", final)

    def _log(self, code: str, description: str, details: dict[str, Any]) -> None:
        self.entries.append(LogEntry(self.offset, code, description, details))


def _next_of(spec: dict[str, Any]) -> str | None:
    if spec.get("End") is True:
        return None
    target = spec.get("Next")
    return target if isinstance(target, str) else None
