"""The :class:`Emulator`: one stateful stand-in for Globus Flows, Groups and Auth."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs

from ._clock import Clock, SystemClock
from ._engine import RunTiming
from ._faults import FaultPlan, Latency, RateLimit, RateLimiter
from ._http import EmulatorRequest, EmulatorResponse
from ._identities import Identity
from ._ids import IdSource
from ._pipeline import Outcome, respond
from ._requestlog import LoggedRequest, RequestLog
from ._server import RunningServer, serve_emulator
from ._state import EmulatorState
from ._statefile import (
    StateFileError,
    encode_state,
    read_state_file,
    write_state_file,
)
from ._tokens import check_static_token
from ._transport import EmulatorTransport

__all__ = ["Emulator", "Subscription"]

logger = logging.getLogger(__name__)


@attrs.frozen
class Subscription:
    """A subscription and the group that carries it."""

    subscription_id: str
    group_id: str


@attrs.define
class Emulator:
    """A local, stateful emulator of the Globus Flows, Groups and Auth APIs.

    One emulator serves all three services, routed by path only, so it works
    whatever host a client uses. Use :meth:`transport` for in-process tests
    and :meth:`serve` for a loopback HTTP server.

    Args:
        static_token: A development token accepted for every resource server
            as the default user: one or more visible ASCII characters. None
            draws a random one; read it back from :attr:`static_token`.
        identity_id: The default user's identity id; None draws a random UUID.
        clock: The clock that runs advance on. Pass a
            :class:`~aioflows.emulator.ManualClock` to drive runs from a test.
        seed: Seed of the random generator behind ids, tokens, jitter and
            random faults; None seeds from the system.
        timing: How long run states take on the clock.

    Raises:
        ValueError: If ``static_token`` is empty or has a character other
            than visible ASCII.

    Attributes:
        latency: Delay added before each request.
        rate_limit: The request rate limit, or None for no limit.
        faults: Scripted and random faults.
        request_log: Received requests and counters per endpoint.
    """

    _static_token: str | None = attrs.field(
        default=None, kw_only=True, alias="static_token", repr=False
    )
    _identity_id: str | None = attrs.field(
        default=None, kw_only=True, alias="identity_id"
    )
    clock: Clock = attrs.field(factory=SystemClock, kw_only=True)
    seed: int | None = attrs.field(default=None, kw_only=True)
    _timing: RunTiming = attrs.field(factory=RunTiming, kw_only=True, alias="timing")
    latency: Latency = attrs.field(factory=Latency, kw_only=True)
    rate_limit: RateLimit | None = attrs.field(default=None, kw_only=True)
    faults: FaultPlan = attrs.field(factory=FaultPlan, kw_only=True)
    request_log: RequestLog = attrs.field(factory=RequestLog, kw_only=True)
    _ids: IdSource = attrs.field(init=False, repr=False)
    _state: EmulatorState = attrs.field(init=False, repr=False)
    _limiter: RateLimiter = attrs.field(init=False, factory=RateLimiter, repr=False)

    def __attrs_post_init__(self) -> None:
        if self._static_token is not None:
            check_static_token(self._static_token)

        self._ids = IdSource(random.Random(self.seed))
        if self._identity_id is None:
            self._identity_id = self._ids.uuid()
        if self._static_token is None:
            self._static_token = self._ids.token()

        self._state = EmulatorState.create(
            ids=self._ids,
            clock=self.clock,
            identity_id=self._identity_id,
            timing=self._timing,
        )
        self._state.context.tokens.static[self._static_token] = self._identity_id

    @property
    def static_token(self) -> str:
        """The development token accepted for every resource server as the default user."""
        assert self._static_token is not None
        return self._static_token

    @property
    def identity_id(self) -> str:
        """The default user's identity id."""
        return self._state.context.identities.default_id

    @property
    def timing(self) -> RunTiming:
        """How long run states take; a new value applies to runs started afterwards."""
        return self._state.runs.timing

    @timing.setter
    def timing(self, value: RunTiming) -> None:
        self._state.runs.timing = value

    @property
    def rotate_refresh_tokens(self) -> bool:
        """Whether a refresh replaces the refresh token and retires the old one."""
        return self._state.context.tokens.rotate_refresh_tokens

    @rotate_refresh_tokens.setter
    def rotate_refresh_tokens(self, value: bool) -> None:
        self._state.context.tokens.rotate_refresh_tokens = value

    @property
    def token_lifetime(self) -> int:
        """Lifetime in seconds of access tokens issued from now on (``expires_in``)."""
        return self._state.context.tokens.lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        self._state.context.tokens.lifetime = seconds

    def transport(self) -> EmulatorTransport:
        """Return an httpx transport that sends requests to this emulator in-process."""
        return EmulatorTransport(self)

    @asynccontextmanager
    async def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_remote_host: bool = False
    ) -> AsyncIterator[RunningServer]:
        """Run a loopback HTTP/1.1 server for this emulator while the block runs.

        Args:
            host: The address to listen on; a loopback address unless
                ``allow_remote_host`` is true.
            port: The TCP port; 0 picks a free one.
            allow_remote_host: Allow a host outside 127.0.0.0/8 and ::1,
                which exposes the static token's power to the network.

        Yields:
            The running server, whose ``url`` is the base URL for all three services.

        Raises:
            ValueError: If ``host`` is not a loopback address and
                ``allow_remote_host`` is false.
        """
        async with serve_emulator(
            self, host, port, allow_remote_host=allow_remote_host
        ) as server:
            yield server

    async def process(self, request: EmulatorRequest) -> Outcome:
        """Handle one request through latency, rate limit, faults and the state.

        Args:
            request: The parsed request.

        Returns:
            The response to send, or the connection fault to reproduce.
        """
        route = self._state.route_of(request.method, request.path)
        delay = self.latency.draw(self._ids.rng)
        if delay > 0:
            await anyio.sleep(delay)

        outcome = respond(
            self._state,
            request,
            route,
            faults=self.faults,
            rate_limit=self.rate_limit,
            limiter=self._limiter,
            rng=self._ids.rng,
            now=self.clock.now(),
        )
        status = outcome.response.status if outcome.response is not None else None
        self.request_log.record(
            LoggedRequest(
                request.method,
                request.path,
                route,
                status,
                outcome.fault,
                self.clock.now(),
            )
        )
        logger.debug(
            "%s %s -> %s (fault: %s)",
            request.method,
            request.path,
            status,
            outcome.fault,
        )
        return outcome

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Apply a request to the state directly, skipping latency, limits, faults and the log."""
        return self._state.handle(request)

    def count(self, method: str | None = None, route: str | None = None) -> int:
        """Count received requests; see :meth:`RequestLog.count`."""
        return self.request_log.count(method, route)

    def delete_flow(self, flow_id: str) -> None:
        """Delete a flow behind the clients' back, as another user or the web app would.

        Raises:
            KeyError: If no flow has this id.
        """
        del self._state.flows.store.flows[flow_id]
        self._state.flows.store.consent_required.pop(flow_id, None)

    def flow_ids(self) -> list[str]:
        """Return the ids of all deployed flows, oldest first."""
        return list(self._state.flows.store.flows)

    def require_consent(self, flow_id: str, *, mode: str = "reject") -> None:
        """Mark a flow as needing new consent before it can run.

        Args:
            flow_id: An existing flow id.
            mode: ``"reject"`` makes ``POST /flows/{id}/run`` return 403
                ``MISSING_SCOPE``; ``"inactive"`` starts runs that go INACTIVE
                at their first action until :meth:`grant_consent` and a resume.

        Raises:
            KeyError: If no flow has this id.
            ValueError: If ``mode`` is neither value.
        """
        if mode not in ("reject", "inactive"):
            raise ValueError(f"mode must be 'reject' or 'inactive', not {mode!r}")
        if flow_id not in self._state.flows.store.flows:
            raise KeyError(f"no flow has the id {flow_id!r}")
        self._state.flows.store.consent_required[flow_id] = mode

    def grant_consent(self, flow_id: str) -> None:
        """Clear a :meth:`require_consent` mark; INACTIVE runs then resume on request."""
        self._state.flows.store.consent_required.pop(flow_id, None)

    def add_user(self, username: str | None = None) -> str:
        """Add an identity, for tests of roles with more than one user.

        Args:
            username: Its username; None derives one from the new id.

        Returns:
            The new identity id.
        """
        identity_id = self._ids.uuid()
        name = username or f"user-{identity_id[:8]}@example.org"
        self._state.context.identities.by_id[identity_id] = Identity(
            identity_id, name, name, name
        )
        return identity_id

    def issue_tokens(
        self,
        scopes: Iterable[str],
        *,
        identity_id: str | None = None,
        refresh: bool = True,
    ) -> dict[str, Any]:
        """Issue tokens as a login would, without any browser step.

        Args:
            scopes: Scope strings, such as the Flows ``manage_flows`` scope or
                a flow's ``globus_auth_scope``.
            identity_id: The identity they act as; None for the default user.
            refresh: Whether each token comes with a refresh token.

        Returns:
            A Globus Auth token response: the first resource server's tokens
            at the top level and the others in ``other_tokens``.
        """
        return self._state.context.tokens.issue(
            identity_id or self.identity_id,
            list(scopes),
            self.clock.now(),
            with_refresh=refresh,
        )

    def add_static_token(self, token: str, identity_id: str) -> None:
        """Accept another static token, for every resource server, as an identity.

        Raises:
            ValueError: If the token is empty or has a character other than
                visible ASCII.
        """
        check_static_token(token, "token")
        self._state.context.tokens.static[token] = identity_id

    def add_group(
        self, name: str, *, identity_id: str | None = None, role: str = "admin"
    ) -> str:
        """Add a group with one member.

        Args:
            name: The group name.
            identity_id: The member; None for the default user.
            role: The member's role: ``admin``, ``manager`` or ``member``.

        Returns:
            The new group id.
        """
        group_id = self._ids.uuid()
        record = self._state.groups.store.add(
            group_id, name, owner_id=identity_id or self.identity_id
        )
        record["memberships"] = {identity_id or self.identity_id: role}
        return group_id

    def add_subscription(
        self, name: str = "Emulated subscription", *, group_id: str | None = None
    ) -> Subscription:
        """Add a subscription, carried by a given group or by a new one.

        Returns:
            The subscription id and its group id.

        Raises:
            KeyError: If ``group_id`` names no group.
        """
        group_id = group_id or self.add_group(name)
        subscription_id = self._ids.uuid()
        self._state.groups.store.attach_subscription(subscription_id, group_id, name)
        return Subscription(subscription_id, group_id)

    async def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state to a JSON file, atomically and with mode 0600.

        Args:
            path: The state file; its directory is created if missing.
        """
        # Encode on the event loop thread, so no request changes the state
        # while it is being read.
        data = encode_state(self._state.to_json())
        await anyio.to_thread.run_sync(write_state_file, Path(path), data)
        logger.info("Saved the emulator state to %s", os.fspath(path))

    @classmethod
    async def load(cls, path: str | os.PathLike[str], **options: Any) -> Emulator:
        """Create an emulator whose state comes from a file written by :meth:`save`.

        Args:
            path: The state file; a missing file gives an empty state.
            **options: Arguments for :class:`Emulator`. The default user is
                the one in the file, so ``identity_id`` is ignored when the
                file exists.

        Returns:
            The emulator.

        Raises:
            StateFileError: If the file is not a valid state file.
        """
        document = await anyio.to_thread.run_sync(read_state_file, Path(path))
        emulator = cls(**options)
        if document is None:
            return emulator

        try:
            emulator._state.load_json(document)
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            raise StateFileError(
                f"emulator state file {os.fspath(path)} is not valid emulator state ({exc!r}); fix it or move it away to start empty"
            ) from exc
        emulator._state.context.tokens.static[emulator.static_token] = (
            emulator.identity_id
        )
        logger.info("Loaded the emulator state from %s", os.fspath(path))
        return emulator
