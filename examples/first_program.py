"""Deploy a flow, run it and wait for the result, offline on the emulator.

Run it with ``python examples/first_program.py`` (add ``trio`` as an
argument to use trio instead of asyncio). Against the real Globus services,
drop the emulator and pass your own tokens and storage to the Session, as
the README shows.
"""

from __future__ import annotations

import sys

import anyio

from aioflows import FlowsManager, MemoryStorage, Session, StaticTokenProvider
from aioflows.emulator import Emulator

DEFINITION = {
    "StartAt": "Hello",
    "States": {
        "Hello": {
            "Type": "Pass",
            "Parameters": {"greeting.$": "$.name"},
            "ResultPath": "$.hello",
            "End": True,
        }
    },
}


async def main() -> None:
    emulator = Emulator()
    tokens = StaticTokenProvider(default=emulator.static_token)
    async with Session(
        tokens=tokens, storage=MemoryStorage(), transport=emulator.transport()
    ) as session:
        manager = FlowsManager(
            flow_definition=DEFINITION, flow_title="Hello flow", session=session
        )
        flow_id = await manager.sync_flow()
        run = await manager.run_flow({"name": "world"}, label="first run")
        final = await manager.progress(run["run_id"], delay=0.5)
        greeting = await manager.get_details(run["run_id"], "Hello")
        print(f"flow {flow_id}: run {final['status']}, output {greeting}")


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    try:
        anyio.run(main, backend=backend)
    except LookupError as error:
        sys.exit(f'{error}\nFor trio, install aioflows with: pip install ".[trio]"')
