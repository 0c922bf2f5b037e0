from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from reconcile_support import FakeFlows

from aioflows import AioflowsError, FlowsManager, MemoryStorage
from aioflows._gladier import AdoptOutcome, adopt_gladier, read_gladier_config
from aioflows._reconcile import Outcome, reconcile

pytestmark = pytest.mark.anyio

MakeManager = Callable[..., FlowsManager]

FLOW_ID = "0a0a0a0a-0000-4000-8000-000000000001"
OTHER_ID = "0b0b0b0b-0000-4000-8000-000000000002"
SECRET = "AgSecretRefreshTokenValue"
TWO_SECTIONS = f"[first]\nflow_id = {FLOW_ID}\n\n[second]\nflow_id = {OTHER_ID}\n"


def write_config(directory: Path, text: str) -> Path:
    path = directory / "gladier.cfg"
    path.write_text(text, encoding="utf-8")
    return path


def config_text(flow_id: str = FLOW_ID, checksum: str = "abc123") -> str:
    return (
        "[DEFAULT]\n"
        "flow_id = 0c0c0c0c-0000-4000-8000-000000000003\n"
        "\n"
        "[tokens]\n"
        f"refresh_token = {SECRET}\n"
        "\n"
        "[my_client]\n"
        f"flow_id = {flow_id}\n"
        f"flow_checksum = {checksum}\n"
        "note = 100% done\n"
    )


def test_sections_with_flow_id_read(tmp_path: Path) -> None:
    flows = read_gladier_config(write_config(tmp_path, config_text()))

    assert [(flow.section, flow.flow_id, flow.flow_checksum) for flow in flows] == [
        ("DEFAULT", "0c0c0c0c-0000-4000-8000-000000000003", None),
        ("my_client", FLOW_ID, "abc123"),
    ]


def test_invalid_ini_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, "flow_id = outside any section\n")

    with pytest.raises(AioflowsError, match="not a valid Gladier INI file"):
        read_gladier_config(path)


def test_undecodable_config_named(tmp_path: Path) -> None:
    path = tmp_path / "gladier.cfg"
    path.write_bytes(b"[client]\nflow_id = caf\xe9\n")

    with pytest.raises(AioflowsError, match=r"gladier\.cfg: .*not valid UTF-8"):
        read_gladier_config(path)


def test_home_directory_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write_config(tmp_path, config_text())

    flows = read_gladier_config("~/gladier.cfg")

    assert [flow.section for flow in flows] == ["DEFAULT", "my_client"]


async def test_flow_adopted(tmp_path: Path, storage: MemoryStorage) -> None:
    path = write_config(tmp_path, config_text())

    results = await adopt_gladier(path, storage)

    assert [result.outcome for result in results] == [AdoptOutcome.ADOPTED] * 2
    assert await storage.items("my_client") == {
        "flow_id": FLOW_ID,
        "flow_checksum": "abc123",
    }


async def test_config_never_written(tmp_path: Path, storage: MemoryStorage) -> None:
    path = write_config(tmp_path, config_text())
    before = path.stat()

    await adopt_gladier(path, storage)

    after = path.stat()
    assert path.read_text(encoding="utf-8") == config_text()
    assert after.st_mtime_ns == before.st_mtime_ns
    assert after.st_ino == before.st_ino


async def test_other_values_not_logged(
    tmp_path: Path, storage: MemoryStorage, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, config_text())

    with caplog.at_level(logging.DEBUG, logger="aioflows"):
        results = await adopt_gladier(path, storage)

    assert SECRET not in caplog.text
    assert all(SECRET not in repr(result) for result in results)


async def test_section_renamed(tmp_path: Path, storage: MemoryStorage) -> None:
    path = write_config(tmp_path, config_text())

    await adopt_gladier(path, storage, names={"my_client": "two-hop-transfer"})

    assert await storage.get("two-hop-transfer", "flow_id") == FLOW_ID
    assert await storage.get("my_client", "flow_id") is None


async def test_unknown_rename_rejected(tmp_path: Path, storage: MemoryStorage) -> None:
    path = write_config(tmp_path, config_text())

    with pytest.raises(ValueError, match="'absent'"):
        await adopt_gladier(path, storage, names={"absent": "x"})


async def test_same_id_already_adopted(tmp_path: Path, storage: MemoryStorage) -> None:
    path = write_config(tmp_path, config_text())
    await adopt_gladier(path, storage)

    results = await adopt_gladier(path, storage)

    assert results[1].outcome is AdoptOutcome.ALREADY_ADOPTED


async def test_other_id_conflicts(tmp_path: Path, storage: MemoryStorage) -> None:
    await storage.set_many("my_client", {"flow_id": OTHER_ID, "flow_checksum": "ours"})
    path = write_config(tmp_path, config_text())

    results = await adopt_gladier(path, storage)

    assert results[1].outcome is AdoptOutcome.CONFLICT
    assert results[1].message is not None
    assert OTHER_ID in results[1].message
    assert await storage.get("my_client", "flow_id") == OTHER_ID


async def test_invalid_flow_id_reported(tmp_path: Path, storage: MemoryStorage) -> None:
    path = write_config(tmp_path, "[broken]\nflow_id = 1234\n")

    results = await adopt_gladier(path, storage)

    assert results[0].outcome is AdoptOutcome.INVALID
    assert await storage.namespaces() == []


async def test_dry_run_writes_nothing(tmp_path: Path, storage: MemoryStorage) -> None:
    path = write_config(tmp_path, config_text())

    results = await adopt_gladier(path, storage, dry_run=True)

    assert results[1].outcome is AdoptOutcome.ADOPTED
    assert await storage.namespaces() == []


@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
async def test_earlier_section_conflicts(
    tmp_path: Path, storage: MemoryStorage, dry_run: bool
) -> None:
    path = write_config(tmp_path, TWO_SECTIONS)
    names = {"first": "shared", "second": "shared"}

    results = await adopt_gladier(path, storage, names=names, dry_run=dry_run)

    assert [result.outcome for result in results] == [
        AdoptOutcome.ADOPTED,
        AdoptOutcome.CONFLICT,
    ]
    assert results[1].message is not None
    assert "section [first]" in results[1].message


@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
async def test_same_flow_twice_already_adopted(
    tmp_path: Path, storage: MemoryStorage, dry_run: bool
) -> None:
    path = write_config(tmp_path, TWO_SECTIONS.replace(OTHER_ID, FLOW_ID))
    names = {"first": "shared", "second": "shared"}

    results = await adopt_gladier(path, storage, names=names, dry_run=dry_run)

    assert [result.outcome for result in results] == [
        AdoptOutcome.ADOPTED,
        AdoptOutcome.ALREADY_ADOPTED,
    ]


async def test_adopted_flow_updated_then_unchanged(
    tmp_path: Path,
    storage: MemoryStorage,
    service: FakeFlows,
    make_manager: MakeManager,
) -> None:
    seeded = await reconcile([make_manager("seed")])
    flow_id = seeded.results[0].flow_id
    assert flow_id is not None
    manager = make_manager("my_client", flow_title="Adopted")
    # Gladier's checksum covers the definition, schema and extra fields, but
    # not the title, so it never matches the checksum aioflows computes.
    gladier_checksum = FlowsManager.get_flow_checksum(
        manager.flow_request()["definition"], manager.flow_request()["input_schema"]
    )
    path = write_config(
        tmp_path,
        f"[my_client]\nflow_id = {flow_id}\nflow_checksum = {gladier_checksum}\n",
    )
    await adopt_gladier(path, storage)
    service.calls.clear()

    first = await reconcile([make_manager("my_client", flow_title="Adopted")])
    second = await reconcile([make_manager("my_client", flow_title="Adopted")])

    assert first.results[0].outcome is Outcome.UPDATED
    assert first.results[0].flow_id == flow_id
    assert service.calls == [("PUT", f"/flows/{flow_id}")]
    assert second.results[0].outcome is Outcome.UNCHANGED
    assert service.flows[flow_id]["title"] == "Adopted"
