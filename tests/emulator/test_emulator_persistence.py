"""Saving and loading emulator state, and the ``aioflows emulator serve`` command."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from click.testing import CliRunner
from emulator_helpers import create_flow, start_run

from aioflows.emulator import Emulator, ManualClock, StateFileError
from aioflows.emulator._cli import emulator as emulator_command

pytestmark = pytest.mark.anyio

_REPOSITORY = Path(__file__).resolve().parents[2]


async def test_save_load_keeps_flows(
    client: httpx.AsyncClient, emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    flow = await create_flow(client, title="Persisted")
    run = await start_run(client, flow["id"])
    refresh = emulator.issue_tokens(
        ["urn:globus:auth:scope:groups.api.globus.org:all"]
    )["refresh_token"]
    path = tmp_path / "state" / "emulator.json"

    await emulator.save(path)
    restored = await Emulator.load(path, clock=clock, static_token="new-token")
    headers = {"Authorization": "Bearer new-token"}
    async with httpx.AsyncClient(
        transport=restored.transport(),
        base_url="https://flows.automate.globus.org",
        headers=headers,
    ) as http:
        fetched = await http.get(f"/flows/{flow['id']}")
        fetched_run = await http.get(f"/runs/{run['run_id']}")
        refreshed = await http.post(
            "https://auth.globus.org/v2/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh},
        )

    assert restored.identity_id == emulator.identity_id
    assert fetched.json()["title"] == "Persisted"
    assert fetched_run.status_code == 200
    assert refreshed.status_code == 200


async def test_save_creates_private_file(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    old_umask = os.umask(0)
    try:
        await emulator.save(path)
    finally:
        os.umask(old_umask)

    mode = (await anyio.Path(path).stat()).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert os.listdir(tmp_path) == ["emulator.json"]


async def test_save_leaves_out_static_token(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"

    await emulator.save(path)

    assert emulator.static_token not in await anyio.Path(path).read_text()


async def test_load_missing_file_empty(tmp_path: Path) -> None:
    restored = await Emulator.load(tmp_path / "absent.json")

    assert restored.flow_ids() == []


@pytest.mark.parametrize(
    "content", ["{not json", "[1, 2]", '{"version": 99}', '{"version": 1}']
)
async def test_load_corrupt_file_raises(tmp_path: Path, content: str) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(content)

    with pytest.raises(StateFileError, match=re.escape(str(path))):
        await Emulator.load(path)


@pytest.mark.parametrize(
    "data",
    [b'{"version": "caf\xe9"}', b"[" * 100_000],
    ids=["latin-1", "deep"],
)
async def test_load_undecodable_file_raises(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "emulator.json"
    path.write_bytes(data)

    with pytest.raises(StateFileError, match=re.escape(str(path))):
        await Emulator.load(path)


async def test_load_below_regular_file_raises(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a directory")
    path = tmp_path / "blocker" / "emulator.json"

    with pytest.raises(StateFileError, match="cannot read"):
        await Emulator.load(path)


@pytest.mark.parametrize("token", ["", " padded", "two words", "caf\u00e9", "a\tb"])
def test_static_token_invalid_rejected(token: str) -> None:
    with pytest.raises(ValueError, match="static_token"):
        Emulator(static_token=token)


def test_added_token_empty_rejected(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="token"):
        emulator.add_static_token("", emulator.identity_id)


def test_cli_rejects_empty_token() -> None:
    result = CliRunner().invoke(
        emulator_command, ["serve", "--port", "0", "--token", ""]
    )

    assert result.exit_code == 2
    assert "--token" in result.output


def test_cli_unwritable_state_fails_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail_save(self: Emulator, path: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Emulator, "save", fail_save)
    state = tmp_path / "state.json"

    result = CliRunner().invoke(
        emulator_command, ["serve", "--port", "0", "--state", str(state)]
    )

    assert result.exit_code == 1
    assert f"cannot save the emulator state to {state}" in result.output
    assert "listening" not in result.output


def test_cli_rejects_remote_host() -> None:
    result = CliRunner().invoke(
        emulator_command, ["serve", "--host", "0.0.0.0", "--port", "0"]
    )

    assert result.exit_code == 2
    assert "--allow-remote-host" in result.output


async def _read_banner(process: anyio.abc.Process) -> str:
    assert process.stdout is not None
    text = ""
    with anyio.fail_after(20):
        async for chunk in process.stdout:
            text += chunk.decode()
            if "Press Ctrl-C" in text:
                return text
    return text


async def test_cli_serve_starts_and_stops(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    command = [
        sys.executable,
        "-c",
        "from aioflows.emulator._cli import emulator; emulator()",
        "serve",
        "--port",
        "0",
        "--token",
        "dev-token",
        "--state",
        str(state),
    ]
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(_REPOSITORY), os.environ.get("PYTHONPATH")])
        ),
    }

    async with await anyio.open_process(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            banner = await _read_banner(process)
            url = re.search(r"listening on (http://\S+)", banner)
            assert url is not None, banner
            async with httpx.AsyncClient(
                base_url=url.group(1), headers={"Authorization": "Bearer dev-token"}
            ) as http:
                created = await http.post(
                    "/flows",
                    json={
                        "title": "From CLI",
                        "definition": {
                            "StartAt": "A",
                            "States": {"A": {"Type": "Pass", "End": True}},
                        },
                    },
                )
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(20):
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()

    restored = await Emulator.load(state)
    assert created.status_code == 201
    assert code == 0
    assert "export GLOBUS_SDK_SERVICE_URL_FLOWS=" in banner
    assert restored.flow_ids() == [created.json()["id"]]
