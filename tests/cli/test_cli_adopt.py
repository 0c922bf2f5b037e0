from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_support import Cli, copy_examples, stored_state


def write_gladier_config(path: Path, flow_id: str) -> Path:
    path.write_text(
        "[tokens]\n"
        "refresh_token = AgNotARealToken\n"
        "\n"
        "[transfer_client]\n"
        f"flow_id = {flow_id}\n"
        "flow_checksum = 0123456789abcdef\n",
        encoding="utf-8",
    )
    return path


def deployed_flow_id(aioflows_cli: Cli, workdir: Path) -> str:
    """Deploy the examples into the emulator, as Gladier once would have."""
    flows = copy_examples(workdir)
    aioflows_cli.json(
        "sync", str(flows), "--emulator", "--state", str(workdir / "old.json")
    )
    return str(
        json.loads((workdir / "old.json").read_text())["two-hop-transfer"]["flow_id"]
    )


def test_adopted_flow_updated_once(aioflows_cli: Cli, workdir: Path) -> None:
    flow_id = deployed_flow_id(aioflows_cli, workdir)
    config = write_gladier_config(workdir / "gladier.cfg", flow_id)
    specs = workdir / "adopted"
    specs.mkdir()
    shutil.copy(workdir / "flows" / "two-hop-transfer.json", specs / "hop.json")

    adopted = aioflows_cli.json(
        "adopt-gladier", str(config), "--as", "transfer_client=hop", "--emulator"
    )
    first = aioflows_cli.json("sync", str(specs), "--emulator")
    second = aioflows_cli.json("sync", str(specs), "--emulator")

    assert adopted["results"] == [
        {
            "section": "transfer_client",
            "name": "hop",
            "flow_id": flow_id,
            "outcome": "adopted",
            "message": None,
        }
    ]
    assert first["results"][0]["outcome"] == "updated"
    assert first["results"][0]["flow_id"] == flow_id
    assert second["results"][0]["outcome"] == "unchanged"


def test_config_left_untouched(aioflows_cli: Cli, workdir: Path) -> None:
    config = write_gladier_config(
        workdir / "gladier.cfg", "0a0a0a0a-0000-4000-8000-000000000001"
    )
    before = config.read_bytes()
    mtime = config.stat().st_mtime_ns

    result = aioflows_cli.invoke("adopt-gladier", str(config), "--emulator")

    assert result.exit_code == 0
    assert config.read_bytes() == before
    assert config.stat().st_mtime_ns == mtime
    assert "AgNotARealToken" not in result.output
    assert stored_state() == {
        "transfer_client": {
            "flow_checksum": "0123456789abcdef",
            "flow_id": "0a0a0a0a-0000-4000-8000-000000000001",
        }
    }


def test_conflict_exit_one(aioflows_cli: Cli, workdir: Path) -> None:
    first = write_gladier_config(
        workdir / "first.cfg", "0a0a0a0a-0000-4000-8000-000000000001"
    )
    second = write_gladier_config(
        workdir / "second.cfg", "0b0b0b0b-0000-4000-8000-000000000002"
    )
    aioflows_cli.invoke("adopt-gladier", str(first), "--emulator")

    result = aioflows_cli.invoke("adopt-gladier", str(second), "--emulator")

    assert result.exit_code == 1
    assert "conflict" in result.stdout
    assert (
        stored_state()["transfer_client"]["flow_id"]
        == "0a0a0a0a-0000-4000-8000-000000000001"
    )


def test_bad_mapping_usage_error(aioflows_cli: Cli, workdir: Path) -> None:
    config = write_gladier_config(
        workdir / "gladier.cfg", "0a0a0a0a-0000-4000-8000-000000000001"
    )

    result = aioflows_cli.invoke(
        "adopt-gladier", str(config), "--as", "nosign", "--emulator"
    )

    assert result.exit_code == 2
    assert "SECTION=NAME" in result.stderr


def test_unknown_section_mapping(aioflows_cli: Cli, workdir: Path) -> None:
    config = write_gladier_config(
        workdir / "gladier.cfg", "0a0a0a0a-0000-4000-8000-000000000001"
    )

    result = aioflows_cli.invoke(
        "adopt-gladier", str(config), "--as", "absent=x", "--emulator"
    )

    assert result.exit_code == 1
    assert "'absent'" in result.stderr


def test_dry_run_writes_nothing(aioflows_cli: Cli, workdir: Path) -> None:
    config = write_gladier_config(
        workdir / "gladier.cfg", "0a0a0a0a-0000-4000-8000-000000000001"
    )

    report = aioflows_cli.json("adopt-gladier", str(config), "--dry-run", "--emulator")

    assert report["summary"]["adopted"] == 1
    assert not (workdir / ".aioflows" / "state.json").exists()
