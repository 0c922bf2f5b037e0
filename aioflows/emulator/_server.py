"""A loopback HTTP/1.1 server for the emulator, on anyio and h11.

It runs on asyncio and trio alike. Each connection is served in its own task
with keep-alive; requests on one connection are handled in order.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio
import attrs
import h11
from anyio.abc import SocketAttribute, SocketStream

from ._faults import FaultKind
from ._http import EmulatorRequest, EmulatorResponse, json_response
from ._pipeline import Outcome

if TYPE_CHECKING:
    from ._emulator import Emulator

__all__ = ["RunningServer", "serve_emulator"]

logger = logging.getLogger(__name__)

_MAX_BODY_BYTES = 16 * 1024 * 1024
_RECEIVE_SIZE = 65_536
# How long a READ_TIMEOUT fault keeps a connection open before closing it.
_HANG_SECONDS = 60.0
_TOO_LARGE = f"Request bodies are limited to {_MAX_BODY_BYTES} bytes"
_INVALID_HTTP = "The request is not valid HTTP/1.1"
_INTERNAL_ERROR = (
    "The emulator failed to handle this request; the server log has the traceback"
)


@attrs.frozen
class RunningServer:
    """A loopback server that is accepting connections.

    Attributes:
        host: The address it listens on.
        port: The TCP port it listens on.
    """

    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:8765``, for all three services."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Return whether a host name or address is on the loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@asynccontextmanager
async def serve_emulator(
    emulator: Emulator, host: str, port: int, *, allow_remote_host: bool
) -> AsyncIterator[RunningServer]:
    """Serve an emulator over HTTP while the block runs.

    Args:
        emulator: The emulator that handles the requests.
        host: The listening address.
        port: The TCP port; 0 picks a free one.
        allow_remote_host: Allow an address outside the loopback interface.

    Yields:
        The running server.

    Raises:
        ValueError: If ``host`` is not on the loopback interface and
            ``allow_remote_host`` is false.
        OSError: If the address cannot be bound.
    """
    if not allow_remote_host and not is_loopback(host):
        raise ValueError(
            f"host {host!r} is not a loopback address; the emulator accepts its "
            "static token from anyone who can connect, so listen on 127.0.0.1, "
            "or pass allow_remote_host=True (--allow-remote-host) to expose it"
        )

    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    bound_port = listener.extra(SocketAttribute.local_port)
    server = RunningServer(host, bound_port)

    async def handle(stream: SocketStream) -> None:
        await _serve_connection(emulator, stream)

    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, handle)
        logger.info("Emulator server started on %s", server.url)
        try:
            yield server
        finally:
            task_group.cancel_scope.cancel()
            logger.info("Emulator server on %s stopped", server.url)


async def _serve_connection(emulator: Emulator, stream: SocketStream) -> None:
    connection = h11.Connection(h11.SERVER)
    try:
        async with stream:
            await _serve_requests(emulator, connection, stream)
    except (
        anyio.BrokenResourceError,
        anyio.ClosedResourceError,
        ConnectionError,
    ) as exc:
        logger.debug("Emulator connection dropped: %r", exc)
    except Exception:
        # The listener's task group would end the whole server on this error,
        # so it costs only this connection.
        logger.exception("Emulator server closed a connection after an internal error")


async def _serve_requests(
    emulator: Emulator, connection: h11.Connection, stream: SocketStream
) -> None:
    while True:
        try:
            request = await _read_request(connection, stream)
        except _RequestTooLarge:
            await _send(
                connection,
                stream,
                _error_response(413, "PAYLOAD_TOO_LARGE", _TOO_LARGE),
            )
            return
        except h11.RemoteProtocolError as exc:
            await _reject_invalid_http(connection, stream, exc.error_status_hint)
            return
        if request is None:
            return

        outcome = await _process(emulator, request)
        if outcome.fault is FaultKind.CONNECTION_RESET:
            _reset_on_close(stream)
            return
        if outcome.fault is FaultKind.READ_TIMEOUT:
            await _hang(stream)
            return
        if outcome.response is None:
            return

        await _send(connection, stream, outcome.response)
        if connection.our_state is h11.MUST_CLOSE:
            return
        connection.start_next_cycle()


async def _process(emulator: Emulator, request: EmulatorRequest) -> Outcome:
    try:
        return await emulator.process(request)
    except Exception:
        # One request that breaks a handler gets a 500, as from a real
        # service, and the server goes on serving the others.
        logger.exception(
            "Emulator server failed to handle %s %s and returned 500",
            request.method,
            request.path,
        )
        return Outcome(_error_response(500, "INTERNAL_SERVER_ERROR", _INTERNAL_ERROR))


async def _reject_invalid_http(
    connection: h11.Connection, stream: SocketStream, status: int
) -> None:
    # h11's message quotes the offending bytes, which may be an Authorization
    # header with its token, so only the status and the peer are logged.
    logger.warning(
        "Emulator server returned %d for invalid HTTP from %s and closed the connection",
        status,
        stream.extra(SocketAttribute.remote_address, "an unknown peer"),
    )
    if connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
        response = _error_response(status, HTTPStatus(status).name, _INVALID_HTTP)
        await _send(connection, stream, response)


def _error_response(status: int, code: str, detail: str) -> EmulatorResponse:
    document = {
        "error": {"code": code, "detail": detail},
        "debug_id": str(uuid.uuid4()),
    }
    return json_response(status, document)


class _RequestTooLarge(Exception):
    pass


async def _read_request(
    connection: h11.Connection, stream: SocketStream
) -> EmulatorRequest | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            try:
                connection.receive_data(await stream.receive(_RECEIVE_SIZE))
            except anyio.EndOfStream:
                connection.receive_data(b"")
            continue

        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > _MAX_BODY_BYTES:
                raise _RequestTooLarge
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return _parse(head, bytes(body))
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _parse(head: h11.Request, body: bytes) -> EmulatorRequest:
    target = urlsplit(head.target.decode("ascii", errors="replace"))
    query: dict[str, str] = {}
    for name, value in parse_qsl(target.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value

    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in head.headers
    }
    return EmulatorRequest(
        head.method.decode("ascii").upper(), unquote(target.path), query, headers, body
    )


async def _send(
    connection: h11.Connection, stream: SocketStream, response: EmulatorResponse
) -> None:
    headers = [*response.headers, ("content-length", str(len(response.body)))]
    if response.status == 429 or response.status >= 500:
        headers.append(("connection", "close"))

    try:
        reason = HTTPStatus(response.status).phrase.encode()
    except ValueError:
        reason = b""

    events = (
        h11.Response(status_code=response.status, headers=headers, reason=reason),
        h11.Data(data=response.body),
        h11.EndOfMessage(),
    )
    await stream.send(b"".join(connection.send(event) or b"" for event in events))


def _reset_on_close(stream: SocketStream) -> None:
    # A zero linger time makes the coming close send RST instead of FIN.
    raw = stream.extra(SocketAttribute.raw_socket)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _hang(stream: SocketStream) -> None:
    with anyio.move_on_after(_HANG_SECONDS):
        try:
            while True:
                await stream.receive(_RECEIVE_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return
