"""An httpx transport that hands requests to an emulator in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from ._faults import FaultKind
from ._http import EmulatorRequest

if TYPE_CHECKING:
    from ._emulator import Emulator

__all__ = ["EmulatorTransport"]


class EmulatorTransport(httpx.AsyncBaseTransport):
    """Send each request straight to an :class:`~aioflows.emulator.Emulator`.

    No socket is opened. Whatever the URL's host, the path decides the
    service. Connection faults raise the httpx exception a real connection
    would: ``CONNECTION_RESET`` raises :class:`httpx.ReadError`,
    ``READ_TIMEOUT`` raises :class:`httpx.ReadTimeout` at once (without
    waiting for the client's timeout), and ``RESPONSE_LOST`` raises
    :class:`httpx.RemoteProtocolError` after the request was applied.

    Args:
        emulator: The emulator that handles the requests.
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request to the emulator and return its response.

        Raises:
            httpx.ReadError: For an injected connection reset.
            httpx.ReadTimeout: For an injected read timeout.
            httpx.RemoteProtocolError: For an injected lost response.
        """
        body = await request.aread()
        query: dict[str, str] = {}
        for name, value in request.url.params.multi_items():
            query[name] = f"{query[name]},{value}" if name in query else value

        parsed = EmulatorRequest(
            method=request.method,
            path=request.url.path,
            query=query,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body,
        )
        outcome = await self._emulator.process(parsed)

        if outcome.fault is FaultKind.CONNECTION_RESET:
            raise httpx.ReadError(
                "[Errno 104] Connection reset by peer", request=request
            )
        if outcome.fault is FaultKind.READ_TIMEOUT:
            raise httpx.ReadTimeout("timed out", request=request)
        if outcome.response is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )

        response = outcome.response
        return httpx.Response(
            response.status,
            headers=list(response.headers),
            content=response.body,
            request=request,
        )
