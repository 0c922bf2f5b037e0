"""FlowsManager: keep one deployed flow in step with its local definition."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar

import anyio
import attrs
from globus_sdk.scopes import FlowsScopes, Scope, SpecificFlowScopes

from .._checksum import PERMISSIVE_SCHEMA, flow_checksum
from .._definitions import check_definition, check_json_object
from .._errors import (
    APIError,
    FlowObsolete,
    LoginRequired,
    NoFlowRegistered,
    RegistrationError,
    RunFailed,
)
from .._locks import DeployLock, namespace_lock
from .._principals import (
    FLOW_ROLE_FIELDS,
    RUN_ROLE_FIELDS,
    check_role_lists,
    check_uuid,
    group_urn,
)
from ._base import ServiceManager
from ._run_options import build_run_request
from ._run_watch import poll_run

__all__ = ["FlowsManager", "OnChange", "ensure_flow_registered"]

log = logging.getLogger(__name__)

FLOW_ID_KEY = "flow_id"
CHECKSUM_KEY = "flow_checksum"
# The Flows service URL a stored flow id belongs to. A state file used
# against the emulator and then against the real service must not make
# flows that exist only in the emulator look deployed.
FLOWS_URL_KEY = "flows_url"

OnChange = Callable[["FlowsManager", RegistrationError], Awaitable[Any] | Any]
RunCallback = Callable[[dict[str, Any]], Awaitable[Any] | Any]


async def ensure_flow_registered(
    manager: FlowsManager, error: RegistrationError
) -> None:
    """Deploy the manager's flow: the default ``on_change`` of a FlowsManager."""
    await manager.register_flow()


def _optional_flow_id(value: Any) -> str | None:
    return None if value is None else check_uuid(value, "flow_id")


def _optional_subscription_id(value: Any) -> str | None:
    return None if value is None else check_uuid(value, "subscription_id")


def _optional_definition(value: Any) -> dict[str, Any] | None:
    return None if value is None else check_definition(value)


def _optional_schema(value: Any) -> dict[str, Any] | None:
    return None if value is None else check_json_object(value, "flow_schema")


def _optional_group(value: Any) -> str | None:
    return None if value is None else group_urn(value)[len("urn:globus:groups:id:") :]


def _flow_kwargs(value: Any) -> dict[str, Any]:
    fields = check_json_object(value or {}, "flow_kwargs")
    fields.update(check_role_lists(fields, FLOW_ROLE_FIELDS))
    return fields


def _run_kwargs(value: Any) -> dict[str, Any]:
    fields = check_json_object(value or {}, "run_kwargs")
    fields.update(check_role_lists(fields, RUN_ROLE_FIELDS))
    return fields


def _check_label_length(
    instance: Any, attribute: attrs.Attribute[Any], value: int
) -> None:
    if not isinstance(value, int) or value < 3:
        raise ValueError(
            f"max_label_length must be an integer of at least 3, got {value!r}"
        )


def _callable_name(function: Callable[..., Any]) -> str:
    name = getattr(function, "__qualname__", None)
    return name if isinstance(name, str) else repr(function)


def _request_checksum(request: Mapping[str, Any]) -> str:
    """Return the checksum of a create or update body: every field it sends."""
    fields = {
        key: value
        for key, value in request.items()
        if key not in ("definition", "input_schema")
    }
    return flow_checksum(request["definition"], request["input_schema"], fields)


@attrs.define(eq=False)
class FlowsManager(ServiceManager):
    """Track a flow definition kept in code and keep its deployment current.

    A stored flow id and the SHA-256 checksum of what was last sent decide
    what a sync does: create the flow, update it, or nothing. Every method
    is safe to call from many tasks at once, and deployments of one storage
    namespace are single-flight. When the storage offers ``deploy_lock``
    (JSONFileStorage and SQLiteStorage), they are single-flight across
    storage objects and processes that share its file too.

    Args:
        flow_id: The id of an existing flow to use. An explicit id is never
            replaced: a 404 for it is raised, not redeployed.
        flow_definition: The flow's definition; None when the manager only
            runs an existing flow.
        flow_schema: The input schema; None sends ``{"additionalProperties":
            true}``.
        flow_title: The flow's title; None uses the manager's name.
        subscription_id: The subscription to deploy the flow under.
        globus_group: A group id whose members view, start and administer
            the flow and manage and monitor its runs.
        on_change: Called as ``on_change(manager, error)`` (plain or async)
            when a sync finds the flow missing or obsolete; None keeps using
            the obsolete flow.
        redeploy_on_404: Create a new flow when the stored one is gone.
        flow_kwargs: More fields for create and update (``description``,
            ``keywords``, role lists, …); they override the group's roles.
        run_kwargs: More fields for every run request.
        session: The Session to use; None creates one.
        storage: A storage for this manager only.
        tokens: A token provider for this manager only.
        name: The storage namespace; None uses the title, then the flow id.
        max_label_length: Longer run labels are cut to this many characters.

    Raises:
        ValueError: A flow, group or subscription id is not a UUID, a role
            list is invalid, the definition lacks ``StartAt`` or
            ``States``, or no name can be derived.
        TypeError: The definition, schema or keyword fields are not
            JSON-serialisable mappings.
    """

    service: ClassVar[str] = "flows"

    flow_id: str | None = attrs.field(default=None, converter=_optional_flow_id)
    flow_definition: dict[str, Any] | None = attrs.field(
        default=None, converter=_optional_definition, repr=False
    )
    flow_schema: dict[str, Any] | None = attrs.field(
        default=None, converter=_optional_schema, repr=False
    )
    flow_title: str | None = None
    subscription_id: str | None = attrs.field(
        default=None, converter=_optional_subscription_id
    )
    globus_group: str | None = attrs.field(default=None, converter=_optional_group)
    on_change: OnChange | None = attrs.field(default=ensure_flow_registered, repr=False)
    redeploy_on_404: bool = True
    flow_kwargs: dict[str, Any] = attrs.field(
        factory=dict, converter=_flow_kwargs, repr=False
    )
    run_kwargs: dict[str, Any] = attrs.field(
        factory=dict, converter=_run_kwargs, repr=False
    )
    max_label_length: int = attrs.field(
        default=64, kw_only=True, validator=_check_label_length
    )
    _own_lock: DeployLock = attrs.field(factory=DeployLock, init=False, repr=False)
    _known_flow_id: str | None = attrs.field(default=None, init=False, repr=False)
    _registered_flow_id: str | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.flow_title is not None and not isinstance(self.flow_title, str):
            raise TypeError(
                f"flow_title must be a string, got {type(self.flow_title).__name__}"
            )
        if self.flow_title is not None and not self.flow_title.strip():
            raise ValueError(
                f"flow_title must be a non-empty string, got {self.flow_title!r}; "
                "pass None to use the manager's name"
            )
        if self._name is None and self.flow_title is None and self.flow_id is None:
            raise ValueError(
                "FlowsManager needs a stable storage namespace: pass name=... or "
                "flow_title=..., or flow_id=... for an existing flow"
            )

        # The namespace is fixed here, so a later change of flow_title updates
        # the same stored flow instead of switching to a new namespace.
        if self._name is None:
            self._name = self._default_name()
        self._known_flow_id = self.flow_id

    @property
    def _deploy_lock(self) -> DeployLock:
        """The lock that makes deploys of this manager's namespace single-flight."""
        return namespace_lock(self.storage, self.name) or self._own_lock

    def _exclusive(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Enter the deploy lock, and the storage's lock when it has one.

        Code inside re-reads stored state, which another storage object or
        process may have changed while this task waited.
        """
        return self._deploy_lock.exclusive(self.storage, self.name)

    def _default_name(self) -> str:
        return self.flow_title or str(self.flow_id)

    @property
    def title(self) -> str:
        """The title sent to the Flows service."""
        return self.flow_title or self.name

    @staticmethod
    def get_flow_checksum(
        definition: Mapping[str, Any],
        schema: Mapping[str, Any],
        flow_kwargs: Mapping[str, Any] | None = None,
    ) -> str:
        """Return the SHA-256 hex digest of a definition, schema and fields.

        Identical to Gladier's checksum for the same three values.
        """
        return flow_checksum(definition, schema, flow_kwargs)

    # Desired state

    def flow_request(self) -> dict[str, Any]:
        """Return the JSON body that create and update both send.

        Raises:
            ValueError: The manager has no flow definition.
        """
        if self.flow_definition is None:
            raise ValueError(
                f"FlowsManager {self.name!r} has no flow_definition to deploy; "
                "pass flow_definition=... or use an existing flow_id"
            )

        request: dict[str, Any] = {
            "title": self.title,
            "definition": self.flow_definition,
            "input_schema": self.flow_schema
            if self.flow_schema is not None
            else dict(PERMISSIVE_SCHEMA),
        }
        if self.subscription_id is not None:
            request["subscription_id"] = self.subscription_id
        if self.globus_group is not None:
            urn = group_urn(self.globus_group)
            request.update({field: [urn] for field in FLOW_ROLE_FIELDS})
        request.update(self.flow_kwargs)
        return request

    def checksum(self) -> str:
        """Return the checksum of :meth:`flow_request`: every field sent."""
        return _request_checksum(self.flow_request())

    def _warn_overridden_roles(self) -> None:
        # Called when a request is sent, not on every checksum comparison.
        if self.globus_group is None:
            return
        overridden = sorted(set(self.flow_kwargs) & set(FLOW_ROLE_FIELDS))
        if overridden:
            log.warning(
                "Flow %r: flow_kwargs %s override the role lists derived from "
                "globus_group",
                self.name,
                ", ".join(overridden),
            )

    # Stored state

    async def get_flow_id(self) -> str | None:
        """Return the explicit flow id, else the stored one, else None."""
        if self.flow_id is not None:
            self._learn_flow_id(self.flow_id)
            return self.flow_id

        stored = await self.storage.items(self.name)
        if stored.get(FLOW_ID_KEY) is None:
            return None
        if not self._stored_for_this_service(stored):
            return None
        flow_id = check_uuid(
            stored[FLOW_ID_KEY], f"the flow id stored under {self.name!r}"
        )
        self._learn_flow_id(flow_id)
        return flow_id

    def _stored_for_this_service(self, stored: Mapping[str, Any]) -> bool:
        """Tell whether stored state belongs to the Flows service in use.

        State written before the service URL was recorded is trusted.
        """
        stored_url = stored.get(FLOWS_URL_KEY)
        current_url = self.session.service_url("flows")
        if stored_url is None or stored_url == current_url:
            return True
        log.warning(
            "Flow %r: the stored flow id %s belongs to %s, not %s; "
            "treating the flow as not deployed there",
            self.name,
            stored.get(FLOW_ID_KEY),
            stored_url,
            current_url,
        )
        return False

    async def purge_flow(self) -> None:
        """Forget the stored flow id and checksum. The flow itself stays.

        Waits for a deploy of the same namespace to finish first, so a purge
        never removes an id between its deploy and the read that returns it.
        """
        async with self._exclusive():
            await self.storage.delete_many(
                self.name, [FLOW_ID_KEY, CHECKSUM_KEY, FLOWS_URL_KEY]
            )
        log.info("Flow %r: forgot the stored flow id and checksum", self.name)

    async def check_flow(self) -> None:
        """Raise unless the deployed flow matches the local one.

        A manager without a definition only needs a flow id.

        Raises:
            NoFlowRegistered: No flow id is given or stored.
            FlowObsolete: The stored checksum differs from the local one, or
                belongs to another flow than the explicit id.
        """
        flow_id = await self.get_flow_id()
        if flow_id is None:
            raise NoFlowRegistered(
                f"Flow {self.name!r} has no flow id yet", name=self.name, flow_id=None
            )
        if self.flow_definition is None:
            return

        stored = await self.storage.items(self.name)
        same_flow = stored.get(FLOW_ID_KEY) == flow_id
        if not same_flow or stored.get(CHECKSUM_KEY) != self.checksum():
            raise FlowObsolete(
                f"Flow {self.name!r} ({flow_id}) differs from its local definition",
                name=self.name,
                flow_id=flow_id,
            )

    async def flow_changed(self) -> bool:
        """Return whether a sync would create or update the flow."""
        try:
            await self.check_flow()
        except RegistrationError:
            return True
        return False

    # Deployment

    async def sync_flow(self) -> str | None:
        """Make sure the flow is deployed and current, and return its id.

        On a missing or obsolete flow, calls ``on_change(manager, error)``.
        With ``on_change=None`` an obsolete flow is used as it is, and a
        missing one returns None.

        A sync that finds a change enters the storage's ``deploy_lock``, when
        it has one, and checks again inside it, so processes sharing a state
        file deploy a change once.
        """
        async with self._deploy_lock:
            if not await self.flow_changed():
                return await self.get_flow_id()

            async with self._exclusive():
                try:
                    await self.check_flow()
                except RegistrationError as error:
                    await self._handle_change(error)
                return await self.get_flow_id()

    async def _handle_change(self, error: RegistrationError) -> None:
        if self.on_change is None:
            log.info(
                "Flow %r: %s; on_change is None, so nothing is deployed",
                self.name,
                error,
            )
            return

        result = self.on_change(self, error)
        if inspect.isawaitable(result):
            await result

    async def register_flow(self) -> str:
        """Create or update the flow now, store its id and checksum, return the id.

        Updates when a flow id is known and creates otherwise. An update
        that returns 404 creates a new flow, unless the id was given explicitly
        or ``redeploy_on_404`` is False.

        The storage's ``deploy_lock``, when it has one, is held from reading
        the stored flow id to storing the deployed one.

        Raises:
            APIError: The service refused the request.
            LoginRequired: Tokens or consent are missing.
        """
        async with self._exclusive():
            request = self.flow_request()
            checksum = _request_checksum(request)
            self._warn_overridden_roles()
            flow_id = await self.get_flow_id()

            # A flow the service created must be recorded, or the next sync
            # creates a duplicate. So cancellation (Ctrl-C, a timeout around
            # the caller) waits for the request, bounded by the Session's
            # timeout and retries, and for the storage write.
            with anyio.CancelScope(shield=True):
                deployed_id = await self._deploy(flow_id, request)
                await self.storage.set_many(
                    self.name,
                    {
                        FLOW_ID_KEY: deployed_id,
                        CHECKSUM_KEY: checksum,
                        FLOWS_URL_KEY: self.session.service_url("flows"),
                    },
                )
            return deployed_id

    async def _deploy(self, flow_id: str | None, request: dict[str, Any]) -> str:
        if flow_id is None:
            return await self._create_flow(request)
        return await self._update_or_redeploy(flow_id, request)

    async def _create_flow(self, request: dict[str, Any]) -> str:
        document = await self._request_object("POST", "flows", json=request)
        flow_id = check_uuid(document.get("id"), "the id of the created flow")
        self._learn_flow_id(flow_id, document.get("globus_auth_scope"))
        log.info("Flow %r: created flow %s", self.name, flow_id)
        return flow_id

    async def _update_or_redeploy(self, flow_id: str, request: dict[str, Any]) -> str:
        try:
            await self._request_object("PUT", f"flows/{flow_id}", json=request)
        except APIError as error:
            if error.http_status != 404 or not self._may_redeploy():
                raise
            log.warning(
                "Flow %r: flow %s is gone (HTTP 404), creating it again",
                self.name,
                flow_id,
            )
            return await self._create_flow(request)

        log.info("Flow %r: updated flow %s", self.name, flow_id)
        return flow_id

    def _may_redeploy(self) -> bool:
        return (
            self.redeploy_on_404
            and self.flow_id is None
            and self.flow_definition is not None
        )

    # Runs

    async def run_flow(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Sync the flow, start a run, and return the run document.

        Args:
            body: The run's input.
            label: The run's label, cut to ``max_label_length``; an empty
                label is left out.
            tags: The run's tags.
            **kwargs: More fields of the run request (``run_managers``,
                ``activity_notification_policy``, …).

        Raises:
            NoFlowRegistered: No flow is deployed and ``on_change`` is None.
            LoginRequired: The flow's scope lacks consent; its
                ``required_scopes`` include the flow's scope.
            RunFailed: The service returned the run already FAILED.
            APIError: Any other refusal, a second 404 included.
        """
        request = build_run_request(
            body,
            label=label,
            tags=tags,
            run_kwargs=self.run_kwargs,
            call_kwargs=kwargs,
            globus_group=self.globus_group,
            max_label_length=self.max_label_length,
        )
        flow_id = await self._flow_id_for_run()

        try:
            run = await self._start_run(flow_id, request)
        except APIError as error:
            if error.http_status != 404 or not self._may_redeploy():
                raise
            flow_id = await self._redeploy_missing(flow_id)
            run = await self._start_run(flow_id, request)

        if run.get("status") == "FAILED":
            raise RunFailed(run)
        return run

    async def _flow_id_for_run(self) -> str:
        flow_id = await self.sync_flow()
        if flow_id is not None:
            return flow_id

        if self.on_change is None:
            reason = "on_change is None; call register_flow() first"
        else:
            reason = (
                f"on_change {_callable_name(self.on_change)} returned without "
                "deploying it; call register_flow() there or before running"
            )
        raise NoFlowRegistered(
            f"Flow {self.name!r} is not deployed: {reason}",
            name=self.name,
            flow_id=None,
        )

    async def _start_run(self, flow_id: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            run = await self._request_object(
                "POST",
                f"flows/{flow_id}/run",
                resource_server=flow_id,
                json=request,
            )
        except LoginRequired as error:
            scope = str(SpecificFlowScopes(flow_id).user)
            if scope not in error.required_scopes:
                error.required_scopes.append(scope)
            raise
        log.info("Flow %r: started run %s", self.name, run.get("run_id"))
        return run

    async def _redeploy_missing(self, missing_id: str) -> str:
        """Replace a flow whose run returned 404, once, however many callers wait."""
        async with self._exclusive():
            current = await self.get_flow_id()
            if current != missing_id and current is not None:
                return current

            log.warning(
                "Flow %r: flow %s is gone (HTTP 404), deploying it again",
                self.name,
                missing_id,
            )
            await self.purge_flow()
            return await self.register_flow()

    async def get_flow(self) -> dict[str, Any]:
        """Return the deployed flow's document (``GET /flows/{flow_id}``).

        Raises:
            NoFlowRegistered: No flow id is given or stored.
            APIError: The service refused, 404 included when the flow is gone.
        """
        flow_id = await self.get_flow_id()
        if flow_id is None:
            raise NoFlowRegistered(
                f"Flow {self.name!r} has no flow id yet", name=self.name, flow_id=None
            )
        return await self._request_object("GET", f"flows/{flow_id}")

    async def get_status(self, run_id: str) -> dict[str, Any]:
        """Return the run document of *run_id* (``GET /runs/{run_id}``)."""
        run_id = check_uuid(run_id, "run_id")
        return await self._request_object("GET", f"runs/{run_id}")

    def watch_run(
        self, run_id: str, delay: float = 2.0
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the run document at every poll until the run ends.

        The last document yielded has status SUCCEEDED, FAILED or ENDED (or
        any other status that is not ACTIVE or INACTIVE). A 429 response is
        waited out for its ``Retry-After``, up to the Session's
        ``retries.max_retry_after``; a longer one raises the APIError.
        """
        run_id = check_uuid(run_id, "run_id")
        return poll_run(
            lambda: self.get_status(run_id),
            delay,
            max_retry_after=self.session.retries.max_retry_after,
        )

    async def progress(
        self, run_id: str, callback: RunCallback | None = None, delay: float = 2.0
    ) -> dict[str, Any]:
        """Wait for a run to end and return its final document.

        Args:
            run_id: The run to follow.
            callback: Called (plain or async) with every document fetched,
                the final one included.
            delay: Seconds before the second poll; later polls slow down
                while the status stays the same.

        Raises:
            APIError: A status request failed, a 429 included whose
                ``Retry-After`` exceeds the Session's
                ``retries.max_retry_after``.
        """
        final: dict[str, Any] = {}
        async for run in self.watch_run(run_id, delay):
            final = run
            if callback is not None:
                result = callback(run)
                if inspect.isawaitable(result):
                    await result
        return final

    async def get_details(self, run_id: str, state_name: str) -> Any:
        """Return what the state *state_name* wrote into a run's output.

        The result is read at the state's ``ResultPath``, a dotted path such
        as ``$.Results.Transfer``, or under the state's name when it has no
        ``ResultPath``.

        Raises:
            KeyError: The run's output has nothing for that state (yet).
        """
        run = await self.get_status(run_id)
        details = run.get("details")
        output = details.get("output") if isinstance(details, dict) else None
        if not isinstance(output, dict):
            raise KeyError(
                f"run {run_id} has no output yet (status {run.get('status')})"
            )

        path = self._result_path(state_name)
        value: Any = output
        for key in path:
            if not isinstance(value, dict) or key not in value:
                raise KeyError(
                    f"run {run_id} has no output for state {state_name!r} at "
                    f"$.{'.'.join(path)}; the output has {sorted(output)}"
                )
            value = value[key]
        return value

    def _result_path(self, state_name: str) -> list[str]:
        """Return the keys that lead from the run output to a state's result."""
        states = (self.flow_definition or {}).get("States", {})
        state = states.get(state_name)
        result_path = state.get("ResultPath") if isinstance(state, dict) else None
        if isinstance(result_path, str) and result_path.startswith("$."):
            return result_path[2:].split(".")
        return [state_name]

    # Scopes

    def _learn_flow_id(self, flow_id: str, scope: str | None = None) -> None:
        expected = str(SpecificFlowScopes(flow_id).user)
        if scope is not None and scope != expected:
            log.warning(
                "Flow %s reports scope %s, expected %s", flow_id, scope, expected
            )
        self._known_flow_id = flow_id
        if flow_id != self._registered_flow_id:
            self._registered_flow_id = flow_id
            self._register_scopes()

    def _scopes_by_resource_server(self) -> Mapping[str, list[Scope]]:
        scopes: dict[str, list[Scope]] = {
            FlowsScopes.resource_server: [
                FlowsScopes.manage_flows,
                FlowsScopes.run_status,
            ]
        }
        if self._known_flow_id is not None:
            scopes[self._known_flow_id] = [SpecificFlowScopes(self._known_flow_id).user]
        return scopes
