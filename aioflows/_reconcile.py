"""Batch reconciliation: sync many flows at once and report what each one did."""

from __future__ import annotations

import enum
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import anyio
import attrs

from ._drift import RemoteState, compare_remote
from ._errors import NoFlowRegistered
from ._session import track_requests
from .managers import FlowsManager
from .managers._flows import CHECKSUM_KEY, FLOW_ID_KEY

__all__ = [
    "FlowResult",
    "Outcome",
    "ReconcileReport",
    "check_batch",
    "error_message",
    "preview_outcome",
    "reconcile",
]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 32


class Outcome(str, enum.Enum):
    """The effect of a sync on one flow, or the effect a dry run predicts."""

    UNCHANGED = "unchanged"
    CREATED = "created"
    UPDATED = "updated"
    REDEPLOYED = "redeployed"
    FAILED = "failed"
    WOULD_CREATE = "would-create"
    WOULD_UPDATE = "would-update"


# The outcomes each kind of report counts, in the order reports list them.
SYNC_OUTCOMES = (
    Outcome.CREATED,
    Outcome.UPDATED,
    Outcome.REDEPLOYED,
    Outcome.UNCHANGED,
    Outcome.FAILED,
)
PREVIEW_OUTCOMES = (
    Outcome.WOULD_CREATE,
    Outcome.WOULD_UPDATE,
    Outcome.UNCHANGED,
    Outcome.FAILED,
)


def error_message(error: BaseException | None) -> str | None:
    """Return an error as one line, ``"TypeName: first line of the message"``."""
    if error is None:
        return None
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else "no message"
    return f"{type(error).__name__}: {text}"


@attrs.frozen
class FlowResult:
    """The result of one flow in a batch.

    Attributes:
        name: The manager's name (its storage namespace).
        outcome: What the sync did, or would do in a dry run.
        flow_id: The flow's id after the sync; for a failure, the last id
            known; None when the flow has none.
        error: The exception of a failed flow, else None.
        duration_s: Seconds this flow's work took, waiting for a free slot
            not included.
        http_calls: HTTP attempts made for this flow, retries included.
    """

    name: str
    outcome: Outcome
    flow_id: str | None = None
    error: Exception | None = attrs.field(default=None, eq=False, repr=False)
    duration_s: float = 0.0
    http_calls: int = 0

    @property
    def message(self) -> str | None:
        """The error as one line, or None."""
        return error_message(self.error)

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-serialisable dict."""
        return {
            "name": self.name,
            "flow_id": self.flow_id,
            "outcome": self.outcome.value,
            "error": self.message,
            "duration_s": round(self.duration_s, 6),
            "http_calls": self.http_calls,
        }


class _HasOutcome(Protocol):
    @property
    def outcome(self) -> Outcome: ...


ResultT = TypeVar("ResultT", bound=_HasOutcome)


class BatchReport(Generic[ResultT]):
    """Methods shared by the reports of reconcile and plan.

    Subclasses are frozen attrs classes with a ``results`` field and an
    ``as_dict`` method.
    """

    results: tuple[ResultT, ...]

    @property
    def failed(self) -> tuple[ResultT, ...]:
        """The results whose outcome is ``failed``."""
        return tuple(
            result for result in self.results if result.outcome is Outcome.FAILED
        )

    @property
    def ok(self) -> bool:
        """Whether no flow failed. Drift found by a plan is not a failure."""
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-serialisable dict."""
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`as_dict` as JSON text."""
        return json.dumps(self.as_dict(), indent=indent)


@attrs.frozen
class ReconcileReport(BatchReport[FlowResult]):
    """The results of one batch, in the order the managers were given.

    Attributes:
        results: One result per flow.
        dry_run: Whether the batch only previewed changes.
        duration_s: Seconds the whole batch took.
    """

    results: tuple[FlowResult, ...]
    dry_run: bool = False
    duration_s: float = 0.0

    @property
    def summary(self) -> dict[str, int]:
        """Count results per outcome; every outcome of this kind of batch is listed."""
        outcomes = PREVIEW_OUTCOMES if self.dry_run else SYNC_OUTCOMES
        counts = {outcome.value: 0 for outcome in outcomes}
        for result in self.results:
            counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """Return ``{"results": [...], "summary": {outcome: count}}``."""
        return {
            "results": [result.as_dict() for result in self.results],
            "summary": self.summary,
        }


ProgressCallback = Callable[[FlowResult], Awaitable[Any] | Any]


@attrs.frozen
class _Stored:
    flow_id: Any
    checksum: Any


async def reconcile(
    managers: Iterable[FlowsManager],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    remote: bool = False,
    on_progress: ProgressCallback | None = None,
) -> ReconcileReport:
    """Sync every manager, at most *concurrency* at a time, and report each outcome.

    Build the managers on one shared Session so that they share its
    connection pool. A flow that fails is reported and logged; it never
    stops the others. Cancelling the call cancels every flow still in
    progress, while what finished stays recorded in storage.

    The outcome is read from storage before and after each sync: a new
    stored id means ``created``, a different one ``redeployed``, a new
    checksum ``updated``. A flow with an explicit ``flow_id`` (an adopted
    flow) is never ``created``: its first sync is ``updated``.

    Args:
        managers: The managers to sync; their names must be unique.
        concurrency: The maximum number of flows in progress at once.
        dry_run: Only compare local checksums with the stored ones and
            report ``would-create``, ``would-update`` or ``unchanged``,
            without any write or request.
        remote: Also fetch each deployed flow first and repair drift made
            outside aioflows: a deleted flow is deployed again
            (``redeployed``), a flow edited elsewhere is updated back
            (``updated``). Costs one ``GET`` per flow. To only see drift,
            use :func:`aioflows.plan` with ``remote=True``.
        on_progress: Called (plain or async) with each result as its flow
            finishes. An exception it raises stops the batch.

    Raises:
        ValueError: *concurrency* is below 1, two managers share a name or
            an explicit ``flow_id``, or *dry_run* and *remote* are both set.
    """
    managers = list(managers)
    check_batch(managers, concurrency)
    if dry_run and remote:
        raise ValueError(
            "dry_run and remote cannot be combined; use plan(managers, remote=True) "
            "to see drift without changing anything"
        )

    async def work(manager: FlowsManager) -> FlowResult:
        if dry_run:
            return await _preview_one(manager)
        return await _sync_one(manager, remote=remote)

    results, duration = await run_batch(managers, work, concurrency, on_progress)
    return ReconcileReport(tuple(results), dry_run=dry_run, duration_s=duration)


def check_batch(managers: Sequence[FlowsManager], concurrency: int) -> None:
    """Check the arguments of a batch before any work starts.

    Raises:
        ValueError: *concurrency* is not an integer of at least 1, two
            managers share a name, or two managers share an explicit
            ``flow_id``.
    """
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or concurrency < 1
    ):
        raise ValueError(
            f"concurrency must be an integer of at least 1, got {concurrency!r}"
        )

    seen: set[str] = set()
    for manager in managers:
        if manager.name in seen:
            raise ValueError(
                f"two managers are named {manager.name!r}; each needs its own name "
                "because the name is its storage namespace"
            )
        seen.add(manager.name)

    # Two managers syncing one flow would each overwrite the other's
    # definition, and each would then find its own checksum stored.
    adopted: dict[str, str] = {}
    for manager in managers:
        if manager.flow_id is None:
            continue
        first = adopted.setdefault(manager.flow_id, manager.name)
        if first != manager.name:
            raise ValueError(
                f"the managers {first!r} and {manager.name!r} both have the explicit "
                f"flow_id {manager.flow_id}; one flow can have only one manager in "
                "a batch, so remove the flow_id from one of them"
            )


async def run_batch(
    managers: Sequence[FlowsManager],
    work: Callable[[FlowsManager], Awaitable[Any]],
    concurrency: int,
    on_progress: Callable[[Any], Any] | None,
) -> tuple[list[Any], float]:
    """Run *work* on every manager under a CapacityLimiter; return results and seconds.

    Results keep the order of *managers*. *work* must catch its own
    exceptions, because one that escapes cancels the whole batch.
    """
    results: list[Any] = [None] * len(managers)
    limiter = anyio.CapacityLimiter(concurrency)
    started = time.perf_counter()

    async def run_one(index: int, manager: FlowsManager) -> None:
        async with limiter:
            result = await work(manager)
        results[index] = result
        if on_progress is not None:
            outcome = on_progress(result)
            if inspect.isawaitable(outcome):
                await outcome

    async with anyio.create_task_group() as group:
        for index, manager in enumerate(managers):
            group.start_soon(run_one, index, manager, name=f"reconcile {manager.name}")

    return results, time.perf_counter() - started


async def preview_outcome(manager: FlowsManager) -> tuple[Outcome, str | None]:
    """Return what a sync of *manager* would do, reading storage only.

    Returns:
        ``would-create`` when no flow id is known, ``would-update`` when the
        stored checksum differs, else ``unchanged``; and the flow id.
    """
    flow_id = await manager.get_flow_id()
    if flow_id is None:
        return Outcome.WOULD_CREATE, None
    if await manager.flow_changed():
        return Outcome.WOULD_UPDATE, flow_id
    return Outcome.UNCHANGED, flow_id


async def _preview_one(manager: FlowsManager) -> FlowResult:
    started = time.perf_counter()
    with track_requests() as stats:
        try:
            outcome, flow_id = await preview_outcome(manager)
        except Exception as error:
            return _failure(manager, manager.flow_id, error, started, stats.attempts)

    return FlowResult(
        name=manager.name,
        outcome=outcome,
        flow_id=flow_id,
        duration_s=time.perf_counter() - started,
        http_calls=stats.attempts,
    )


async def _sync_one(manager: FlowsManager, *, remote: bool) -> FlowResult:
    started = time.perf_counter()
    known_id = manager.flow_id
    forced = False
    with track_requests() as stats:
        try:
            before = await _read_stored(manager)
            known_id = known_id or before.flow_id
            if remote:
                forced = await _forget_remote_drift(manager)
            flow_id = await manager.sync_flow()
            if flow_id is None:
                raise NoFlowRegistered(
                    _not_deployed_message(manager), name=manager.name, flow_id=None
                )
            after = await _read_stored(manager)
        except Exception as error:
            return _failure(manager, known_id, error, started, stats.attempts)

    outcome = _sync_outcome(manager, before, after)
    if forced and outcome is Outcome.UNCHANGED:
        outcome = Outcome.UPDATED
    _log_outcome(manager.name, outcome, flow_id)
    return FlowResult(
        name=manager.name,
        outcome=outcome,
        flow_id=flow_id,
        duration_s=time.perf_counter() - started,
        http_calls=stats.attempts,
    )


def _not_deployed_message(manager: FlowsManager) -> str:
    if manager.on_change is None:
        return (
            f"Flow {manager.name!r} has no flow id and its on_change is None, "
            "so nothing was deployed; use the default on_change to deploy it"
        )
    return (
        f"Flow {manager.name!r} has no flow id after its on_change ran, so "
        "nothing was deployed; make on_change call manager.register_flow(), "
        "or use the default on_change"
    )


async def _forget_remote_drift(manager: FlowsManager) -> bool:
    """Make the next sync repair drift of the deployed flow, and report any.

    A deleted flow's stored id is purged, so the sync creates it again. An
    explicit id is kept, so its update fails with the service's 404. A
    drifted flow's stored checksum is dropped, so the sync updates it.

    Returns:
        Whether the flow was deleted or drifted.
    """
    state, _ = await compare_remote(manager, await manager.get_flow_id())
    if state is RemoteState.DELETED and manager.flow_id is None:
        await manager.purge_flow()
        return True
    if state in (RemoteState.DRIFTED, RemoteState.DELETED):
        await manager.storage.delete(manager.name, CHECKSUM_KEY)
        return True
    return False


async def _read_stored(manager: FlowsManager) -> _Stored:
    stored = await manager.storage.items(manager.name)
    return _Stored(stored.get(FLOW_ID_KEY), stored.get(CHECKSUM_KEY))


def _sync_outcome(manager: FlowsManager, before: _Stored, after: _Stored) -> Outcome:
    # An explicit id is never replaced, so the most a sync can do is update it.
    if manager.flow_id is not None:
        return Outcome.UPDATED if after != before else Outcome.UNCHANGED

    if before.flow_id is None:
        return Outcome.CREATED
    if after.flow_id != before.flow_id:
        return Outcome.REDEPLOYED
    if after.checksum != before.checksum:
        return Outcome.UPDATED
    return Outcome.UNCHANGED


def _log_outcome(name: str, outcome: Outcome, flow_id: str | None) -> None:
    # The manager already logs each create, update and redeploy at INFO.
    log.debug("Flow %r (%s): %s", name, flow_id, outcome.value)


def _failure(
    manager: FlowsManager,
    flow_id: Any,
    error: Exception,
    started: float,
    http_calls: int,
) -> FlowResult:
    known_id = flow_id if isinstance(flow_id, str) else None
    log.error("Flow %r (%s): failed: %s", manager.name, known_id or "no flow id", error)
    log.debug("Flow %r: traceback of the failure", manager.name, exc_info=error)
    return FlowResult(
        name=manager.name,
        outcome=Outcome.FAILED,
        flow_id=known_id,
        error=error,
        duration_s=time.perf_counter() - started,
        http_calls=http_calls,
    )
