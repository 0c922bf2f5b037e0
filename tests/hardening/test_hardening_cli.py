"""The command line with bad paths, bad input files, odd responses and busy ports."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from click.testing import CliRunner, Result
from hardening_support import FLOWS_URL, pass_definition

from aioflows.cli import cli
from aioflows.cli._runtime import TOKEN_VARIABLE

FLOW_ID = "0a0a0a0a-0000-4000-8000-000000000001"


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend the command runs on."""
    return str(request.param)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each command in an empty directory, with no token in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    return tmp_path


def invoke(backend: str, *args: str, **environment: str) -> Result:
    """Run ``aioflows ARGS`` and return the result, letting exceptions propagate."""
    runner = CliRunner(env={"AIOFLOWS_BACKEND": backend, **environment})
    return runner.invoke(cli, list(args), catch_exceptions=False)


def write_spec(directory: Path, name: str = "hello") -> Path:
    """Write a minimal spec NAME.json into *directory*/flows and return its path."""
    flows = directory / "flows"
    flows.mkdir(exist_ok=True)
    path = flows / f"{name}.json"
    path.write_text(json.dumps({"definition": pass_definition()}), encoding="utf-8")
    return path


def assert_stdout_empty_or_json(result: Result) -> None:
    if result.stdout.strip():
        json.loads(result.stdout)


@pytest.mark.parametrize(
    "content",
    [b'{"name": "caf\xe9"}', b'{"n": ' + b"1" * 5_000 + b"}", b"[" * 50_000],
    ids=["latin-1", "huge-integer", "deep"],
)
def test_bad_input_file_explained(backend: str, workdir: Path, content: bytes) -> None:
    spec = write_spec(workdir)
    (workdir / "input.json").write_bytes(content)

    result = invoke(backend, "run", str(spec), "--emulator", "--input", "input.json")

    assert result.exit_code == 1
    assert "--input" in result.stderr


def test_emulator_state_below_file(backend: str, workdir: Path) -> None:
    write_spec(workdir)
    (workdir / "blocker").write_text("not a directory", encoding="utf-8")

    result = invoke(
        backend,
        "sync",
        "flows",
        "--emulator",
        "--emulator-state",
        "blocker/emulator.json",
        "--json",
    )

    assert result.exit_code == 1
    assert "blocker" in result.stderr


@pytest.fixture
def recorded_flow(workdir: Path) -> Iterator[respx.MockRouter]:
    """A state file that records the flow "recorded", and a mocked Flows service."""
    state = {"recorded": {"flow_id": FLOW_ID}}
    (workdir / "state.json").write_text(json.dumps(state), encoding="utf-8")
    with respx.mock(base_url=FLOWS_URL, assert_all_called=False) as router:
        yield router


def test_run_without_run_id_explained(
    backend: str, recorded_flow: respx.MockRouter
) -> None:
    recorded_flow.post(f"/flows/{FLOW_ID}/run").respond(201, json={"status": "ACTIVE"})

    result = invoke(
        backend,
        "run",
        "recorded",
        "--state",
        "state.json",
        "--watch",
        "--json",
        **{TOKEN_VARIABLE: "tok-cli"},
    )

    assert result.exit_code == 1
    assert "run_id" in result.stderr


@pytest.mark.parametrize("command", ["sync", "plan"])
def test_corrupt_state_json_report(backend: str, workdir: Path, command: str) -> None:
    write_spec(workdir, "first")
    write_spec(workdir, "second")
    (workdir / "state.json").write_text('{"first": {"flow_id": ', encoding="utf-8")

    result = invoke(
        backend, command, "flows", "--emulator", "--state", "state.json", "--json"
    )

    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [row["outcome"] for row in report["results"]] == ["failed", "failed"]
    assert all("StorageError" in row["error"] for row in report["results"])


@pytest.mark.parametrize(
    "args",
    [
        ("sync", "missing-directory", "--emulator", "--json"),
        ("sync", "flows", "--json"),
        ("sync", "flows", "--emulator", "--state", "flows", "--json"),
        ("status", "not-a-uuid", "--emulator", "--json"),
        ("run", "nowhere", "--emulator", "--json"),
    ],
    ids=[
        "missing-path",
        "no-credentials",
        "state-is-directory",
        "bad-run-id",
        "unknown-flow",
    ],
)
def test_fatal_error_stdout_clean(
    backend: str, workdir: Path, args: tuple[str, ...]
) -> None:
    write_spec(workdir)

    result = invoke(backend, *args)

    assert result.exit_code in (1, 2)
    assert_stdout_empty_or_json(result)
    assert result.stderr.strip() != ""


def test_serve_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = invoke("asyncio", "emulator", "serve", "--port", str(port))

    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_serve_state_error_not_port(workdir: Path) -> None:
    (workdir / "blocker").write_text("not a directory", encoding="utf-8")

    result = invoke(
        "asyncio", "emulator", "serve", "--port", "0", "--state", "blocker/state.json"
    )

    assert result.exit_code == 1
    assert "cannot listen" not in result.stderr


def test_adopt_undecodable_names_file(backend: str, workdir: Path) -> None:
    config = workdir / "gladier.cfg"
    config.write_bytes(b"[client]\nflow_id = caf\xe9\n")

    result = invoke(backend, "adopt-gladier", str(config), "--state", "state.json")

    assert result.exit_code == 1
    assert "gladier.cfg" in result.stderr
