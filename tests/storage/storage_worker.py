"""Run storage operations in a separate process for the multi-process tests.

The test starts several workers, waits until each has created its ready
file, then creates the go file so all workers start their loops at the same
moment. Each worker prints a JSON summary on stdout.

Usage::

    python storage_worker.py --backend asyncio --kind jsonfile --path STATE \\
        --ready READY --go GO set PREFIX COUNT
    python storage_worker.py ... deploy NAME
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from aioflows.storage import JSONFileStorage, SQLiteStorage

NAMESPACE = "shared"

# Maximum seconds a worker waits for the go file or the stop file.
WAIT_LIMIT = 60.0

# Seconds that the "deploy" action takes to create a flow, like a slow request.
# Without the deploy lock, every worker would read no flow id in that time.
CREATE_SECONDS = 0.3


def main() -> None:
    arguments = parse_arguments()
    summary = anyio.run(run, arguments, backend=arguments.backend)
    print(json.dumps(summary))


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["asyncio", "trio"], required=True)
    parser.add_argument("--kind", choices=["jsonfile", "sqlite"], required=True)
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--go", type=Path, required=True)

    actions = parser.add_subparsers(dest="action", required=True)
    for name in ("set", "delete"):
        action = actions.add_parser(name)
        action.add_argument("prefix")
        action.add_argument("count", type=int)

    large = actions.add_parser("write-large")
    large.add_argument("count", type=int)
    large.add_argument("size", type=int)

    reader = actions.add_parser("read-raw")
    reader.add_argument("stop", type=Path)

    deploy = actions.add_parser("deploy")
    deploy.add_argument("name")
    return parser.parse_args()


async def run(arguments: argparse.Namespace) -> dict[str, Any]:
    storage: JSONFileStorage | SQLiteStorage
    if arguments.kind == "jsonfile":
        storage = JSONFileStorage(arguments.path)
    else:
        storage = SQLiteStorage(arguments.path)

    await anyio.Path(arguments.ready).touch()
    await wait_for_file(arguments.go)

    if arguments.action == "set":
        for index in range(arguments.count):
            key = f"{arguments.prefix}-{index}"
            await storage.set(
                NAMESPACE, key, {"writer": arguments.prefix, "index": index}
            )
        return {"written": arguments.count}

    if arguments.action == "delete":
        for index in range(arguments.count):
            await storage.delete(NAMESPACE, f"{arguments.prefix}-{index}")
        return {"deleted": arguments.count}

    if arguments.action == "write-large":
        for version in range(arguments.count):
            value = {"version": version, "padding": "x" * arguments.size}
            await storage.set(NAMESPACE, "blob", value)
        return {"written": arguments.count}

    if arguments.action == "deploy":
        return await deploy_once(storage, arguments.name)

    return await anyio.to_thread.run_sync(read_raw, arguments.path, arguments.stop)


async def deploy_once(
    storage: JSONFileStorage | SQLiteStorage, name: str
) -> dict[str, Any]:
    """Create the namespace's flow unless one is stored, as a manager deploys.

    The worker stores its own name as the flow id, so the summary shows
    which worker created the flow.
    """
    async with storage.deploy_lock(NAMESPACE):
        flow_id = await storage.get(NAMESPACE, "flow_id")
        created = flow_id is None
        if created:
            await anyio.sleep(CREATE_SECONDS)
            flow_id = name
            await storage.set(NAMESPACE, "flow_id", flow_id)
    return {"created": created, "flow_id": flow_id}


def read_raw(path: Path, stop: Path) -> dict[str, Any]:
    """Parse the state file in a loop until ``stop`` exists.

    Reads the bytes directly, not through the storage, so that a partial or
    missing file counts as invalid even where the storage would raise.
    """
    reads = 0
    invalid: list[str] = []
    versions: set[int] = set()

    deadline = time.monotonic() + WAIT_LIMIT
    while not stop.exists() and time.monotonic() < deadline:
        reads += 1
        try:
            state = json.loads(path.read_bytes())
            versions.add(state[NAMESPACE]["blob"]["version"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            invalid.append(f"{type(error).__name__}: {error}")

    return {
        "reads": reads,
        "invalid_count": len(invalid),
        "invalid_examples": invalid[:5],
        "versions": len(versions),
    }


async def wait_for_file(path: Path) -> None:
    with anyio.fail_after(WAIT_LIMIT):
        # Another process creates the file, so no anyio.Event can signal it.
        while not await anyio.Path(path).exists():  # noqa: ASYNC110
            await anyio.sleep(0.005)


if __name__ == "__main__":
    main()
