"""Spec files that try to break load_specs: odd JSON, encodings, paths and names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hardening_support import pass_definition

from aioflows import SpecError, load_spec, load_specs


def write_text(directory: Path, file_name: str, text: str) -> Path:
    path = directory / file_name
    path.write_text(text, encoding="utf-8")
    return path


def good_spec(directory: Path, name: str = "good") -> Path:
    return write_text(
        directory, f"{name}.json", json.dumps({"definition": pass_definition()})
    )


def spec_with_result(result_json: str) -> str:
    """Return spec text whose Pass state's Result is the JSON text *result_json*."""
    return (
        '{"definition": {"StartAt": "A", "States": {"A": '
        '{"Type": "Pass", "End": true, "Result": ' + result_json + "}}}}"
    )


def test_huge_integer_reported(tmp_path: Path) -> None:
    good_spec(tmp_path)
    write_text(tmp_path, "huge.json", spec_with_result("1" * 5_000))

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["good"]
    assert [error.path for error in loaded.errors] == [tmp_path / "huge.json"]


def test_deep_nesting_reported(tmp_path: Path) -> None:
    good_spec(tmp_path)
    write_text(tmp_path, "deep.json", spec_with_result("[" * 5_000 + "]" * 5_000))

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["good"]
    assert len(loaded.errors) == 1


def test_utf8_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    document = json.dumps({"definition": pass_definition()})
    path.write_bytes(b"\xef\xbb\xbf" + document.encode("utf-8"))

    spec = load_spec(path)

    assert spec.name == "bom"


def test_dangling_symlink_reported(tmp_path: Path) -> None:
    good_spec(tmp_path)
    os.symlink(tmp_path / "moved-away.json", tmp_path / "gone.json")

    loaded = load_specs([tmp_path])

    assert [error.path for error in loaded.errors] == [tmp_path / "gone.json"]


def test_same_file_twice_once(tmp_path: Path) -> None:
    path = good_spec(tmp_path)

    loaded = load_specs([tmp_path, path])

    assert loaded.errors == ()


def test_undecodable_file_name_reported(tmp_path: Path) -> None:
    good_spec(tmp_path)
    document = json.dumps({"definition": pass_definition()}).encode("utf-8")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.json"), "wb") as file:
        file.write(document)

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["good"]
    assert len(loaded.errors) == 1


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_reported(tmp_path: Path, constant: str) -> None:
    good_spec(tmp_path)
    write_text(tmp_path, "odd.json", spec_with_result(constant))

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["good"]
    assert [error.path for error in loaded.errors] == [tmp_path / "odd.json"]


def test_directory_named_like_spec(tmp_path: Path) -> None:
    good_spec(tmp_path)
    (tmp_path / "folder.json").mkdir()

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["good"]
    assert loaded.errors == ()
    with pytest.raises(SpecError, match=r"no \.json spec files"):
        load_specs([tmp_path / "folder.json"])


@pytest.mark.parametrize(
    "content",
    ["{}".encode("utf-16"), b"\x00\x00\x00{", b'{"definition": "\xe9"}'],
    ids=["utf-16", "nul-bytes", "latin-1"],
)
def test_undecodable_file_reported(tmp_path: Path, content: bytes) -> None:
    good_spec(tmp_path)
    (tmp_path / "odd.json").write_bytes(content)

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["good"]
    assert [error.path for error in loaded.errors] == [tmp_path / "odd.json"]


@pytest.mark.parametrize("stem", ["with space", "naïve flow", "流れ", "a.b.c"])
def test_odd_stem_is_name(tmp_path: Path, stem: str) -> None:
    path = good_spec(tmp_path, stem)

    spec = load_spec(path)

    assert spec.name == stem
    assert spec.to_manager().name == stem
