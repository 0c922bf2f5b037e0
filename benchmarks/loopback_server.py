"""Serve HTTP/1.1 on 127.0.0.1 with a fixed delay before every response.

The pool-scaling benchmark starts this module as a separate process, so the
server's CPU time never counts as client CPU time.  It needs only anyio and h11,
which httpx already installs.

Protocol with the parent process:

* The server prints ``PORT <number>`` on one line of standard output once it
  listens, then serves until standard input reaches end of file, it receives
  SIGTERM, or ``--max-seconds`` pass.
* ``GET /stats`` returns ``{"connections": N, "requests": M}`` at once: the
  connections accepted and the delayed requests served since start.  Every
  other request waits ``--latency`` seconds and returns a 2-byte body.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import anyio
import anyio.abc
import h11

logger = logging.getLogger(__name__)

READ_SIZE = 65536


class Counters:
    """Connections accepted and delayed requests served."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0


def build_response(
    target: bytes, counters: Counters, keep_alive: bool
) -> tuple[h11.Response, bytes]:
    """Build the response head and body for one request target."""
    if target == b"/stats":
        body = json.dumps(
            {"connections": counters.connections, "requests": counters.requests}
        ).encode()
    else:
        body = b"ok"

    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if not keep_alive:
        headers.append((b"connection", b"close"))

    return h11.Response(status_code=200, headers=headers), body


async def serve_connection(
    stream: anyio.abc.SocketStream, latency: float, counters: Counters
) -> None:
    """Serve keep-alive requests on one connection until the client closes it."""
    counters.connections += 1
    connection = h11.Connection(h11.SERVER)
    target = b""

    async with stream:
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError as error:
                logger.warning("closing connection after a protocol error: %s", error)
                return

            if event is h11.NEED_DATA:
                try:
                    data = await stream.receive(READ_SIZE)
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    data = b""
                connection.receive_data(data)
                continue

            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return

            if isinstance(event, h11.Request):
                target = event.target

            if not isinstance(event, h11.EndOfMessage):
                continue

            # The body of a GET is empty, so end-of-message follows the request
            # head at once and the delay starts when the whole request is read.
            if target != b"/stats":
                await anyio.sleep(latency)
                counters.requests += 1

            keep_alive = connection.their_state is h11.DONE
            head, body = build_response(target, counters, keep_alive)
            try:
                await stream.send(connection.send(head) or b"")
                await stream.send(connection.send(h11.Data(data=body)) or b"")
                await stream.send(connection.send(h11.EndOfMessage()) or b"")
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return

            if connection.our_state is h11.MUST_CLOSE:
                return
            connection.start_next_cycle()


async def wait_for_stdin_eof() -> None:
    """Return when the parent process closes our standard input."""
    await anyio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)


async def serve(latency: float, max_seconds: float) -> None:
    """Listen on a free port of 127.0.0.1 until stdin closes or time runs out."""
    counters = Counters()
    listener = await anyio.create_tcp_listener(
        local_host="127.0.0.1", local_port=0, backlog=1024
    )
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        await serve_connection(stream, latency, counters)

    with anyio.move_on_after(max_seconds):
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, handle)
            print(f"PORT {port}", flush=True)
            await wait_for_stdin_eof()
            group.cancel_scope.cancel()


def parse_arguments() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--latency",
        type=float,
        default=0.05,
        help="delay before each response, in seconds (default: 0.05)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=900.0,
        help="stop serving after this many seconds (default: 900)",
    )
    return parser.parse_args()


def main() -> None:
    """Run the server until its parent stops it."""
    arguments = parse_arguments()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    anyio.run(serve, arguments.latency, arguments.max_seconds)


if __name__ == "__main__":
    main()
