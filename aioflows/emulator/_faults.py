"""Knobs that make the emulator slow, strict or unreliable on purpose.

Both adapters share them: latency before each request, a rate limit that
returns 429, and faults that are scripted per endpoint or drawn at random.
"""

from __future__ import annotations

import enum
import math
import random
from collections import deque

import attrs

__all__ = ["Fault", "FaultKind", "FaultPlan", "Latency", "RateLimit"]


class FaultKind(enum.Enum):
    """A way for one request to fail.

    Attributes:
        HTTP_500: Return 500 with an HTML body; the request is not applied.
        HTTP_502: Return 502 with an HTML body, as a proxy would; not applied.
        HTTP_503: Return 503 with an HTML body; not applied.
        CONNECTION_RESET: Reset the connection before applying the request.
        READ_TIMEOUT: Send no response; the request is not applied.
        RESPONSE_LOST: Apply the request, then drop the connection without a
            response, so the client cannot tell that it succeeded.
    """

    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    CONNECTION_RESET = "connection_reset"
    READ_TIMEOUT = "read_timeout"
    RESPONSE_LOST = "response_lost"

    @property
    def http_status(self) -> int | None:
        """The HTTP status this fault returns, or None for connection faults."""
        return {"http_500": 500, "http_502": 502, "http_503": 503}.get(self.value)


@attrs.frozen
class Latency:
    """Delay added before each request is handled.

    Attributes:
        seconds: The mean delay in seconds.
        jitter: Half-width in seconds of a uniform random spread around
            ``seconds``; a delay never goes below zero.
    """

    seconds: float = 0.0
    jitter: float = 0.0

    def draw(self, rng: random.Random) -> float:
        """Return one delay in seconds."""
        if self.jitter <= 0:
            return max(self.seconds, 0.0)
        return max(self.seconds + rng.uniform(-self.jitter, self.jitter), 0.0)


@attrs.frozen
class RateLimit:
    """A sliding-window limit on requests, counted on the emulator clock.

    Attributes:
        requests: How many requests the window admits.
        per_seconds: The window length in seconds.
    """

    requests: int
    per_seconds: float = 1.0


@attrs.define
class RateLimiter:
    """The request times inside the current window of a :class:`RateLimit`."""

    times: deque[float] = attrs.field(factory=deque)

    def retry_after(self, limit: RateLimit, now: float) -> int | None:
        """Admit a request, or return how many seconds to wait.

        Args:
            limit: The limit in force.
            now: The current emulator time in seconds.

        Returns:
            None when the request is admitted (and counted), else the whole
            number of seconds for ``Retry-After``, at least 1.
        """
        while self.times and self.times[0] <= now - limit.per_seconds:
            self.times.popleft()
        if len(self.times) < limit.requests:
            self.times.append(now)
            return None
        return max(math.ceil(self.times[0] + limit.per_seconds - now), 1)


@attrs.frozen
class Fault:
    """A scripted fault for the next matching requests.

    Attributes:
        kind: What goes wrong.
        method: The HTTP method it applies to, or None for any.
        route: The path template it applies to, such as ``/flows/{flow_id}``
            (see :data:`aioflows.emulator.ROUTES`), or None for any.
        times: How many matching requests it hits before it is used up.
    """

    kind: FaultKind
    method: str | None = None
    route: str | None = None
    times: int = 1

    def matches(self, method: str, route: str) -> bool:
        """Return whether a request with this method and route is hit."""
        if self.method is not None and self.method.upper() != method:
            return False
        return self.route is None or self.route == route


@attrs.define
class FaultPlan:
    """Scripted faults, used in order, and an optional random fault rate.

    Attributes:
        scripted: Faults not used up yet.
        random_rate: Probability from 0 to 1 that a request without a
            scripted fault gets a random one.
        random_kinds: The kinds random faults are drawn from.
    """

    scripted: list[Fault] = attrs.field(factory=list)
    random_rate: float = 0.0
    random_kinds: tuple[FaultKind, ...] = (
        FaultKind.HTTP_500,
        FaultKind.HTTP_502,
        FaultKind.HTTP_503,
        FaultKind.CONNECTION_RESET,
    )

    def add(
        self,
        kind: FaultKind,
        *,
        method: str | None = None,
        route: str | None = None,
        times: int = 1,
    ) -> None:
        """Script a fault for the next ``times`` requests that match.

        Raises:
            ValueError: If ``times`` is less than 1.
        """
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        self.scripted.append(Fault(kind, method, route, times))

    def set_random(
        self, rate: float, kinds: tuple[FaultKind, ...] | None = None
    ) -> None:
        """Give every request a chance of a random fault.

        Args:
            rate: Probability from 0 to 1; 0 turns random faults off.
            kinds: The kinds to draw from; None keeps the current ones.

        Raises:
            ValueError: If ``rate`` is outside 0 to 1 or ``kinds`` is empty.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be from 0 to 1, not {rate}")
        if kinds is not None and not kinds:
            raise ValueError("kinds must name at least one FaultKind")
        self.random_rate = rate
        if kinds is not None:
            self.random_kinds = kinds

    def clear(self) -> None:
        """Remove every scripted fault and turn random faults off."""
        self.scripted.clear()
        self.random_rate = 0.0

    def draw(self, method: str, route: str, rng: random.Random) -> FaultKind | None:
        """Return the fault for one request, using up a scripted one if it matches.

        Args:
            method: The request method.
            route: The path template the request matched.
            rng: The emulator's random generator.

        Returns:
            The fault, or None when the request goes through.
        """
        for index, fault in enumerate(self.scripted):
            if fault.matches(method, route):
                if fault.times > 1:
                    self.scripted[index] = attrs.evolve(fault, times=fault.times - 1)
                else:
                    del self.scripted[index]
                return fault.kind

        if self.random_rate > 0 and rng.random() < self.random_rate:
            return rng.choice(self.random_kinds)
        return None
