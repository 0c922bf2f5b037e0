"""Guarantees of the file backends when several real processes share one file.

Each worker is a fresh Python process running storage_worker.py on the same
anyio backend as the test. Workers start their loops together when the test
creates the go file, so their writes overlap.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import aioflows.storage
from aioflows.storage import JSONFileStorage, SQLiteStorage, Storage

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("storage_worker.py")
NAMESPACE = "shared"
KEYS_PER_WRITER = 50

# Maximum seconds for a whole multi-process test, startup included.
TEST_LIMIT = 120


@pytest.fixture(params=["jsonfile", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_storage(kind: str, path: Path) -> Storage:
    if kind == "jsonfile":
        return JSONFileStorage(path)
    return SQLiteStorage(path)


def state_path(kind: str, tmp_path: Path) -> Path:
    return tmp_path / ("state.json" if kind == "jsonfile" else "state.db")


class Workers:
    """Worker processes that start together and return their JSON summaries."""

    def __init__(self, tmp_path: Path, backend: str, kind: str, path: Path) -> None:
        self.tmp_path = tmp_path
        self.backend = backend
        self.kind = kind
        self.path = path
        self.go = tmp_path / "go"
        self.ready: list[Path] = []
        self.summaries: dict[str, dict[str, Any]] = {}

    def command(self, name: str, *action: str) -> list[str]:
        ready = self.tmp_path / f"ready-{name}"
        self.ready.append(ready)
        return [
            sys.executable,
            str(WORKER),
            "--backend",
            self.backend,
            "--kind",
            self.kind,
            "--path",
            str(self.path),
            "--ready",
            str(ready),
            "--go",
            str(self.go),
            *action,
        ]

    async def run(self, name: str, command: list[str]) -> None:
        result = await anyio.run_process(command, env=worker_environment(), check=False)
        assert result.returncode == 0, result.stderr.decode()
        self.summaries[name] = json.loads(result.stdout)

    async def start_all_when_ready(self, count: int) -> None:
        # The workers create the files, so no anyio.Event can signal them.
        while sum([await anyio.Path(path).exists() for path in self.ready]) < count:  # noqa: ASYNC110
            await anyio.sleep(0.01)
        await anyio.Path(self.go).touch()


def worker_environment() -> dict[str, str]:
    # The workers import aioflows from this checkout, installed or not.
    root = Path(aioflows.storage.__file__).resolve().parents[2]
    environment = dict(os.environ)
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), existing]))
    return environment


async def test_writers_lose_no_update(
    tmp_path: Path, anyio_backend: str, kind: str
) -> None:
    path = state_path(kind, tmp_path)
    workers = Workers(tmp_path, anyio_backend, kind, path)
    commands = {
        name: workers.command(name, "set", name, str(KEYS_PER_WRITER))
        for name in ("first", "second")
    }

    with anyio.fail_after(TEST_LIMIT):
        async with anyio.create_task_group() as group:
            for name, command in commands.items():
                group.start_soon(workers.run, name, command)
            await workers.start_all_when_ready(len(commands))

    stored = await open_storage(kind, path).items(NAMESPACE)
    expected = {
        f"{name}-{index}": {"writer": name, "index": index}
        for name in commands
        for index in range(KEYS_PER_WRITER)
    }
    assert stored == expected


async def test_delete_survives_concurrent_writer(
    tmp_path: Path, anyio_backend: str, kind: str
) -> None:
    path = state_path(kind, tmp_path)
    storage = open_storage(kind, path)
    doomed = {f"doomed-{index}": index for index in range(KEYS_PER_WRITER)}
    await storage.set_many(NAMESPACE, doomed)

    workers = Workers(tmp_path, anyio_backend, kind, path)
    deleter = workers.command("deleter", "delete", "doomed", str(KEYS_PER_WRITER))
    writer = workers.command("writer", "set", "added", str(KEYS_PER_WRITER))
    with anyio.fail_after(TEST_LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(workers.run, "deleter", deleter)
            group.start_soon(workers.run, "writer", writer)
            await workers.start_all_when_ready(2)

    stored = await storage.items(NAMESPACE)
    resurrected = sorted(key for key in stored if key.startswith("doomed-"))
    added = sorted(key for key in stored if key.startswith("added-"))
    assert resurrected == []
    assert added == sorted(f"added-{index}" for index in range(KEYS_PER_WRITER))


async def test_reader_never_sees_partial_file(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "state.json"
    await JSONFileStorage(path).set(NAMESPACE, "blob", {"version": -1, "padding": ""})
    stop = tmp_path / "stop"

    workers = Workers(tmp_path, anyio_backend, "jsonfile", path)
    reader = workers.command("reader", "read-raw", str(stop))
    # 256 KiB values take several write calls, so a non-atomic write would show.
    writer = workers.command("writer", "write-large", "100", str(256 * 1024))
    with anyio.fail_after(TEST_LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(workers.run, "reader", reader)
            async with anyio.create_task_group() as writers:
                writers.start_soon(workers.run, "writer", writer)
                await workers.start_all_when_ready(2)
            stop.touch()

    summary = workers.summaries["reader"]
    assert summary["invalid_count"] == 0, summary["invalid_examples"]
    # Seeing two versions proves that the reader ran while the writer wrote.
    assert summary["versions"] >= 2, summary


async def test_deploy_lock_one_creator(
    tmp_path: Path, anyio_backend: str, kind: str
) -> None:
    path = state_path(kind, tmp_path)
    workers = Workers(tmp_path, anyio_backend, kind, path)
    names = ["first", "second", "third"]
    commands = {name: workers.command(name, "deploy", name) for name in names}

    with anyio.fail_after(TEST_LIMIT):
        async with anyio.create_task_group() as group:
            for name, command in commands.items():
                group.start_soon(workers.run, name, command)
            await workers.start_all_when_ready(len(commands))

    creators = [name for name in names if workers.summaries[name]["created"]]
    assert len(creators) == 1, workers.summaries
    seen_ids = {workers.summaries[name]["flow_id"] for name in names}
    assert seen_ids == set(creators)
    assert await open_storage(kind, path).get(NAMESPACE, "flow_id") == creators[0]
