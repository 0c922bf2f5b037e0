"""The knobs applied to one request: rate limit, then faults, then the state.

Latency is applied before this step, by :meth:`Emulator.process`, because it
needs an await.
"""

from __future__ import annotations

import random
import uuid

import attrs

from ._faults import FaultKind, FaultPlan, RateLimit, RateLimiter
from ._http import EmulatorRequest, EmulatorResponse, json_response
from ._state import EmulatorState

__all__ = ["Outcome", "respond"]

_FAULT_PAGE = (
    "<html><head><title>{status} {reason}</title></head>"
    "<body><h1>{status} {reason}</h1><p>Injected by the aioflows emulator.</p></body></html>"
)
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@attrs.frozen
class Outcome:
    """The result an adapter must send back for one request.

    Attributes:
        response: The response, or None when a connection fault replaces it.
        fault: The connection fault to reproduce (``CONNECTION_RESET``,
            ``READ_TIMEOUT`` or ``RESPONSE_LOST``), or None.
    """

    response: EmulatorResponse | None
    fault: FaultKind | None = None


def respond(
    state: EmulatorState,
    request: EmulatorRequest,
    route: str,
    *,
    faults: FaultPlan,
    rate_limit: RateLimit | None,
    limiter: RateLimiter,
    rng: random.Random,
    now: float,
) -> Outcome:
    """Decide what one request gets.

    Args:
        state: The state that applies the request when no knob stops it.
        request: The request.
        route: The path template it matched.
        faults: The scripted and random faults.
        rate_limit: The limit in force, or None.
        limiter: The request times counted against the limit.
        rng: The generator for random faults and debug ids.
        now: The emulator time in seconds since the Unix epoch.

    Returns:
        A 429 when over the rate limit; else an HTML error page or a
        connection fault when one is drawn; else the state's response. The
        request is applied only in the last case and for ``RESPONSE_LOST``.
    """
    if rate_limit is not None:
        retry_after = limiter.retry_after(rate_limit, now)
        if retry_after is not None:
            return Outcome(_rate_limited(retry_after, rng))

    fault = faults.draw(request.method, route, rng)
    if fault is not None and fault.http_status is not None:
        return Outcome(_fault_page(fault.http_status), fault)
    if fault in (FaultKind.CONNECTION_RESET, FaultKind.READ_TIMEOUT):
        return Outcome(None, fault)

    response = state.handle(request)
    if fault is FaultKind.RESPONSE_LOST:
        return Outcome(None, fault)
    return Outcome(response)


def _rate_limited(retry_after: int, rng: random.Random) -> EmulatorResponse:
    document = {
        "error": {
            "code": "TOO_MANY_REQUESTS",
            "detail": f"Rate limit exceeded; retry after {retry_after} s",
        },
        "debug_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    }
    return json_response(429, document, (("retry-after", str(retry_after)),))


def _fault_page(status: int) -> EmulatorResponse:
    body = _FAULT_PAGE.format(status=status, reason=_REASONS[status]).encode()
    return EmulatorResponse(
        status, body, (("content-type", "text/html; charset=utf-8"),)
    )
