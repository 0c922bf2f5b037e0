from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.abc
import h11
import httpx
import pytest

from aioflows._transport import Shard, ShardedTransport, create_transport

pytestmark = pytest.mark.anyio

# Every wait in these tests is bounded, so a broken transport fails the test
# instead of hanging the run.
WAIT_LIMIT = 10.0


class GatedHandler:
    """MockTransport handler that keeps requests waiting until ``expected`` arrive."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate = anyio.Event()

    def for_shard(self, counts: list[int], index: int) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            counts[index] += 1
            self.arrived += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.arrived >= self.expected:
                self.gate.set()
            await self.gate.wait()
            self.in_flight -= 1
            return httpx.Response(200, content=b"ok")

        return httpx.MockTransport(handle)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Transport that returns 200 and records whether it was closed."""

    def __init__(self, close_error: Exception | None = None) -> None:
        self.closed = False
        self.close_error = close_error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ok")

    async def aclose(self) -> None:
        self.closed = True
        if self.close_error is not None:
            raise self.close_error


class SyncOnlyStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b"ok"


MOCK_URL = "http://127.0.0.1"


def ok_transport() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=b"ok"))


async def send_all(client: httpx.AsyncClient, count: int) -> list[int]:
    statuses: list[int] = []

    async def send_one() -> None:
        response = await client.get("/item")
        statuses.append(response.status_code)

    with anyio.fail_after(WAIT_LIMIT):
        async with anyio.create_task_group() as group:
            for _ in range(count):
                group.start_soon(send_one)
    return statuses


class LoopbackServer:
    """HTTP/1.1 server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        self.accepted += 1
        connection = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    try:
                        connection.receive_data(await stream.receive())
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        connection.receive_data(b"")
                    continue
                if not isinstance(event, h11.EndOfMessage):
                    if isinstance(event, h11.ConnectionClosed):
                        return
                    continue

                # A short pause keeps every request in flight at once.
                await anyio.sleep(0.01)
                headers = [(b"content-length", b"2")]
                await stream.send(
                    connection.send(h11.Response(status_code=200, headers=headers))
                )
                await stream.send(connection.send(h11.Data(data=b"ok")))
                await stream.send(connection.send(h11.EndOfMessage()))
                connection.start_next_cycle()


@pytest.fixture
async def loopback_server() -> AsyncIterator[LoopbackServer]:
    server = LoopbackServer()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    server.port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, server.handle)
        yield server
        group.cancel_scope.cancel()


def test_create_transport_default_shards() -> None:
    transport = create_transport()

    assert len(transport.shards) == 25
    assert [shard.max_connections for shard in transport.shards] == [4] * 25


def test_create_transport_uneven_split() -> None:
    transport = create_transport(max_connections=100, connections_per_shard=16)

    sizes = [shard.max_connections for shard in transport.shards]
    assert sizes == [15, 15, 14, 14, 14, 14, 14]
    assert transport.max_connections == 100


def test_create_transport_single_small_shard() -> None:
    transport = create_transport(max_connections=3, connections_per_shard=10)

    assert [shard.max_connections for shard in transport.shards] == [3]


@pytest.mark.parametrize(
    ("max_connections", "connections_per_shard", "retries", "name"),
    [
        (0, 4, 0, "max_connections"),
        (100, 0, 0, "connections_per_shard"),
        (100, 4, -1, "retries"),
    ],
)
def test_create_transport_invalid_limit(
    max_connections: int, connections_per_shard: int, retries: int, name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        create_transport(
            max_connections=max_connections,
            connections_per_shard=connections_per_shard,
            retries=retries,
        )


def test_sharded_transport_rejects_no_shards() -> None:
    with pytest.raises(ValueError, match="shards"):
        ShardedTransport([])


def test_transport_built_before_loop(anyio_backend: str) -> None:
    transport = ShardedTransport([Shard(ok_transport(), 2)])

    async def send_twice() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url=MOCK_URL) as client:
            return await send_all(client, 2)

    statuses = anyio.run(send_twice, backend=anyio_backend)

    assert statuses == [200, 200]


async def test_concurrent_requests_spread_over_shards() -> None:
    counts = [0, 0, 0, 0]
    handler = GatedHandler(expected=8)
    shards = [Shard(handler.for_shard(counts, index), 2) for index in range(4)]

    async with httpx.AsyncClient(
        transport=ShardedTransport(shards), base_url=MOCK_URL
    ) as client:
        statuses = await send_all(client, 8)

    assert statuses == [200] * 8
    assert counts == [2, 2, 2, 2]


async def test_requests_beyond_limit_wait() -> None:
    counts = [0, 0]
    handler = GatedHandler(expected=2)
    shards = [Shard(handler.for_shard(counts, index), 1) for index in range(2)]

    async with httpx.AsyncClient(
        transport=ShardedTransport(shards), base_url=MOCK_URL
    ) as client:
        statuses = await send_all(client, 6)

    assert statuses == [200] * 6
    assert handler.max_in_flight == 2
    assert sum(counts) == 6


async def test_sequential_requests_reuse_one_shard() -> None:
    counts = [0, 0, 0]
    handler = GatedHandler(expected=1)
    shards = [Shard(handler.for_shard(counts, index), 2) for index in range(3)]

    async with httpx.AsyncClient(
        transport=ShardedTransport(shards), base_url=MOCK_URL
    ) as client:
        for _ in range(4):
            await send_all(client, 1)

    assert counts == [4, 0, 0]


async def test_pool_timeout_when_slots_busy() -> None:
    release = anyio.Event()

    async def hold(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200)

    transport = ShardedTransport([Shard(httpx.MockTransport(hold), 1)])
    timeout = httpx.Timeout(5.0, pool=0.05)
    async with (
        httpx.AsyncClient(transport=transport, timeout=timeout) as client,
        anyio.create_task_group() as group,
    ):
        group.start_soon(client.get, "http://127.0.0.1/held")
        await anyio.sleep(0.01)

        with pytest.raises(httpx.PoolTimeout, match="no connection became free"):
            await client.get("http://127.0.0.1/waiting")
        release.set()


async def test_slot_returned_after_shard_error() -> None:
    attempts = 0

    def fail_first(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    transport = ShardedTransport([Shard(httpx.MockTransport(fail_first), 1)])
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1/first")
        with anyio.fail_after(WAIT_LIMIT):
            response = await client.get("http://127.0.0.1/second")

    assert response.status_code == 200


async def test_slot_returned_on_unread_close() -> None:
    transport = ShardedTransport([Shard(ok_transport(), 1)])
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", "http://127.0.0.1/unread"):
            pass
        with anyio.fail_after(WAIT_LIMIT):
            response = await client.get("http://127.0.0.1/next")

    assert response.status_code == 200


async def test_sync_stream_rejected() -> None:
    attempts = 0

    def sync_first(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            return httpx.Response(200, stream=SyncOnlyStream())
        return httpx.Response(200)

    transport = ShardedTransport([Shard(httpx.MockTransport(sync_first), 1)])
    request = httpx.Request("GET", "http://127.0.0.1/sync")

    with pytest.raises(TypeError, match="synchronous stream"):
        await transport.handle_async_request(request)
    with anyio.fail_after(WAIT_LIMIT):
        response = await transport.handle_async_request(request)
    assert response.status_code == 200


async def test_aclose_closes_every_shard() -> None:
    inner = [RecordingTransport() for _ in range(3)]
    transport = ShardedTransport([Shard(shard, 1) for shard in inner])

    await transport.aclose()

    assert [shard.closed for shard in inner] == [True, True, True]


async def test_aclose_continues_after_failure() -> None:
    failing = RecordingTransport(close_error=OSError("socket already gone"))
    others = [RecordingTransport(), RecordingTransport()]
    # The failing shard sits between the others, so one of them closes after
    # it whatever the closing order.
    inner = [others[0], failing, others[1]]
    transport = ShardedTransport([Shard(shard, 1) for shard in inner])

    with pytest.raises(OSError, match="socket already gone"):
        await transport.aclose()

    assert [shard.closed for shard in others] == [True, True]


async def test_closed_transport_rejects_request() -> None:
    transport = ShardedTransport([Shard(RecordingTransport(), 1)])
    await transport.aclose()
    request = httpx.Request("GET", "http://127.0.0.1/late")

    with pytest.raises(RuntimeError, match="transport is closed"):
        await transport.handle_async_request(request)


async def test_loopback_requests_all_complete(
    loopback_server: LoopbackServer,
) -> None:
    transport = create_transport(max_connections=4, connections_per_shard=2)
    base_url = f"http://127.0.0.1:{loopback_server.port}"

    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        statuses = await send_all(client, 40)

    assert statuses == [200] * 40


async def test_loopback_connections_capped(
    loopback_server: LoopbackServer,
) -> None:
    transport = create_transport(max_connections=4, connections_per_shard=2)
    base_url = f"http://127.0.0.1:{loopback_server.port}"

    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        await send_all(client, 40)
        await send_all(client, 40)

    assert loopback_server.accepted <= 4
