"""Measure client CPU per request and wall time as HTTP concurrency grows.

The script starts ``loopback_server.py`` (beside this file) in a separate
process on 127.0.0.1, which delays every response by ``--latency`` seconds.
For each concurrency it sends one warm-up round and then ``--requests``
requests from that many worker tasks through each transport under test:

* ``httpx-default``: ``httpx.AsyncHTTPTransport`` with httpx's default
  limits (100 connections, 20 kept alive).
* ``httpx-keepalive``: the same pool with all 100 connections kept alive.
* ``aioflows``: ``aioflows._transport.create_transport()`` with 100
  connections in shards of ``--shard-size``.
* ``httpx-aiohttp``: ``httpx_aiohttp.AiohttpTransport`` with httpx's default
  limits, on asyncio only and only when the package is importable.

It prints one row per event loop, transport and concurrency:

* ``cpu ms/req``: client CPU time per request, from ``time.process_time()``
  of this process, so the server is not counted.
* ``wall s`` and ``bound s``: the batch's wall time and its latency bound,
  ``ceil(requests / concurrency) * latency``.
* ``wall/bound``: wall time over that bound.
* ``wall/limit``: wall time over the bound that 100 connections allow, which
  differs from ``wall/bound`` above 100 concurrent requests.
* ``conns opened``: connections the server accepted during the batch.  Each point stops after ``--point-limit`` seconds and
the whole run after ``--time-limit`` seconds; the server process is stopped at
the end in every case.

Run from the repository root::

    python benchmarks/pool_scaling.py --backend both --latency 0.05 --requests 512
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import attrs
import httpcore
import httpx

# Run as a script from a checkout, the package is not necessarily installed.
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))

from aioflows._transport import (  # noqa: E402
    DEFAULT_CONNECTIONS_PER_SHARD,
    create_transport,
)

SERVER_SCRIPT = Path(__file__).resolve().parent / "loopback_server.py"
DEFAULT_CONCURRENCY = (16, 32, 64, 128, 256)

# Every transport under test gets the same connection limit, httpx's default.
MAX_CONNECTIONS = 100

TransportFactory = Callable[[], httpx.AsyncBaseTransport]


@attrs.frozen
class Point:
    """One measured batch."""

    transport: str
    concurrency: int
    requests: int
    cpu_seconds: float
    wall_seconds: float
    bound_seconds: float
    limit_bound_seconds: float
    connections_opened: int
    pool_trace: str = ""

    @property
    def cpu_ms_per_request(self) -> float:
        """Client CPU time per request, in milliseconds."""
        return 1000.0 * self.cpu_seconds / self.requests

    @property
    def wall_ratio(self) -> float:
        """Wall time divided by the latency bound."""
        return self.wall_seconds / self.bound_seconds

    @property
    def limit_ratio(self) -> float:
        """Wall time divided by the bound that the connection limit allows."""
        return self.wall_seconds / self.limit_bound_seconds


@attrs.define
class PoolTrace:
    """Totals over calls of httpcore's pool bookkeeping method."""

    calls: int = 0
    connections_scanned: int = 0
    requests_scanned: int = 0
    seconds: float = 0.0


@contextmanager
def trace_pool_bookkeeping(trace: PoolTrace) -> Iterator[None]:
    """Count and time every call of ``_assign_requests_to_connections``.

    It wraps a private httpcore 1.0 method, so it is a diagnostic for this
    benchmark only, and the timing adds its own small cost to the CPU column.
    """
    pool_class = httpcore.AsyncConnectionPool
    original = pool_class._assign_requests_to_connections

    def traced(self: httpcore.AsyncConnectionPool) -> list[object]:
        trace.calls += 1
        trace.connections_scanned += len(self._connections)
        trace.requests_scanned += len(self._requests)
        started = time.perf_counter()
        try:
            return list(original(self))
        finally:
            trace.seconds += time.perf_counter() - started

    pool_class._assign_requests_to_connections = traced  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        pool_class._assign_requests_to_connections = original  # type: ignore[method-assign]


def describe_trace(trace: PoolTrace, requests: int) -> str:
    """Summarise a pool trace per request of the batch."""
    if trace.calls == 0:
        return "no httpcore pool calls"
    return (
        f"{trace.calls / requests:.1f} calls/request, "
        f"{trace.connections_scanned / trace.calls:.1f} connections and "
        f"{trace.requests_scanned / trace.calls:.1f} requests per call, "
        f"{1e6 * trace.seconds / trace.calls:.0f} µs/call, "
        f"{1e3 * trace.seconds / requests:.2f} ms/request"
    )


def transport_factories(backend: str, shard_size: int) -> dict[str, TransportFactory]:
    """Return the transports to compare on ``backend``, by name."""
    default_limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=20
    )
    keepalive_limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    factories: dict[str, TransportFactory] = {
        "httpx-default": functools.partial(
            httpx.AsyncHTTPTransport, limits=default_limits
        ),
        "httpx-keepalive": functools.partial(
            httpx.AsyncHTTPTransport, limits=keepalive_limits
        ),
        "aioflows": functools.partial(
            create_transport,
            max_connections=MAX_CONNECTIONS,
            connections_per_shard=shard_size,
        ),
    }
    if backend == "asyncio":
        try:
            from httpx_aiohttp import AiohttpTransport
        except ImportError:
            pass
        else:
            factories["httpx-aiohttp"] = functools.partial(
                AiohttpTransport, limits=default_limits
            )
    return factories


async def run_batch(client: httpx.AsyncClient, total: int, concurrency: int) -> None:
    """Send ``total`` GET requests from ``concurrency`` worker tasks."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            response = await client.get("/work")
            response.raise_for_status()

    async with anyio.create_task_group() as group:
        for _ in range(min(concurrency, total)):
            group.start_soon(worker)


async def accepted_connections(stats_client: httpx.AsyncClient) -> int:
    """Return the number of connections the server has accepted so far."""
    response = await stats_client.get("/stats")
    response.raise_for_status()
    return int(json.loads(response.content)["connections"])


async def measure_point(
    name: str,
    factory: TransportFactory,
    *,
    base_url: str,
    stats_client: httpx.AsyncClient,
    concurrency: int,
    requests: int,
    latency: float,
    trace_pool: bool,
) -> Point:
    """Measure one transport at one concurrency."""
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(
        base_url=base_url, transport=factory(), timeout=timeout
    ) as client:
        # One round first, so every transport starts with open connections.
        await run_batch(client, concurrency, concurrency)
        opened_before = await accepted_connections(stats_client)

        trace = PoolTrace()
        with trace_pool_bookkeeping(trace) if trace_pool else _no_trace():
            cpu_started = time.process_time()
            wall_started = time.perf_counter()
            await run_batch(client, requests, concurrency)
            wall_seconds = time.perf_counter() - wall_started
            cpu_seconds = time.process_time() - cpu_started

        opened_after = await accepted_connections(stats_client)

    return Point(
        transport=name,
        concurrency=concurrency,
        requests=requests,
        cpu_seconds=cpu_seconds,
        wall_seconds=wall_seconds,
        bound_seconds=math.ceil(requests / concurrency) * latency,
        limit_bound_seconds=(
            math.ceil(requests / min(concurrency, MAX_CONNECTIONS)) * latency
        ),
        connections_opened=opened_after - opened_before,
        pool_trace=describe_trace(trace, requests) if trace_pool else "",
    )


@contextmanager
def _no_trace() -> Iterator[None]:
    yield


async def run_backend(
    backend: str, arguments: argparse.Namespace, base_url: str, deadline: float
) -> list[Point]:
    """Measure every transport at every concurrency on the running event loop."""
    points: list[Point] = []
    factories = transport_factories(backend, arguments.shard_size)
    if arguments.transports:
        selected = arguments.transports.split(",")
        factories = {name: factories[name] for name in selected if name in factories}
    stats_limits = httpx.Limits(max_connections=1, keepalive_expiry=None)

    async with httpx.AsyncClient(base_url=base_url, limits=stats_limits) as stats:
        for concurrency in arguments.concurrency:
            for name, factory in factories.items():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    print(
                        f"{backend}: the --time-limit of {arguments.time_limit:.0f} s "
                        "has passed; the remaining points are skipped",
                        file=sys.stderr,
                    )
                    return points

                limit = min(arguments.point_limit, remaining)
                point = None
                with anyio.move_on_after(limit):
                    point = await measure_point(
                        name,
                        factory,
                        base_url=base_url,
                        stats_client=stats,
                        concurrency=concurrency,
                        requests=arguments.requests,
                        latency=arguments.latency,
                        trace_pool=arguments.trace_pool,
                    )
                if point is None:
                    print(
                        f"{backend}: {name} at concurrency {concurrency} did not "
                        f"finish within {limit:.1f} s; skipped, raise --point-limit "
                        "or --time-limit to measure it",
                        file=sys.stderr,
                    )
                    continue
                points.append(point)
                print_row(backend, point)
    return points


def print_header() -> None:
    """Print the column names of the result table."""
    print(
        f"{'loop':<8} {'transport':<16} {'conc':>5} {'cpu ms/req':>10} "
        f"{'wall s':>7} {'bound s':>7} {'wall/bound':>10} {'wall/limit':>10} "
        f"{'conns opened':>12}"
    )


def print_row(backend: str, point: Point) -> None:
    """Print one measured point as a table row."""
    print(
        f"{backend:<8} {point.transport:<16} {point.concurrency:>5} "
        f"{point.cpu_ms_per_request:>10.3f} {point.wall_seconds:>7.2f} "
        f"{point.bound_seconds:>7.2f} {point.wall_ratio:>10.2f} "
        f"{point.limit_ratio:>10.2f} {point.connections_opened:>12}",
        flush=True,
    )
    if point.pool_trace:
        print(f"{'':<8} {'':<16} pool: {point.pool_trace}", flush=True)


@contextmanager
def loopback_server(latency: float, max_seconds: float) -> Iterator[int]:
    """Run the loopback server in a child process and yield its port."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(SERVER_SCRIPT),
            "--latency",
            str(latency),
            "--max-seconds",
            str(max_seconds),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(
                f"loopback server printed {line!r} instead of its port; "
                f"run {SERVER_SCRIPT} by hand to see its error"
            )
        yield int(line.split()[1])
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[str]) -> None:
    """Close the server's standard input, then kill it if it does not exit."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def parse_concurrency(text: str) -> tuple[int, ...]:
    """Parse a comma-separated list of positive concurrency levels."""
    levels = tuple(int(part) for part in text.split(","))
    if any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError(
            f"concurrency levels must be positive, got {text!r}"
        )
    return levels


def parse_arguments() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        choices=("asyncio", "trio", "both"),
        default="both",
        help="event loop to measure on (default: both)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.05,
        help="server delay per request, in seconds (default: 0.05)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=512,
        help="requests per measured batch (default: 512)",
    )
    parser.add_argument(
        "--concurrency",
        type=parse_concurrency,
        default=DEFAULT_CONCURRENCY,
        help="comma-separated concurrency levels (default: 16,32,64,128,256)",
    )
    parser.add_argument(
        "--shard-size",
        type=int,
        default=DEFAULT_CONNECTIONS_PER_SHARD,
        help=(
            "connections per shard of the aioflows transport "
            f"(default: {DEFAULT_CONNECTIONS_PER_SHARD})"
        ),
    )
    parser.add_argument(
        "--transports",
        default="",
        help="comma-separated transport names to run (default: all)",
    )
    parser.add_argument(
        "--point-limit",
        type=float,
        default=60.0,
        help="maximum seconds for one transport at one concurrency (default: 60)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=600.0,
        help="maximum seconds for the whole run (default: 600)",
    )
    parser.add_argument(
        "--trace-pool",
        action="store_true",
        help="count and time httpcore's pool bookkeeping calls (adds CPU time)",
    )
    return parser.parse_args()


def main() -> None:
    """Run the benchmark and print its table."""
    arguments = parse_arguments()
    backends = (
        ("asyncio", "trio") if arguments.backend == "both" else (arguments.backend,)
    )
    deadline = time.monotonic() + arguments.time_limit

    with loopback_server(arguments.latency, arguments.time_limit + 60.0) as port:
        base_url = f"http://127.0.0.1:{port}"
        print(
            f"latency {arguments.latency * 1000:.0f} ms, "
            f"{arguments.requests} requests per point, server on {base_url}"
        )
        print_header()
        for backend in backends:
            anyio.run(
                run_backend, backend, arguments, base_url, deadline, backend=backend
            )


if __name__ == "__main__":
    main()
