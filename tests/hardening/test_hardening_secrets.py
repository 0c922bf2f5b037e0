"""A known token must never reach logs, reprs, reports or files, on real sockets too."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.from_thread
import pytest
from click.testing import CliRunner
from hardening_support import NO_WAIT_RETRIES, pass_definition

from aioflows import (
    APIError,
    FlowsManager,
    JSONFileStorage,
    LoginRequired,
    Session,
    StaticTokenProvider,
    plan,
)
from aioflows.cli import cli
from aioflows.cli._runtime import TOKEN_VARIABLE
from aioflows.emulator import Emulator, FaultKind, RunningServer, RunTiming

pytestmark = pytest.mark.anyio

SECRET = "tok-hardening-secret-0123456789abcdef"
UNKNOWN_RUN = "0d0d0d0d-0000-4000-8000-000000000004"
SERVICES = ("FLOWS", "GROUPS", "AUTH")


def point_services_at(monkeypatch: pytest.MonkeyPatch, server: RunningServer) -> None:
    for service in SERVICES:
        monkeypatch.setenv(f"GLOBUS_SDK_SERVICE_URL_{service}", server.url + "/")


def leaks(texts: list[str]) -> list[str]:
    return [text for text in texts if SECRET in text]


async def test_library_keeps_token_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator = Emulator(static_token=SECRET, timing=RunTiming(action_seconds=0))
    texts: list[str] = []

    async with emulator.serve() as server:
        point_services_at(monkeypatch, server)
        tokens = StaticTokenProvider(default=SECRET)
        storage = JSONFileStorage(tmp_path / "state.json")
        async with Session(
            tokens=tokens, storage=storage, retries=NO_WAIT_RETRIES
        ) as session:
            manager = FlowsManager(
                flow_definition=pass_definition(), name="secret", session=session
            )
            run = await manager.run_flow({}, label="secret-check")
            emulator.faults.add(FaultKind.CONNECTION_RESET, route="/runs/{run_id}")
            final = await manager.progress(run["run_id"], delay=0)
            report = await plan([manager], remote=True)
            with pytest.raises(APIError) as missing:
                await manager.get_status(UNKNOWN_RUN)
            stranger = FlowsManager(
                name="stranger",
                flow_id=run["flow_id"],
                session=session,
                tokens=StaticTokenProvider(default="tok-someone-else"),
            )
            with pytest.raises(LoginRequired) as refused:
                await stranger.get_status(run["run_id"])
            texts += [repr(session), repr(tokens), repr(manager), repr(stranger)]
        texts += [repr(emulator), repr(server)]

    texts += [str(missing.value), repr(missing.value), missing.value.text]
    texts += [str(refused.value), repr(refused.value)]
    texts += [json.dumps(final), report.to_json(), caplog.text]
    texts += [(tmp_path / "state.json").read_text(encoding="utf-8")]
    assert final["status"] == "SUCCEEDED"
    assert leaks(texts) == []


@pytest.fixture
def loopback_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """An emulator served from a worker thread, so a CLI command can run beside it."""
    emulator = Emulator(static_token=SECRET, timing=RunTiming(action_seconds=0))
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(emulator.serve()) as server,
    ):
        point_services_at(monkeypatch, server)
        yield server


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_cli_keeps_token_secret(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    loopback_server: RunningServer,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows").mkdir()
    spec = {"definition": pass_definition(), "run": {"label": "from the cli"}}
    (tmp_path / "flows" / "secret.json").write_text(json.dumps(spec), encoding="utf-8")
    runner = CliRunner(env={"AIOFLOWS_BACKEND": backend, TOKEN_VARIABLE: SECRET})
    common = ("--state", "state.json", "-vv")
    outputs: list[str] = []

    for args in (
        ("sync", "flows", "--json"),
        ("plan", "flows", "--remote", "--json"),
        ("run", "secret", "--flows", "flows", "--watch", "--interval", "0.5"),
        ("status", UNKNOWN_RUN),
    ):
        result = runner.invoke(cli, [*args, *common], catch_exceptions=False)
        outputs += [result.stdout, result.stderr]

    outputs += [caplog.text, (tmp_path / "state.json").read_text(encoding="utf-8")]
    assert "SUCCEEDED" in "".join(outputs)
    assert leaks(outputs) == []


class ServerWarnings(logging.Handler):
    """Collects the emulator server's log messages and signals its first warning."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        self.warned = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if record.levelno >= logging.WARNING:
            self.warned.set()


@pytest.fixture
def server_warnings() -> Iterator[ServerWarnings]:
    """The emulator server's log messages, from the DEBUG level up."""
    handler = ServerWarnings()
    logger = logging.getLogger("aioflows.emulator._server")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


async def test_malformed_header_not_logged(server_warnings: ServerWarnings) -> None:
    emulator = Emulator(static_token=SECRET)
    request = (
        b"GET /flows HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization Bearer " + SECRET.encode() + b"\r\n\r\n"
    )

    async with emulator.serve() as server:
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            await stream.send(request)
            with anyio.fail_after(5), contextlib.suppress(anyio.EndOfStream):
                while await stream.receive():
                    pass
        # The server logs after it closed the connection, so wait for that.
        with anyio.move_on_after(2):
            await server_warnings.warned.wait()

    assert leaks(server_warnings.messages) == []


def test_empty_static_token_rejected() -> None:
    with pytest.raises(ValueError, match="static_token"):
        Emulator(static_token="")
