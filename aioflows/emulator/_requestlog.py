"""The record of requests the emulator received, with counters per endpoint."""

from __future__ import annotations

from collections import Counter, deque

import attrs

from ._faults import FaultKind

__all__ = ["LoggedRequest", "RequestLog"]


@attrs.frozen
class LoggedRequest:
    """One request as the emulator received and handled it.

    Attributes:
        method: The HTTP method.
        path: The request path.
        route: The path template it matched, such as ``/flows/{flow_id}``,
            or the path itself when it matched none.
        status: The HTTP status sent, or None when a connection fault sent
            no response.
        fault: The injected fault, or None.
        time: The emulator time it arrived, in seconds since the Unix epoch.
    """

    method: str
    path: str
    route: str
    status: int | None
    fault: FaultKind | None
    time: float


@attrs.define
class RequestLog:
    """Recent requests and a count of all requests per method and route.

    Attributes:
        entries: The most recent requests, oldest first; at most ``max_entries``.
        counts: Requests per ``(method, route)`` since the last :meth:`clear`,
            never trimmed.
    """

    max_entries: int = 10_000
    entries: deque[LoggedRequest] = attrs.field(init=False)
    counts: Counter[tuple[str, str]] = attrs.field(init=False, factory=Counter)

    def __attrs_post_init__(self) -> None:
        self.entries = deque(maxlen=self.max_entries)

    def record(self, entry: LoggedRequest) -> None:
        """Add one request to the log and its counter."""
        self.entries.append(entry)
        self.counts[(entry.method, entry.route)] += 1

    def count(self, method: str | None = None, route: str | None = None) -> int:
        """Count requests since the last :meth:`clear`.

        Args:
            method: Only this HTTP method; None counts every method.
            route: Only this path template, such as ``/flows/{flow_id}``;
                None counts every route.

        Returns:
            The number of requests received, faulted and rejected ones included.
        """
        return sum(
            number
            for (logged_method, logged_route), number in self.counts.items()
            if (method is None or logged_method == method.upper())
            and (route is None or logged_route == route)
        )

    def clear(self) -> None:
        """Forget every entry and reset every counter."""
        self.entries.clear()
        self.counts.clear()
