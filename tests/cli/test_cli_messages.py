"""What the command line prints on stderr, and its help texts."""

from __future__ import annotations

from pathlib import Path

from cli_support import Cli, copy_examples, edit_spec

EMULATOR_NOTICE = (
    "Using the embedded emulator, with its state in ./.aioflows/emulator.json; "
    "no request leaves this machine."
)


def _words(text: str) -> str:
    """Join the lines that click wraps help text into."""
    return " ".join(text.split())


def test_verbose_logs_creation_once(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json", "-v")

    assert result.stderr.count("created") == 6


def test_verbose_logs_update_once(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    aioflows_cli.json("sync", str(flows), "--emulator")
    edit_spec(flows / "two-hop-transfer.json", title="Renamed")

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json", "-v")

    assert result.stderr.count("updated") == 1


def test_run_logs_creation_once(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke(
        "run", "two-hop-transfer", "--flows", str(flows), "--emulator", "-v"
    )

    assert result.stderr.count("created flow") == 1


def test_debug_logs_save_once(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "--json", "-vv")

    assert result.stderr.count("Saved the emulator") == 1
    assert "emulator's state" not in result.stderr


def test_emulator_notice_once(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator")

    assert result.stderr.count(EMULATOR_NOTICE) == 1
    assert EMULATOR_NOTICE not in result.stdout


def test_emulator_notice_custom_state(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)
    state = workdir / "elsewhere" / "emu.json"

    result = aioflows_cli.invoke(
        "plan", str(flows), "--emulator", "--emulator-state", str(state)
    )

    assert "with its state in ./elsewhere/emu.json;" in result.stderr


def test_emulator_notice_quiet(aioflows_cli: Cli, workdir: Path) -> None:
    flows = copy_examples(workdir)

    result = aioflows_cli.invoke("sync", str(flows), "--emulator", "-q", "--json")

    assert result.stderr == ""


def test_quiet_help_names_table(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke("sync", "--help")

    assert "no table on stdout" in _words(result.stdout)
    assert "--json still prints its JSON" in _words(result.stdout)


def test_top_help_names_repository(aioflows_cli: Cli, workdir: Path) -> None:
    result = aioflows_cli.invoke("--help")

    text = _words(result.stdout)
    assert "aioflows sync DIR --emulator" in text
    assert "examples/flows in the aioflows source repository" in text
    assert "Start with" not in text
