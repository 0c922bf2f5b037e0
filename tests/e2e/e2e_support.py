"""Helpers of the end-to-end tests: definitions, emulator views, fakes.

The tests drive a real Session and FlowsManager against the in-process
emulator. The helpers here read the emulator's state without adding to its
request counters, hand out per-resource-server tokens as a login would, and
inject failures that the emulator itself cannot produce.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import httpx
from globus_sdk.scopes import Scope

from aioflows import LoginRequired, ScopeRegistry
from aioflows.emulator import Emulator, EmulatorRequest, ManualClock

FLOWS_URL = "https://flows.automate.globus.org"
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "ENDED"})

# Seconds of emulator time that each Action state takes in these tests.
ACTION_SECONDS = 1.0


def pass_definition(greeting: str = "hello") -> dict[str, Any]:
    """Return a one-state definition that ends as soon as it starts."""
    return {
        "Comment": "Say hello",
        "StartAt": "Hello",
        "States": {
            "Hello": {"Type": "Pass", "Result": {"greeting": greeting}, "End": True},
        },
    }


def action_definition(actions: int = 3) -> dict[str, Any]:
    """Return a chain of transfer Action states, each at ``$.Step<n>``."""
    names = [f"Step{index}" for index in range(actions)]
    states: dict[str, Any] = {}
    for index, name in enumerate(names):
        state: dict[str, Any] = {
            "Type": "Action",
            "ActionUrl": "https://transfer.actions.globus.org/transfer",
            "Parameters": {"label": name},
            "ResultPath": f"$.{name}",
        }
        if index + 1 < len(names):
            state["Next"] = names[index + 1]
        else:
            state["End"] = True
        states[name] = state
    return {"Comment": "Transfer in steps", "StartAt": names[0], "States": states}


def failing_definition(*, after_action: bool = True) -> dict[str, Any]:
    """Return a definition that ends in a Fail state, after one Action or at once."""
    states: dict[str, Any] = {
        "Refuse": {"Type": "Fail", "Error": "NotApproved", "Cause": "Rejected"},
    }
    start = "Refuse"
    if after_action:
        states["Check"] = {
            "Type": "Action",
            "ActionUrl": "https://transfer.actions.globus.org/stat",
            "Parameters": {"path": "/data"},
            "ResultPath": "$.Check",
            "Next": "Refuse",
        }
        start = "Check"
    return {"Comment": "Always fails", "StartAt": start, "States": states}


def reordered(value: Any) -> Any:
    """Return *value* with the keys of every mapping in reverse order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def sample_input(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Build a small run input that satisfies the simple parts of a JSON Schema.

    The emulator checks only the top-level ``required`` names and the
    ``type`` of each top-level property, so nested values may stay empty.
    """
    definitions = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    value = _sample({**schema, "type": "object"}, definitions)
    return value if isinstance(value, dict) else {}


def _sample(schema: Any, definitions: Mapping[str, Any]) -> Any:
    if not isinstance(schema, dict):
        return "sample"
    if "$ref" in schema:
        name = str(schema["$ref"]).rpartition("/")[2]
        return _sample(definitions.get(name, {}), definitions)
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("oneOf", "anyOf", "allOf"):
        if schema.get(combinator):
            return _sample(schema[combinator][0], definitions)

    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            name: _sample(properties.get(name, {}), definitions)
            for name in schema.get("required", [])
        }
    samples = {"array": [], "integer": 1, "number": 1, "boolean": True, "null": None}
    return samples.get(str(kind), "sample")


@attrs.define
class EmulatorView:
    """Read the emulator's documents as the default user, outside the request log.

    ``Emulator.handle`` skips latency, rate limits, faults and the request
    log, so reading through this view leaves every counter as it was.
    """

    emulator: Emulator

    def flow(self, flow_id: str) -> dict[str, Any]:
        """Return the flow document of *flow_id*, or raise if it does not exist."""
        return self._get(f"/flows/{flow_id}")

    def run(self, run_id: str) -> dict[str, Any]:
        """Return the run document of *run_id* as the emulator clock now shows it."""
        return self._get(f"/runs/{run_id}")

    def _get(self, path: str) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.emulator.static_token}"}
        response = self.emulator.handle(EmulatorRequest("GET", path, headers=headers))
        if response.status != 200:
            raise AssertionError(
                f"GET {path} on the emulator returned HTTP {response.status}: "
                f"{response.body.decode()}"
            )
        document: dict[str, Any] = response.json()
        return document


@attrs.define
class EmulatorLogin:
    """A token provider whose tokens each belong to one resource server.

    It replaces an interactive login: the first request for a resource
    server issues a token from the emulator for the scopes that managers
    registered for it, as ``emulator.issue_tokens`` would after consent. A
    resource server without registered scopes raises LoginRequired. Unlike
    the static development token, such a token is rejected by every other
    resource server, so a run sent with the wrong flow's token fails.

    A token that the service rejects with 401 is dropped, and the next
    request for its resource server issues a new one, as a refresh would.

    Attributes:
        emulator: The emulator that issues the tokens.
        issued: The resource servers a token was issued for, in order.
        rejected: The resource servers whose token was rejected, in order.
    """

    emulator: Emulator
    issued: list[str] = attrs.field(factory=list)
    rejected: list[str] = attrs.field(factory=list)
    _tokens: dict[str, str] = attrs.field(factory=dict, repr=False)
    _scopes: ScopeRegistry = attrs.field(factory=ScopeRegistry, repr=False)

    async def get_token(self, resource_server: str) -> str:
        """Return this resource server's token, issuing it on first use."""
        token = self._tokens.get(resource_server)
        if token is not None:
            return token

        scopes = [
            str(scope) for scope in self._scopes.for_resource_server(resource_server)
        ]
        if not scopes:
            raise LoginRequired(
                f"no scopes registered for resource server {resource_server!r}",
                required_scopes=[],
                resource_server=resource_server,
            )
        response = self.emulator.issue_tokens(scopes, refresh=False)
        self._tokens[resource_server] = response["access_token"]
        self.issued.append(resource_server)
        return str(response["access_token"])

    async def token_rejected(self, resource_server: str) -> bool:
        """Drop the rejected token and return True, so the request is sent again."""
        self.rejected.append(resource_server)
        return self._tokens.pop(resource_server, None) is not None

    def require_scopes(self, resource_server: str, scopes: Iterable[Scope]) -> None:
        """Record scopes that a token for *resource_server* must cover."""
        self._scopes.add(resource_server, scopes)

    def required_scopes(self) -> Mapping[str, tuple[Scope, ...]]:
        """Return every scope recorded so far, by resource server."""
        return self._scopes.as_mapping()


@attrs.define
class SleepRecorder:
    """A stand-in for ``anyio.sleep`` that moves a ManualClock instead of waiting.

    Attributes:
        clock: The emulator clock to move by each requested delay.
        delays: Every requested delay in seconds, in order.
    """

    clock: ManualClock
    delays: list[float] = attrs.field(factory=list)

    async def sleep(self, delay: float) -> None:
        """Record *delay*, move the clock by it and yield to other tasks."""
        self.delays.append(delay)
        self.clock.advance(delay)
        await anyio.lowlevel.checkpoint()


class ConnectFailingTransport(httpx.AsyncBaseTransport):
    """Raise ``httpx.ConnectError`` for the first matching requests, then forward.

    The emulator has no fault that fails before a request is sent, so this
    wrapper plays a refused connection. The failed attempts never reach the
    emulator.

    Args:
        inner: The transport that receives the requests that are let through.
        method: The HTTP method to fail.
        path: The exact URL path to fail.
        failures: How many matching requests fail.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, *, method: str, path: str, failures: int
    ) -> None:
        self._inner = inner
        self._method = method
        self._path = path
        self.remaining = failures
        self.raised = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Fail the request if it matches and failures remain, else forward it."""
        matches = request.method == self._method and request.url.path == self._path
        if matches and self.remaining > 0:
            self.remaining -= 1
            self.raised += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


async def gather(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run every call in its own task and return the results in call order."""
    results: list[Any] = [None] * len(calls)

    async def run_one(index: int) -> None:
        results[index] = await calls[index]()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            for index in range(len(calls)):
                group.start_soon(run_one, index)
    return results
