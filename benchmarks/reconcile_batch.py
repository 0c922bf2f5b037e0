"""Measure batch reconciliation against the in-process emulator.

Two measurements, each side by side in one run:

* ``batch``: ``reconcile()`` of ``--flows`` new flows at several
  concurrencies, with the emulator adding ``--latency`` seconds to every
  request, once with MemoryStorage and once with JSONFileStorage. Each row
  shows the wall time against the latency bound
  (``ceil(flows / concurrency) * latency``, one create per flow) and the
  client CPU per flow. A second, no-change sync of the same flows follows;
  it sends no request, so it shows the cost of reading state.
* ``emulator``: CPU per ``GET /flows/{id}`` through the in-process emulator
  against ``httpx.MockTransport`` returning the same document, so the
  emulator's share of a benchmark's CPU can be read as a ratio.

Run from the repository root::

    python benchmarks/reconcile_batch.py --backend both

Every point is bounded by ``--point-limit`` seconds; no socket is opened.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

# Run as a script from a checkout, the package is not necessarily installed.
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))

from aioflows import (  # noqa: E402
    FlowsManager,
    JSONFileStorage,
    MemoryStorage,
    Session,
    StaticTokenProvider,
    Storage,
    reconcile,
)
from aioflows.emulator import Emulator, Latency  # noqa: E402

CONCURRENCIES = (1, 8, 32, 64)


def definition(index: int) -> dict[str, Any]:
    return {
        "Comment": f"benchmark flow {index}",
        "StartAt": "Pass",
        "States": {"Pass": {"Type": "Pass", "End": True}},
    }


async def measure_batch(
    flows: int, concurrency: int, latency: float, storage: Storage
) -> tuple[float, float, float, float]:
    """Return (wall s, CPU ms per flow) of a first sync and of a no-change sync."""
    emulator = Emulator(seed=1, latency=Latency(seconds=latency))
    tokens = StaticTokenProvider(default=emulator.static_token)
    async with Session(
        tokens=tokens, storage=storage, transport=emulator.transport(), retries=0
    ) as session:
        managers = [
            FlowsManager(
                flow_definition=definition(index),
                flow_title=f"flow-{index}",
                session=session,
            )
            for index in range(flows)
        ]
        first = await timed(lambda: reconcile(managers, concurrency=concurrency))
        again = await timed(lambda: reconcile(managers, concurrency=concurrency))
    return first[0], first[1] * 1000 / flows, again[0], again[1] * 1000 / flows


async def timed(work: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    report = await work()
    if not report.ok:
        raise RuntimeError(f"the batch failed: {report.failed[0].message}")
    return time.perf_counter() - wall, time.process_time() - cpu


async def measure_emulator(requests: int) -> tuple[float, float]:
    """Return CPU ms per GET through the emulator and through a MockTransport."""
    emulator = Emulator(seed=1)
    headers = {"Authorization": f"Bearer {emulator.static_token}"}
    base = "https://flows.automate.globus.org"
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=base, headers=headers
    ) as client:
        created = await client.post(
            "/flows", json={"title": "bench", "definition": definition(0)}
        )
        document = created.json()
        emulated = await cpu_per_get(client, f"/flows/{document['id']}", requests)

    mock = httpx.MockTransport(lambda request: httpx.Response(200, json=document))
    async with httpx.AsyncClient(transport=mock, base_url=base) as client:
        mocked = await cpu_per_get(client, f"/flows/{document['id']}", requests)
    return emulated, mocked


async def cpu_per_get(client: httpx.AsyncClient, path: str, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        response = await client.get(path)
        response.raise_for_status()
    return (time.process_time() - started) * 1000 / requests


async def run(backend: str, options: argparse.Namespace) -> None:
    for concurrency in CONCURRENCIES:
        for storage_name in ("memory", "json-file"):
            with tempfile.TemporaryDirectory() as directory:
                storage: Storage = (
                    MemoryStorage()
                    if storage_name == "memory"
                    else JSONFileStorage(Path(directory) / "state.json")
                )
                with anyio.fail_after(options.point_limit):
                    first_wall, first_cpu, again_wall, again_cpu = await measure_batch(
                        options.flows, concurrency, options.latency, storage
                    )
            bound = math.ceil(options.flows / concurrency) * options.latency
            print(
                f"{backend:<8} {storage_name:<10} {concurrency:>4} "
                f"{first_wall:>8.2f} {bound:>8.2f} {first_wall / bound:>7.2f} "
                f"{first_cpu:>9.3f} {again_wall:>9.3f} {again_cpu:>9.3f}"
            )

    with anyio.fail_after(options.point_limit):
        emulated, mocked = await measure_emulator(options.requests)
    print(
        f"{backend:<8} emulator GET: {emulated:.3f} CPU ms, "
        f"MockTransport GET: {mocked:.3f} CPU ms, ratio {emulated / mocked:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", choices=("asyncio", "trio", "both"), default="both"
    )
    parser.add_argument("--flows", type=int, default=200, help="flows per batch")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds added to each request"
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="GETs for the emulator measurement"
    )
    parser.add_argument(
        "--point-limit", type=float, default=120.0, help="seconds allowed per point"
    )
    options = parser.parse_args()

    print(
        "backend  storage    conc   wall s  bound s  ratio  cpu ms/flow"
        "  again s  again ms/flow"
    )
    backends = ("asyncio", "trio") if options.backend == "both" else (options.backend,)
    for backend in backends:
        anyio.run(run, backend, options, backend=backend)


if __name__ == "__main__":
    main()
