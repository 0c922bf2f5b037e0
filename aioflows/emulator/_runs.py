"""The emulated Flows run API: starting, reading, cancelling and resuming runs.

A run record keeps the whole timed log computed at start (see ``_engine.py``).
What a client sees is the part of that log whose time has come on the
emulator clock, so runs advance without any background task.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import attrs

from ._clock import format_timestamp
from ._engine import RunTiming, execute
from ._flows import FlowsService, flow_roles
from ._http import EmulatorRequest, EmulatorResponse, json_response
from ._identities import identity_urn
from ._paging import InvalidPageRequest, page
from ._principals import RUN_ROLE_FIELDS, validate_roles
from ._timeline import cancel_at, log_entry, status_at, visible_entries
from ._tokens import FLOWS_RESOURCE_SERVER
from ._validation import input_problems, run_body_problems

if TYPE_CHECKING:
    from ._context import ServiceContext

__all__ = ["RunStore", "RunsService"]

_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ENDED"})


@attrs.define
class RunStore:
    """Run records by run id, in start order."""

    runs: dict[str, dict[str, Any]] = attrs.field(factory=dict)


@attrs.define
class RunsService:
    """Request handlers for ``/flows/{id}/run``, ``/runs`` and ``/runs/{id}/...``."""

    context: ServiceContext
    flows: FlowsService
    store: RunStore
    timing: RunTiming = attrs.field(factory=RunTiming)

    def run_flow(self, request: EmulatorRequest, flow_id: str) -> EmulatorResponse:
        """Handle ``POST /flows/{flow_id}/run``."""
        identity_id, flow, body = self._check_run_request(request, flow_id)
        record = self._start(flow, body, identity_id)
        self.store.runs[record["run_id"]] = record
        return json_response(201, self._document(record, identity_id, starting=True))

    def validate_run(self, request: EmulatorRequest, flow_id: str) -> EmulatorResponse:
        """Handle ``POST /flows/{flow_id}/validate_run``: every check of a run, no run."""
        self._check_run_request(request, flow_id)
        return json_response(200, {"message": "validation successful"})

    def list_runs(self, request: EmulatorRequest) -> EmulatorResponse:
        """Handle ``GET /runs`` with flow, role and status filters and paging."""
        identity_id = self._authenticate(request)
        flow_ids = _split(request.query.get("filter_flow_id"))
        requested_roles = _split(
            request.query.get("filter_roles") or request.query.get("filter_role")
        )
        statuses = _split(request.query.get("filter_status"))

        matching = []
        for record in reversed(self.store.runs.values()):
            roles = self._run_roles(record, identity_id)
            if not roles or (flow_ids and record["flow_id"] not in flow_ids):
                continue
            if requested_roles and not roles & requested_roles:
                continue
            if (
                statuses
                and status_at(record, self.context.now())["status"] not in statuses
            ):
                continue
            matching.append(record)

        try:
            items, fields = page(matching, request, default_limit=20, max_limit=100)
        except InvalidPageRequest as exc:
            raise self.context.error(400, "INVALID_REQUEST", str(exc)) from exc
        documents = [self._document(record, identity_id) for record in items]
        return json_response(200, {"runs": documents, **fields})

    def get_run(self, request: EmulatorRequest, run_id: str) -> EmulatorResponse:
        """Handle ``GET /runs/{run_id}``."""
        identity_id = self._authenticate(request)
        record = self._find_visible(run_id, identity_id)
        document = self._document(record, identity_id)
        if request.query.get("include_flow_description", "").lower() == "true":
            document["flow_description"] = self._flow_description(record)
        return json_response(200, document)

    def cancel_run(self, request: EmulatorRequest, run_id: str) -> EmulatorResponse:
        """Handle ``POST /runs/{run_id}/cancel``; an ended run is returned unchanged."""
        identity_id = self._authenticate(request)
        record = self._find_managed(run_id, identity_id)
        if status_at(record, self.context.now())["status"] not in _TERMINAL:
            cancel_at(record, self.context.now())
        return json_response(200, self._document(record, identity_id))

    def resume_run(self, request: EmulatorRequest, run_id: str) -> EmulatorResponse:
        """Handle ``POST /runs/{run_id}/resume``: continue an INACTIVE run once consent is given."""
        identity_id = self._authenticate(request)
        record = self._find_managed(run_id, identity_id)
        pause = record.get("pause")
        consented = record["flow_id"] not in self.flows.store.consent_required
        inactive = status_at(record, self.context.now())["status"] == "INACTIVE"
        if pause is not None and inactive and consented:
            delay = self.context.now() - record["start"] - pause["offset"]
            for entry in record["entries"][pause["index"] :]:
                entry["offset"] += delay
            record["pause"] = None
        return json_response(200, self._document(record, identity_id))

    def get_run_log(self, request: EmulatorRequest, run_id: str) -> EmulatorResponse:
        """Handle ``GET /runs/{run_id}/log`` with ``limit``, ``reverse_order`` and ``marker``."""
        identity_id = self._authenticate(request)
        record = self._find_visible(run_id, identity_id)
        entries = [
            log_entry(record, entry)
            for entry in visible_entries(record, self.context.now())
        ]
        if request.query.get("reverse_order", "").lower() == "true":
            entries.reverse()

        try:
            items, fields = page(entries, request, default_limit=10, max_limit=100)
        except InvalidPageRequest as exc:
            raise self.context.error(400, "INVALID_REQUEST", str(exc)) from exc
        return json_response(200, {"entries": items, **fields})

    def _check_run_request(
        self, request: EmulatorRequest, flow_id: str
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        # Check the token before the flow id, as the service does: a token
        # for another resource server is 403 MISSING_SCOPE only for a known flow.
        known = self.flows.store.flows.get(flow_id)
        scope = known["globus_auth_scope"] if known is not None else None
        grant = self.context.authenticate(request, flow_id, required_scope=scope)
        flow = self.flows.find(flow_id)
        self.flows.require(flow, grant.identity_id, "flow_starter", "RUN")
        if self.flows.store.consent_required.get(flow_id) == "reject":
            raise self.context.error(
                403,
                "MISSING_SCOPE",
                f"This action requires the following scope: {flow['globus_auth_scope']}",
            )

        body = self.context.read_json(request)
        problems = run_body_problems(body)
        if not problems:
            problems = validate_roles(body, RUN_ROLE_FIELDS)
        if problems:
            raise self.context.error(422, "UNPROCESSABLE_ENTITY", problems)

        input_errors = input_problems(flow["input_schema"], body.get("body", {}))
        if input_errors:
            raise self._input_error(input_errors)
        return grant.identity_id, flow, body

    def _input_error(self, problems: list[dict[str, Any]]) -> Exception:
        error = self.context.error(400, "FLOW_INPUT_ERROR", problems)
        document = error.response.json()
        document["error"]["message"] = (
            f"Input failed schema validation with {len(problems)} error(s)."
        )
        error.response = json_response(400, document)
        return error

    def _start(
        self, flow: dict[str, Any], body: dict[str, Any], identity_id: str
    ) -> dict[str, Any]:
        run_id = self.context.ids.uuid()
        start = self.context.now()
        identity = self.context.identities.get(identity_id)
        run_context = {
            "run_id": run_id,
            "flow_id": flow["id"],
            "user_id": identity_id,
            "username": identity.username,
            "email": identity.email,
        }
        trajectory = execute(
            flow["definition"],
            body.get("body", {}),
            context=run_context,
            start=start,
            timing=self.timing,
            ids=self.context.ids,
        )

        entries = [
            {
                "offset": entry.offset,
                "code": entry.code,
                "description": entry.description,
                "details": entry.details,
            }
            for entry in trajectory.entries
        ]
        return {
            "run_id": run_id,
            "flow_id": flow["id"],
            "flow_title": flow["title"],
            "flow_last_updated": flow["updated_at"],
            "flow_scope": flow["globus_auth_scope"],
            "owner_id": identity_id,
            "label": body.get("label") or f"Run of {flow['title']}"[:64],
            "tags": [" ".join(str(tag).split()) for tag in body.get("tags") or []],
            "run_managers": list(body.get("run_managers") or []),
            "run_monitors": list(body.get("run_monitors") or []),
            "activity_notification_policy": body.get("activity_notification_policy")
            or {"status": ["INACTIVE"]},
            "search_task_id": self.context.ids.uuid(),
            "start": start,
            "entries": entries,
            "status": trajectory.status,
            "final_details": trajectory.final_details,
            "pause": self._pause_point(flow["id"], entries),
        }

    def _pause_point(
        self, flow_id: str, entries: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        if self.flows.store.consent_required.get(flow_id) != "inactive":
            return None
        for index, entry in enumerate(entries):
            if entry["code"] == "ActionStarted":
                return {"index": index, "offset": entry["offset"]}
        return None

    def _document(
        self, record: dict[str, Any], identity_id: str, *, starting: bool = False
    ) -> dict[str, Any]:
        view = status_at(record, self.context.now())
        if starting:
            first = record["entries"][0]
            view = {
                "status": "ACTIVE",
                "details": {
                    "code": "FlowStarting",
                    "description": "The run is starting",
                    "details": copy.deepcopy(first["details"]),
                },
                "completed": None,
            }

        owner = identity_urn(record["owner_id"])
        roles = self._run_roles(record, identity_id)
        return {
            "run_id": record["run_id"],
            "action_id": record["run_id"],
            "flow_id": record["flow_id"],
            "flow_title": record["flow_title"],
            "flow_last_updated": record["flow_last_updated"],
            "start_time": format_timestamp(record["start"]),
            "completion_time": None
            if view["completed"] is None
            else format_timestamp(view["completed"]),
            "status": view["status"],
            "display_status": view["status"],
            "details": copy.deepcopy(view["details"]),
            "run_owner": owner,
            "created_by": owner,
            "run_managers": list(record["run_managers"]),
            "run_monitors": list(record["run_monitors"]),
            "manage_by": list(record["run_managers"]),
            "monitor_by": list(record["run_monitors"]),
            "user_role": _highest_run_role(roles),
            "label": record["label"],
            "tags": list(record["tags"]),
            "activity_notification_policy": copy.deepcopy(
                record["activity_notification_policy"]
            ),
            "search": {"task_id": record["search_task_id"]},
        }

    def _flow_description(self, record: dict[str, Any]) -> dict[str, Any]:
        flow = self.flows.store.flows.get(record["flow_id"])
        if flow is None:
            return {"id": record["flow_id"], "title": record["flow_title"]}
        fields = (
            "id",
            "title",
            "subtitle",
            "description",
            "keywords",
            "flow_owner",
            "created_by",
            "created_at",
            "updated_at",
            "globus_auth_scope",
        )
        return {field: copy.deepcopy(flow[field]) for field in fields}

    def _run_roles(self, record: dict[str, Any], identity_id: str) -> set[str]:
        principals = self.context.principals_of(identity_id)
        roles = set()
        if record["owner_id"] == identity_id:
            roles.add("run_owner")
        if principals.intersection(record["run_managers"]):
            roles.add("run_manager")
        if principals.intersection(record["run_monitors"]):
            roles.add("run_monitor")

        flow = self.flows.store.flows.get(record["flow_id"])
        if flow is not None:
            if principals.intersection(
                flow["run_managers"]
            ) or "flow_administrator" in flow_roles(flow, principals):
                roles.add("flow_run_manager")
            if principals.intersection(flow["run_monitors"]):
                roles.add("flow_run_monitor")
        return roles

    def _find_visible(self, run_id: str, identity_id: str) -> dict[str, Any]:
        record = self.store.runs.get(run_id)
        if record is None:
            raise self.context.error(
                404, "NOT_FOUND", f"No run with id {run_id!r} exists"
            )
        if not self._run_roles(record, identity_id):
            raise self.context.error(
                403,
                "FORBIDDEN",
                f"You do not have the permission VIEW on the run with id {run_id}",
            )
        return record

    def _find_managed(self, run_id: str, identity_id: str) -> dict[str, Any]:
        record = self._find_visible(run_id, identity_id)
        if not self._run_roles(record, identity_id) & {
            "run_owner",
            "run_manager",
            "flow_run_manager",
        }:
            raise self.context.error(
                403,
                "FORBIDDEN",
                f"You do not have the permission MANAGE on the run with id {run_id}",
            )
        return record

    def _authenticate(self, request: EmulatorRequest) -> str:
        return self.context.authenticate(request, FLOWS_RESOURCE_SERVER).identity_id


def _highest_run_role(roles: set[str]) -> str | None:
    for role in (
        "run_owner",
        "run_manager",
        "flow_run_manager",
        "run_monitor",
        "flow_run_monitor",
    ):
        if role in roles:
            return role
    return None


def _split(text: str | None) -> set[str]:
    return {part.strip() for part in (text or "").split(",") if part.strip()}
