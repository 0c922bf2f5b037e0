"""Plan: what a sync would change, and drift made outside aioflows, without writing.

Locally, a plan compares each flow's checksum with the stored one, like a
dry run. With ``remote=True`` it also fetches each deployed flow and reports
how it drifted (see :mod:`aioflows._drift` for what is compared).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import attrs

from ._drift import FieldDrift, RemoteState, compare_remote
from ._reconcile import (
    DEFAULT_CONCURRENCY,
    PREVIEW_OUTCOMES,
    BatchReport,
    Outcome,
    ProgressCallback,
    check_batch,
    error_message,
    preview_outcome,
    run_batch,
)
from ._session import track_requests
from .managers import FlowsManager

__all__ = [
    "FlowPlan",
    "PlanReport",
    "plan",
]

log = logging.getLogger(__name__)


@attrs.frozen
class FlowPlan:
    """The plan for one flow.

    Attributes:
        name: The manager's name.
        outcome: ``would-create``, ``would-update``, ``unchanged`` or
            ``failed``, from local checksums.
        flow_id: The known flow id, or None.
        remote: The comparison with the deployed flow; None when the plan
            did not look (``remote=False``) or failed first.
        drift: The fields that differ, for a ``drifted`` flow.
        error: The exception of a failed flow, else None.
        duration_s: Seconds this flow's plan took.
        http_calls: HTTP attempts made for this flow.
    """

    name: str
    outcome: Outcome
    flow_id: str | None = None
    remote: RemoteState | None = None
    drift: tuple[FieldDrift, ...] = ()
    error: Exception | None = attrs.field(default=None, eq=False, repr=False)
    duration_s: float = 0.0
    http_calls: int = 0

    @property
    def message(self) -> str | None:
        """The error as one line, or None."""
        return error_message(self.error)

    def as_dict(self) -> dict[str, Any]:
        """Return the plan as a JSON-serialisable dict."""
        return {
            "name": self.name,
            "flow_id": self.flow_id,
            "outcome": self.outcome.value,
            "error": self.message,
            "duration_s": round(self.duration_s, 6),
            "http_calls": self.http_calls,
            "remote": self.remote.value if self.remote is not None else None,
            "drift": [drift.as_dict() for drift in self.drift],
        }


@attrs.frozen
class PlanReport(BatchReport[FlowPlan]):
    """The plans of a batch, in the order the managers were given.

    Attributes:
        results: One plan per flow.
        remote: Whether deployed flows were fetched and compared.
        duration_s: Seconds the whole plan took.
    """

    results: tuple[FlowPlan, ...]
    remote: bool = False
    duration_s: float = 0.0

    @property
    def summary(self) -> dict[str, int]:
        """Count plans per local outcome."""
        counts = {outcome.value: 0 for outcome in PREVIEW_OUTCOMES}
        for result in self.results:
            counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
        return counts

    @property
    def remote_summary(self) -> dict[str, int]:
        """Count plans per remote state; empty when the plan did not look."""
        if not self.remote:
            return {}
        counts = {state.value: 0 for state in RemoteState}
        for result in self.results:
            if result.remote is not None:
                counts[result.remote.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """Return ``{"results": [...], "summary": {...}, "remote_summary": {...}}``."""
        return {
            "results": [result.as_dict() for result in self.results],
            "summary": self.summary,
            "remote_summary": self.remote_summary,
        }


async def plan(
    managers: Iterable[FlowsManager],
    *,
    remote: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
) -> PlanReport:
    """Report what a sync would change and, with *remote*, drift; change nothing.

    Args:
        managers: The managers to plan; their names must be unique.
        remote: Also fetch each deployed flow (one GET each) and compare it
            with the local one.
        concurrency: The maximum number of flows in progress at once.
        on_progress: Called (plain or async) with each FlowPlan as it
            finishes.

    Raises:
        ValueError: *concurrency* is below 1, or two managers share a name
            or an explicit ``flow_id``.
    """
    managers = list(managers)
    check_batch(managers, concurrency)

    async def work(manager: FlowsManager) -> FlowPlan:
        return await _plan_one(manager, remote)

    results, duration = await run_batch(managers, work, concurrency, on_progress)
    return PlanReport(tuple(results), remote=remote, duration_s=duration)


async def _plan_one(manager: FlowsManager, remote: bool) -> FlowPlan:
    started = time.perf_counter()
    flow_id: str | None = manager.flow_id
    with track_requests() as stats:
        try:
            outcome, flow_id = await preview_outcome(manager)
            state, drift = (
                (None, ()) if not remote else await compare_remote(manager, flow_id)
            )
        except Exception as error:
            log.error(
                "Flow %r (%s): plan failed: %s",
                manager.name,
                flow_id or "no flow id",
                error,
            )
            return FlowPlan(
                name=manager.name,
                outcome=Outcome.FAILED,
                flow_id=flow_id,
                error=error,
                duration_s=time.perf_counter() - started,
                http_calls=stats.attempts,
            )

    return FlowPlan(
        name=manager.name,
        outcome=outcome,
        flow_id=flow_id,
        remote=state,
        drift=drift,
        duration_s=time.perf_counter() - started,
        http_calls=stats.attempts,
    )
