"""A stateful Flows service in memory for respx, and small flow definitions."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import attrs
import httpx

FLOWS_URL = "https://flows.automate.globus.org"
OWNER = "urn:globus:auth:identity:0e0e0e0e-0000-4000-8000-00000000000e"

_FLOW_PATH = re.compile(r"^/flows/(?P<flow_id>[0-9a-f-]{36})$")


@attrs.define
class FakeFlows:
    """A Flows service in memory, mounted on respx.

    Attributes:
        flows: Deployed flow documents by id.
        failing: Titles whose create and update fail with HTTP 500.
        calls: Every (method, path) received, in order.
        forced_status: When set, every request is answered with this error
            status instead.
    """

    flows: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    failing: set[str] = attrs.field(factory=set)
    calls: list[tuple[str, str]] = attrs.field(factory=list)
    forced_status: int | None = None

    def count(self, method: str) -> int:
        """Return how many requests with *method* arrived."""
        return sum(1 for called, _ in self.calls if called == method)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Return the response the Flows service would send to *request*."""
        self.calls.append((request.method, request.url.path))
        if self.forced_status is not None:
            body = {"error": {"code": "FORCED", "detail": "forced by the test"}}
            return httpx.Response(self.forced_status, json=body)
        if request.method == "POST" and request.url.path == "/flows":
            return self._create(json.loads(request.content))

        match = _FLOW_PATH.match(request.url.path)
        if match is None:
            return httpx.Response(404, json={"error": {"code": "NOT_FOUND"}})
        flow_id = match["flow_id"]
        if flow_id not in self.flows:
            return httpx.Response(
                404, json={"error": {"code": "NOT_FOUND", "detail": "no flow"}}
            )
        if request.method == "GET":
            return httpx.Response(200, json=self.flows[flow_id])
        if request.method == "PUT":
            return self._update(flow_id, json.loads(request.content))
        return httpx.Response(405)

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("title") in self.failing:
            return httpx.Response(500, text="<html>Internal Server Error</html>")
        flow_id = str(uuid.uuid4())
        document = {
            "id": flow_id,
            "flow_owner": OWNER,
            "flow_administrators": [OWNER],
            "flow_viewers": [],
            "flow_starters": [],
            "keywords": [],
            "subtitle": "",
            "description": "",
            "subscription_id": None,
            **body,
        }
        self.flows[flow_id] = document
        return httpx.Response(201, json=document)

    def _update(self, flow_id: str, body: dict[str, Any]) -> httpx.Response:
        if body.get("title") in self.failing:
            return httpx.Response(500, text="<html>Internal Server Error</html>")
        self.flows[flow_id].update(body)
        return httpx.Response(200, json=self.flows[flow_id])


def hello_definition(greeting: str = "hello") -> dict[str, Any]:
    """Return a small valid flow definition that passes *greeting* on."""
    return {
        "StartAt": "Hello",
        "States": {
            "Hello": {"Type": "Pass", "Result": {"greeting": greeting}, "End": True}
        },
    }
