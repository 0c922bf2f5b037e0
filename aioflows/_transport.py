"""HTTP transport that spreads requests over many small connection pools.

``httpx.AsyncHTTPTransport`` sends requests through an httpcore connection
pool.  In httpcore 1.0.9, every request that enters or leaves that pool
rescans all of its connections, once more for each queued request.  One pass
can hand the same idle connection to several queued requests, and every
request but one then fails over and rescans, so the cost per request grows
with the number of concurrent requests in a pool.
With httpx's default limits (100 connections, 20 kept alive) the pool also
closes each connection beyond the 20th as soon as it goes idle, so more than
20 concurrent requests reconnect on nearly every request.

:class:`ShardedTransport` bounds both costs by pool size instead of by
concurrency.  Each shard is a small pool that keeps every connection it opens
alive, and a request takes a free slot from a fixed table before it enters a
shard, so no shard ever carries more requests than it has connections.
``docs/benchmarks.md`` has the measurements behind the default sizes.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import ssl
from collections.abc import AsyncIterator, Callable, Iterable

import anyio
import attrs
import httpx

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 100

# With 1, 2 and 4 connections per shard, CPU per request stayed flat from 16 to
# 256 concurrent requests, and with 10 and 25 it did not (benchmarks/
# pool_scaling.py on 2 shared cores).  Four lets one shard keep connections to
# up to four services, so requests that alternate between services do not
# reconnect.
DEFAULT_CONNECTIONS_PER_SHARD = 4
DEFAULT_KEEPALIVE_EXPIRY = 5.0


@attrs.frozen
class Shard:
    """One inner transport and the number of requests it may carry at once.

    Attributes:
        transport: The transport that sends the requests given to this shard.
        max_connections: The maximum number of requests in flight on this
            shard.  Set it to the inner pool's connection limit so the pool
            never queues.
    """

    transport: httpx.AsyncBaseTransport
    max_connections: int = attrs.field(validator=attrs.validators.ge(1))


def create_transport(
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    connections_per_shard: int = DEFAULT_CONNECTIONS_PER_SHARD,
    keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY,
    verify: ssl.SSLContext | bool = True,
    retries: int = 0,
) -> ShardedTransport:
    """Create the transport that a session passes to ``httpx.AsyncClient``.

    The transport works on every anyio backend (asyncio and trio) and needs no
    running event loop to be created.

    Args:
        max_connections: The maximum number of open connections, and so of
            requests in flight, over all shards.  Requests beyond it wait for
            a free connection, up to the pool timeout of the request.
        connections_per_shard: The maximum number of connections in one
            shard.  The transport creates
            ``ceil(max_connections / connections_per_shard)`` shards and
            spreads ``max_connections`` over them as evenly as possible.
        keepalive_expiry: Seconds after which an idle connection is closed,
            or ``None`` to keep idle connections until the transport closes.
        verify: An SSL context, ``True`` to verify servers against the
            certifi bundle, or ``False`` to skip verification.  One context
            is shared by all shards.
        retries: The number of extra attempts to open a connection after a
            connect error or timeout.

    Returns:
        A transport whose ``aclose()`` closes every shard.

    Note:
        All origins share the shards.  A request to a fifth origin on a shard
        whose connections all go to four other origins closes one of them to
        open its own, so a session that talks to many services at once
        should raise ``connections_per_shard``.

    Raises:
        ValueError: If ``max_connections`` or ``connections_per_shard`` is less
            than 1, or ``retries`` is negative.
    """
    _check_limits(max_connections, connections_per_shard, retries)

    ssl_context = httpx.create_ssl_context(verify=verify)
    shard_count = math.ceil(max_connections / connections_per_shard)
    base_size, larger_count = divmod(max_connections, shard_count)

    shards = []
    for index in range(shard_count):
        size = base_size + 1 if index < larger_count else base_size
        # Keep-alive equals the connection limit, so the pool never closes a
        # connection only because it went idle during a burst.
        limits = httpx.Limits(
            max_connections=size,
            max_keepalive_connections=size,
            keepalive_expiry=keepalive_expiry,
        )
        inner = httpx.AsyncHTTPTransport(
            verify=ssl_context, limits=limits, retries=retries
        )
        shards.append(Shard(transport=inner, max_connections=size))

    logger.debug(
        "created transport with %d shards for %d connections",
        shard_count,
        max_connections,
    )
    return ShardedTransport(shards)


def _check_limits(
    max_connections: int, connections_per_shard: int, retries: int
) -> None:
    """Raise ValueError for a limit that cannot build a transport."""
    if max_connections < 1:
        raise ValueError(
            f"max_connections must be at least 1, got {max_connections}; "
            "pass a positive number of connections"
        )
    if connections_per_shard < 1:
        raise ValueError(
            f"connections_per_shard must be at least 1, got "
            f"{connections_per_shard}; pass a positive number of connections"
        )
    if retries < 0:
        raise ValueError(
            f"retries must be 0 or more, got {retries}; pass 0 to disable "
            "connect retries"
        )


def _shard_tuple(shards: Iterable[Shard]) -> tuple[Shard, ...]:
    return tuple(shards)


@attrs.define(eq=False)
class ShardedTransport(httpx.AsyncBaseTransport):
    """Transport that sends each request through one of several inner transports.

    Every shard owns ``max_connections`` slots.  A request takes a free slot,
    is sent through that slot's shard, and gives the slot back when its
    response is closed or its sending fails.  A request that finds no free slot
    waits, up to the pool timeout in ``request.extensions["timeout"]``, the
    value ``httpx.AsyncClient`` sets from its ``timeout=`` argument.  Taking and
    returning a slot costs O(1) whatever the number of shards.

    The most recently returned slot is taken first, so sequential requests
    reuse one warm connection, while concurrent requests spread over all
    shards because the free slots start interleaved across them.

    Note:
        A response that is never closed keeps its slot, just as it keeps its
        connection in httpcore.  ``httpx.AsyncClient`` closes every response
        it reads, and ``client.stream()`` closes its response on exit.

    Args:
        shards: The inner transports and their request limits.  The transport
            owns them and closes them in ``aclose()``.

    Raises:
        ValueError: If ``shards`` is empty.
    """

    _shards: tuple[Shard, ...] = attrs.field(converter=_shard_tuple)
    _free_slots: collections.deque[int] = attrs.field(init=False)
    _free_count: anyio.Semaphore | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)

    @_shards.validator
    def _check_shards(self, attribute: object, shards: tuple[Shard, ...]) -> None:
        if not shards:
            raise ValueError(
                "shards is empty; pass at least one Shard, or build the "
                "transport with create_transport()"
            )

    @_free_slots.default
    def _interleave_slots(self) -> collections.deque[int]:
        deepest = max((shard.max_connections for shard in self._shards), default=0)
        return collections.deque(
            index
            for depth in range(deepest)
            for index, shard in enumerate(self._shards)
            if depth < shard.max_connections
        )

    @property
    def shards(self) -> tuple[Shard, ...]:
        """The shards, in the order given."""
        return self._shards

    @property
    def max_connections(self) -> int:
        """The maximum number of requests in flight over all shards."""
        return sum(shard.max_connections for shard in self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through a shard with a free slot.

        Args:
            request: The request to send.

        Returns:
            The shard's response, whose stream returns the slot when closed.

        Raises:
            RuntimeError: If the transport is closed.
            httpx.PoolTimeout: If no slot became free within the pool timeout.
        """
        if self._closed:
            raise RuntimeError(
                f"cannot send {request.method} {request.url}: the transport is "
                "closed; create a new one with create_transport()"
            )

        slot = await self._take_slot(request)
        try:
            response = await self._shards[slot].transport.handle_async_request(request)
        except BaseException:
            self._return_slot(slot)
            raise

        return self._return_slot_on_close(response, slot)

    async def aclose(self) -> None:
        """Close every shard, even when closing one of them fails."""
        self._closed = True
        async with contextlib.AsyncExitStack() as stack:
            for shard in self._shards:
                stack.push_async_callback(shard.transport.aclose)

    def _slot_count(self) -> anyio.Semaphore:
        # Created on the first request, inside the event loop that sends it,
        # so a session can build its transport before any loop runs.
        if self._free_count is None:
            self._free_count = anyio.Semaphore(len(self._free_slots))
        return self._free_count

    async def _take_slot(self, request: httpx.Request) -> int:
        timeouts = request.extensions.get("timeout", {})
        pool_timeout = timeouts.get("pool")
        try:
            with anyio.fail_after(pool_timeout):
                await self._slot_count().acquire()
        except TimeoutError as error:
            raise httpx.PoolTimeout(
                f"no connection became free within {pool_timeout} s for "
                f"{request.method} {request.url} ({self.max_connections} are "
                "in use); raise max_connections or the pool timeout",
                request=request,
            ) from error

        # No checkpoint lies between acquire() and popleft(), so the deque
        # contains at least one slot here.
        return self._free_slots.popleft()

    def _return_slot(self, slot: int) -> None:
        self._free_slots.appendleft(slot)
        self._slot_count().release()

    def _return_slot_on_close(
        self, response: httpx.Response, slot: int
    ) -> httpx.Response:
        if not isinstance(response.stream, httpx.AsyncByteStream):
            self._return_slot(slot)
            raise TypeError(
                f"shard {slot} returned a response with a synchronous stream "
                f"({type(response.stream).__name__}); shards must be async "
                "transports"
            )

        # A response built from bytes arrives already read and closed, and
        # httpx.Response.aclose() skips the stream of a closed response.
        if response.is_closed:
            self._return_slot(slot)
            return response

        # The shard's connection stays busy until its response stream closes,
        # so the slot is returned then and not when headers arrive.
        response.stream = _SlotStream(response.stream, slot, self._return_slot)
        return response


@attrs.define(eq=False)
class _SlotStream(httpx.AsyncByteStream):
    """Response stream that returns its slot once, when it is closed."""

    _inner: httpx.AsyncByteStream
    _slot: int
    _return_slot: Callable[[int], None]
    _returned: bool = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        if self._returned:
            return
        self._returned = True
        try:
            await self._inner.aclose()
        finally:
            self._return_slot(self._slot)
