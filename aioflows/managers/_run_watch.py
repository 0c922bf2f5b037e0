"""Polling a run until it reaches a terminal status."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from .._errors import APIError
from .._retry import parse_retry_after

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "poll_run"]

log = logging.getLogger(__name__)

# The Flows service documents these run statuses. Anything else is treated
# as terminal so that an unexpected status can never make a poll loop forever.
ACTIVE_STATUSES = frozenset({"ACTIVE", "INACTIVE"})
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "ENDED"})

# Polling slows down by this factor after each unchanged status ...
_BACKOFF_FACTOR = 1.5
# ... up to this many seconds between two polls, or the initial delay if larger.
_MAX_POLL_INTERVAL = 30.0


async def poll_run(
    fetch: Callable[[], Awaitable[dict[str, Any]]],
    delay: float,
    *,
    max_retry_after: float,
) -> AsyncIterator[dict[str, Any]]:
    """Yield every run document *fetch* returns until a terminal status.

    The first document is fetched at once. The wait between two fetches
    starts at *delay* seconds, grows while the status stays the same, and
    resets when it changes. A 429 response waits for its ``Retry-After``.

    Args:
        fetch: Returns the run document, or raises APIError.
        delay: Seconds before the second fetch.
        max_retry_after: The longest ``Retry-After`` in seconds that is
            waited out, as in the Session's RetryPolicy.

    Raises:
        APIError: Any error status but 429, or a 429 whose ``Retry-After``
            exceeds *max_retry_after*.
    """
    if delay < 0:
        raise ValueError(f"delay must be zero or more seconds, got {delay!r}")

    interval = delay
    previous_status: str | None = None
    while True:
        try:
            run = await fetch()
        except APIError as error:
            if error.http_status != 429:
                raise
            await anyio.sleep(_retry_after_seconds(error, interval, max_retry_after))
            continue

        yield run

        status = run.get("status")
        if status not in ACTIVE_STATUSES:
            return
        if status == "INACTIVE":
            _log_inactive(run)

        interval = delay if status != previous_status else _grow(interval, delay)
        previous_status = status
        await anyio.sleep(interval)


def _grow(interval: float, delay: float) -> float:
    return min(max(delay, _MAX_POLL_INTERVAL), interval * _BACKOFF_FACTOR)


def _retry_after_seconds(error: APIError, fallback: float, limit: float) -> float:
    """Return the wait a 429 requests, re-raising the 429 when it exceeds *limit*."""
    seconds = parse_retry_after(error.headers.get("retry-after"))
    if seconds is None:
        return max(fallback, 1.0)
    if not seconds <= limit:
        log.warning(
            "%s %s: Retry-After of %.1f s exceeds the %.1f s limit, not polling again",
            error.method,
            error.url,
            seconds,
            limit,
        )
        raise error
    return seconds


def _log_inactive(run: dict[str, Any]) -> None:
    details = run.get("details")
    reason = None
    if isinstance(details, dict):
        reason = details.get("description") or details.get("code")
    log.info(
        "Run %s is INACTIVE: %s",
        run.get("run_id"),
        reason or "the service gave no reason",
    )
