from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from reconcile_support import hello_definition

from aioflows import AioflowsError
from aioflows._specs import (
    SPEC_KEYS,
    FlowSpec,
    RunDefaults,
    SpecError,
    load_spec,
    load_specs,
)

REAL_FLOWS = Path(__file__).resolve().parents[3] / "shared" / "flows-real"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"

GROUP = "0f0f0f0f-0000-4000-8000-00000000000f"
FLOW_ID = "0a0a0a0a-0000-4000-8000-000000000001"


def write_spec(directory: Path, name: str, document: Any) -> Path:
    path = directory / f"{name}.json"
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


def minimal() -> dict[str, Any]:
    return {"title": "Hello", "definition": hello_definition()}


def test_minimal_spec_loaded(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "hello", minimal()))

    assert spec.name == "hello"
    assert spec.title == "Hello"
    assert spec.input_schema is None
    assert spec.run == RunDefaults()


def test_full_spec_loaded(tmp_path: Path) -> None:
    document = {
        **minimal(),
        "input_schema": {"type": "object"},
        "subtitle": "sub",
        "description": "desc",
        "keywords": ["a", "b"],
        "group": GROUP,
        "subscription_id": "05050505-0000-4000-8000-000000000005",
        "flow_id": FLOW_ID,
        "flow_viewers": ["public"],
        "run": {"label": "nightly", "tags": ["t1"], "body": {"x": 1}},
        "source": {"repository": "example/repo"},
    }

    spec = load_spec(write_spec(tmp_path, "full", document))

    assert spec.keywords == ("a", "b")
    assert spec.group == GROUP
    assert spec.flow_id == FLOW_ID
    assert spec.roles == {"flow_viewers": ["public"]}
    assert spec.run == RunDefaults(label="nightly", tags=("t1",), body={"x": 1})
    assert spec.source == {"repository": "example/repo"}


def test_spec_is_frozen(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "hello", minimal()))

    with pytest.raises(AttributeError):
        spec.title = "Other"  # type: ignore[misc]


def test_group_urn_normalised(tmp_path: Path) -> None:
    document = {**minimal(), "group": f"urn:globus:groups:id:{GROUP}"}

    assert load_spec(write_spec(tmp_path, "g", document)).group == GROUP


def test_null_optional_field_ignored(tmp_path: Path) -> None:
    document = {**minimal(), "input_schema": None, "keywords": None}

    spec = load_spec(write_spec(tmp_path, "n", document))

    assert spec.input_schema is None
    assert spec.keywords is None


def test_invalid_json_line_column(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "broken", '{\n  "title": "x",\n  "definition": {,\n}\n')

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    assert caught.value.line == 3
    assert caught.value.column == 18
    assert caught.value.path == path
    assert "line 3, column 18" in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_definition_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="missing 'definition'"):
        load_spec(write_spec(tmp_path, "empty", {"title": "x"}))


def test_definition_without_states_rejected(tmp_path: Path) -> None:
    document = {"definition": {"StartAt": "A"}}

    with pytest.raises(SpecError, match="States"):
        load_spec(write_spec(tmp_path, "nostates", document))


def test_top_level_array_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="must be a JSON object, got an array"):
        load_spec(write_spec(tmp_path, "array", [minimal()]))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("title", 42, "'title' must be a string, got a number"),
        ("definition", [], "'definition' must be a JSON object, got an array"),
        (
            "input_schema",
            "strict",
            "'input_schema' must be a JSON object, got a string",
        ),
        ("keywords", "transfer", "'keywords' must be a list of strings, got a string"),
        (
            "keywords",
            ["ok", 2],
            "'keywords' must be a list of strings, but it contains a number: 2",
        ),
        ("subtitle", True, "'subtitle' must be a string, got a boolean"),
        ("group", 7, "'group' must be a group id string, got a number"),
        ("flow_id", "not-a-uuid", "'flow_id' must be a UUID"),
        ("subscription_id", "123", "'subscription_id' must be a UUID"),
        ("flow_viewers", "public", "'flow_viewers' must be a list of principal URNs"),
        ("flow_starters", ["public"], "flow_starters cannot contain 'public'"),
        ("run", [], "'run' must be a JSON object, got an array"),
        ("source", "github", "'source' must be a JSON object, got a string"),
    ],
)
def test_wrong_type_rejected(
    tmp_path: Path, field: str, value: Any, expected: str
) -> None:
    document = {**minimal(), field: value}

    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(tmp_path, "wrong", document))

    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ({"label": 5}, "'run.label' must be a string"),
        ({"tags": "nightly"}, "'run.tags' must be a list of strings"),
        ({"body": [1]}, "'run.body' must be a JSON object"),
        ({"input": {}}, "unknown key 'input' in 'run'"),
    ],
)
def test_bad_run_defaults_rejected(
    tmp_path: Path, run: dict[str, Any], expected: str
) -> None:
    document = {**minimal(), "run": run}

    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(tmp_path, "run", document))

    assert expected in str(caught.value)


def test_unknown_key_lists_allowed(tmp_path: Path) -> None:
    document = {**minimal(), "titel": "typo"}

    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(tmp_path, "typo", document))

    message = str(caught.value)
    assert "unknown key 'titel'" in message
    assert all(key in message for key in SPEC_KEYS)


def test_spec_error_is_value_error() -> None:
    assert issubclass(SpecError, ValueError)
    assert issubclass(SpecError, AioflowsError)


def test_unreadable_file_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes(b'{"title": "caf\xe9"}')

    with pytest.raises(SpecError, match="not valid UTF-8"):
        load_spec(path)


def test_directory_keeps_going(tmp_path: Path) -> None:
    write_spec(tmp_path, "a-good", minimal())
    write_spec(tmp_path, "b-broken", "{")
    write_spec(tmp_path, "c-good", minimal())

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["a-good", "c-good"]
    assert [error.path for error in loaded.errors] == [tmp_path / "b-broken.json"]


def test_directory_ignores_other_files(tmp_path: Path) -> None:
    write_spec(tmp_path, "flow", minimal())
    (tmp_path / "notes.txt").write_text("not a spec")
    (tmp_path / "nested").mkdir()
    write_spec(tmp_path / "nested", "inner", minimal())

    assert [spec.name for spec in load_specs([tmp_path]).specs] == ["flow"]


def test_duplicate_name_rejected(tmp_path: Path) -> None:
    first = tmp_path / "one"
    second = tmp_path / "two"
    first.mkdir()
    second.mkdir()
    write_spec(first, "same", minimal())
    write_spec(second, "same", minimal())

    loaded = load_specs([first, second])

    assert len(loaded.specs) == 1
    assert "already used" in str(loaded.errors[0])


def test_shared_flow_id_rejected(tmp_path: Path) -> None:
    first = write_spec(tmp_path, "first", {**minimal(), "flow_id": FLOW_ID})
    second = write_spec(tmp_path, "second", {**minimal(), "flow_id": FLOW_ID})

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["first"]
    assert [error.path for error in loaded.errors] == [second]
    assert FLOW_ID in str(loaded.errors[0])
    assert str(first) in str(loaded.errors[0])


def test_linked_file_is_another_flow(tmp_path: Path) -> None:
    write_spec(tmp_path, "original", minimal())
    os.symlink(tmp_path / "original.json", tmp_path / "alias.json")

    loaded = load_specs([tmp_path, tmp_path / "original.json"])

    assert [spec.name for spec in loaded.specs] == ["alias", "original"]
    assert loaded.errors == ()


def test_dangling_link_names_target(tmp_path: Path) -> None:
    link = tmp_path / "gone.json"
    os.symlink(tmp_path / "moved-away.json", link)

    with pytest.raises(
        SpecError, match=r"symbolic link to .*moved-away\.json"
    ) as caught:
        load_spec(link)

    assert caught.value.path == link


def test_looping_link_reported(tmp_path: Path) -> None:
    write_spec(tmp_path, "good", minimal())
    os.symlink(tmp_path / "loop.json", tmp_path / "loop.json")

    loaded = load_specs([tmp_path])

    assert [spec.name for spec in loaded.specs] == ["good"]
    assert [error.path for error in loaded.errors] == [tmp_path / "loop.json"]


def test_huge_integer_message(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "huge", '{"definition": ' + "1" * 5_000 + "}")

    with pytest.raises(SpecError, match=r"huge\.json: invalid JSON: "):
        load_spec(path)


def test_deep_nesting_message(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "deep", "[" * 5_000 + "]" * 5_000)

    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec(path)


def test_undecodable_name_escaped(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.json")
    with open(raw, "wb") as file:
        file.write(json.dumps(minimal()).encode("utf-8"))

    with pytest.raises(SpecError) as caught:
        load_spec(os.fsdecode(raw))

    assert "caf\\xe9.json: the file name is not valid UTF-8" in str(caught.value)


def test_surrogate_name_rejected() -> None:
    with pytest.raises(SpecError, match="lone surrogate"):
        FlowSpec.from_mapping("caf\udce9", minimal())


def test_empty_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"no \.json spec files"):
        load_specs([tmp_path])


def test_missing_path_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_specs([tmp_path / "absent"])


def test_manager_built_from_spec(tmp_path: Path) -> None:
    document = {
        **minimal(),
        "input_schema": {"type": "object"},
        "subtitle": "sub",
        "description": "desc",
        "keywords": ["k"],
        "group": GROUP,
        "flow_viewers": ["public"],
        "run": {"label": "nightly", "tags": ["t"], "body": {"x": 1}},
    }
    spec = load_spec(write_spec(tmp_path, "full", document))

    manager = spec.to_manager()

    request = manager.flow_request()
    assert manager.name == "full"
    assert request["title"] == "Hello"
    assert request["input_schema"] == {"type": "object"}
    assert request["subtitle"] == "sub"
    assert request["description"] == "desc"
    assert request["keywords"] == ["k"]
    assert request["flow_viewers"] == ["public"]
    assert request["flow_starters"] == [f"urn:globus:groups:id:{GROUP}"]
    assert manager.run_kwargs == {"label": "nightly", "tags": ["t"]}


def test_manager_keeps_explicit_flow_id(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "adopt", {**minimal(), "flow_id": FLOW_ID}))

    assert spec.to_manager().flow_id == FLOW_ID


def test_manager_title_defaults_to_name(tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(tmp_path, "untitled", {"definition": hello_definition()})
    )

    assert spec.to_manager().flow_request()["title"] == "untitled"


def test_from_mapping_without_file() -> None:
    with pytest.raises(SpecError, match=r"^inline: missing 'definition'"):
        FlowSpec.from_mapping("inline", {})


def test_examples_all_valid() -> None:
    loaded = load_specs([EXAMPLES])

    assert loaded.errors == ()
    assert len(loaded.specs) >= 6


@pytest.mark.skipif(
    not REAL_FLOWS.is_dir(), reason="the real flow collection is not on this machine"
)
def test_real_flows_all_valid() -> None:
    loaded = load_specs([REAL_FLOWS])

    assert loaded.errors == ()
    assert len(loaded.specs) == 20
    assert all(spec.source is not None for spec in loaded.specs)
