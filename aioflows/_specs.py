"""Flow spec files: one JSON file per flow, read into frozen :class:`FlowSpec` values.

A spec file is a JSON object. ``definition`` is required. ``title``,
``input_schema``, ``subtitle``, ``description``, ``keywords``, ``group``,
``subscription_id``, ``flow_id``, the role lists ``flow_viewers``,
``flow_starters`` and ``flow_administrators``, and ``run`` (defaults for runs:
``label``, ``tags``, ``body``) are optional. ``source`` is free-form
metadata, kept but never sent. Any other key is an error, so a misspelt
field cannot be silently ignored. The file's stem is the flow's name, which
is also its storage namespace, so it must be valid Unicode.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ._definitions import check_definition, check_json_object
from ._errors import AioflowsError
from ._json import json_type_name
from ._principals import FLOW_ROLE_FIELDS, check_role_lists, check_uuid, group_urn
from ._printable import is_unicode, printable_path

if TYPE_CHECKING:
    from ._session import Session
    from .managers import FlowsManager

__all__ = [
    "SPEC_KEYS",
    "FlowSpec",
    "RunDefaults",
    "SpecError",
    "SpecLoad",
    "load_spec",
    "load_specs",
]

log = logging.getLogger(__name__)

SPEC_KEYS = frozenset(
    {
        "definition",
        "description",
        "flow_administrators",
        "flow_id",
        "flow_starters",
        "flow_viewers",
        "group",
        "input_schema",
        "keywords",
        "run",
        "source",
        "subscription_id",
        "subtitle",
        "title",
    }
)
RUN_KEYS = frozenset({"body", "label", "tags"})

_SUFFIX = ".json"

# A UTF-8 byte order mark, which some Windows editors write. RFC 8259 lets a
# parser ignore it, so reading with this codec drops it when present.
_ENCODING = "utf-8-sig"


class SpecError(AioflowsError, ValueError):
    """A flow spec file cannot be read, is not valid JSON, or has invalid fields.

    Attributes:
        path: The spec file, or None for a spec built from a mapping.
        line: The line of a JSON syntax error (1-based), else None.
        column: The column of a JSON syntax error (1-based), else None.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column


@attrs.frozen
class RunDefaults:
    """Defaults for every run of a flow, from the spec's ``run`` object.

    Attributes:
        label: The run label; a label given at run time wins.
        tags: The run tags; tags given at run time win.
        body: The run input used when none is given at run time.
    """

    label: str | None = None
    tags: tuple[str, ...] | None = None
    body: dict[str, Any] | None = None


@attrs.frozen
class FlowSpec:
    """One flow as a spec file describes it.

    Attributes:
        name: The flow's name and storage namespace (the file's stem).
        definition: The flow definition.
        title: The flow title; None means the name is used.
        input_schema: The input schema; None means a permissive schema.
        subtitle: The flow subtitle, if any.
        description: The flow description, if any.
        keywords: Search keywords, if any.
        group: A Globus group id that gets every flow and run role.
        subscription_id: The subscription to deploy the flow under.
        flow_id: The id of an existing flow to adopt instead of creating one.
        roles: Role lists given explicitly (``flow_viewers``,
            ``flow_starters``, ``flow_administrators``); they override the
            lists derived from *group*.
        run: Defaults for runs.
        source: Free-form metadata about where the flow came from.
        path: The file the spec was read from, or None.
    """

    name: str
    definition: dict[str, Any] = attrs.field(repr=False)
    title: str | None = None
    input_schema: dict[str, Any] | None = attrs.field(default=None, repr=False)
    subtitle: str | None = None
    description: str | None = None
    keywords: tuple[str, ...] | None = None
    group: str | None = None
    subscription_id: str | None = None
    flow_id: str | None = None
    roles: dict[str, list[str]] = attrs.field(factory=dict, repr=False)
    run: RunDefaults = attrs.field(factory=RunDefaults, repr=False)
    source: dict[str, Any] | None = attrs.field(default=None, repr=False)
    path: Path | None = None

    @classmethod
    def from_mapping(
        cls, name: str, data: Any, *, path: Path | None = None
    ) -> FlowSpec:
        """Check the fields of a parsed spec and build a FlowSpec.

        Args:
            name: The flow's name.
            data: The parsed JSON document.
            path: The file it came from, used in error messages.

        Raises:
            SpecError: A required field is missing, a field has the wrong
                type or an invalid value, or a key is unknown.
        """
        where = _where(path, name)
        if not is_unicode(name):
            raise SpecError(
                f"{where}: the flow name {name!r} contains a lone surrogate, so it "
                "cannot be stored or sent; use a name that is valid Unicode",
                path=path,
            )
        if not isinstance(data, Mapping):
            raise SpecError(
                f"{where}: a flow spec must be a JSON object, got {json_type_name(data)}",
                path=path,
            )
        try:
            return _parse(name, data, path)
        except RecursionError:
            raise SpecError(_TOO_DEEP.format(where=where), path=path) from None
        except (TypeError, ValueError) as error:
            if isinstance(error, SpecError):
                raise
            raise SpecError(f"{where}: {error}", path=path) from None

    @classmethod
    def from_json(cls, text: str, name: str, *, path: Path | None = None) -> FlowSpec:
        """Parse the JSON text of a spec and build a FlowSpec.

        Raises:
            SpecError: The text is not valid JSON (the message gives the line
                and column of a syntax error), is nested too deeply, has an
                integer longer than Python parses, or its fields are invalid.
        """
        where = _where(path, name)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError(
                f"{where}: invalid JSON at line {error.lineno}, column {error.colno}: "
                f"{error.msg}",
                path=path,
                line=error.lineno,
                column=error.colno,
            ) from None
        except RecursionError:
            raise SpecError(_TOO_DEEP.format(where=where), path=path) from None
        except ValueError as error:
            # json.loads raises a plain ValueError for an integer longer than
            # sys.get_int_max_str_digits() allows.
            raise SpecError(f"{where}: invalid JSON: {error}", path=path) from None
        return cls.from_mapping(name, data, path=path)

    def flow_kwargs(self) -> dict[str, Any]:
        """Return the optional fields sent on create and update."""
        fields: dict[str, Any] = {}
        if self.subtitle is not None:
            fields["subtitle"] = self.subtitle
        if self.description is not None:
            fields["description"] = self.description
        if self.keywords is not None:
            fields["keywords"] = list(self.keywords)
        fields.update({field: list(value) for field, value in self.roles.items()})
        return fields

    def run_kwargs(self) -> dict[str, Any]:
        """Return the run defaults that apply to every run request."""
        fields: dict[str, Any] = {}
        if self.run.label is not None:
            fields["label"] = self.run.label
        if self.run.tags is not None:
            fields["tags"] = list(self.run.tags)
        return fields

    def to_manager(self, session: Session | None = None) -> FlowsManager:
        """Build the FlowsManager that keeps this flow deployed.

        Args:
            session: The Session the manager sends requests through; None
                lets the manager create its own.
        """
        from .managers import FlowsManager

        return FlowsManager(
            flow_id=self.flow_id,
            flow_definition=self.definition,
            flow_schema=self.input_schema,
            flow_title=self.title,
            subscription_id=self.subscription_id,
            globus_group=self.group,
            flow_kwargs=self.flow_kwargs(),
            run_kwargs=self.run_kwargs(),
            session=session,
            name=self.name,
        )


@attrs.frozen
class SpecLoad:
    """The outcome of reading many spec files.

    Attributes:
        specs: The specs read, in the order of the files.
        errors: One SpecError per file that could not be used.
    """

    specs: tuple[FlowSpec, ...]
    errors: tuple[SpecError, ...]


def load_spec(path: str | Path) -> FlowSpec:
    """Read one spec file. This blocks: call it from a worker thread in async code.

    A UTF-8 byte order mark at the start of the file is ignored.

    Raises:
        SpecError: The file name is not valid UTF-8, the file cannot be read,
            is not UTF-8 or valid JSON, or its fields are invalid.
    """
    path = Path(path)
    printable = printable_path(path)
    if not is_unicode(path.stem):
        raise SpecError(
            f"{printable}: the file name is not valid UTF-8, so it cannot be the "
            "flow's name; rename the file",
            path=path,
        )

    try:
        text = path.read_text(encoding=_ENCODING)
    except UnicodeDecodeError as error:
        raise SpecError(
            f"{printable}: not valid UTF-8 at byte {error.start}; "
            "save the file as UTF-8",
            path=path,
        ) from None
    except OSError as error:
        raise SpecError(_unreadable(path, error), path=path) from None
    return FlowSpec.from_json(text, path.stem, path=path)


def load_specs(paths: Iterable[str | Path]) -> SpecLoad:
    """Read every spec file under *paths*, keeping going past bad files.

    A directory contributes its ``*.json`` files (not those of its
    subdirectories), sorted by name; a file is read as given. A file reached
    twice under the same name, such as a directory and one of its files, is
    read once. A ``*.json`` symbolic link in a directory whose target is
    missing is an error for that file. Two specs with the same name are an
    error for the second, because they would share a storage namespace.
    Two specs with the same explicit ``flow_id`` are too, because each sync
    would overwrite the other's definition. This blocks: call it from a
    worker thread in async code.

    Raises:
        SpecError: A path does not exist, or a directory has no spec file.
            Errors in single files are returned in ``errors``, not raised.
    """
    specs: list[FlowSpec] = []
    errors: list[SpecError] = []
    names: dict[str, Path] = {}
    flow_ids: dict[str, Path] = {}

    for file in _spec_files(paths):
        try:
            spec = load_spec(file)
        except SpecError as error:
            errors.append(error)
            continue

        clash = _clash(spec, file, names, flow_ids)
        if clash is not None:
            errors.append(clash)
            continue
        names[spec.name] = file
        if spec.flow_id is not None:
            flow_ids[spec.flow_id] = file
        specs.append(spec)

    return SpecLoad(specs=tuple(specs), errors=tuple(errors))


_TOO_DEEP = "{where}: the JSON is nested too deeply to process; flatten the document"


def _where(path: Path | None, name: str) -> str:
    if path is not None:
        return printable_path(path)
    return name if is_unicode(name) else repr(name)


def _unreadable(path: Path, error: OSError) -> str:
    printable = printable_path(path)
    reason = error.strerror or str(error)
    if path.is_symlink() and not path.exists():
        return (
            f"{printable}: cannot read the file: {reason}: it is a symbolic link to "
            f"{printable_path(os.readlink(path))}, which does not exist or loops; "
            "fix or remove the link"
        )
    return f"{printable}: cannot read the file: {reason}"


def _clash(
    spec: FlowSpec, file: Path, names: dict[str, Path], flow_ids: dict[str, Path]
) -> SpecError | None:
    """Return the error of a spec whose name or explicit flow id an earlier one has."""
    first = names.get(spec.name)
    if first is not None:
        return SpecError(
            f"{printable_path(file)}: the flow name {spec.name!r} is already used by "
            f"{printable_path(first)}; rename one of the files, since the name is the "
            "storage namespace",
            path=file,
        )

    first = flow_ids.get(spec.flow_id) if spec.flow_id is not None else None
    if first is not None:
        return SpecError(
            f"{printable_path(file)}: the flow_id {spec.flow_id} is already adopted by "
            f"{printable_path(first)}; one flow can have only one spec, so remove the "
            "flow_id from one of them",
            path=file,
        )
    return None


def _spec_files(paths: Iterable[str | Path]) -> list[Path]:
    """List the spec files under *paths*, each (name, real file) pair once."""
    files: list[Path] = []
    seen: set[tuple[str, str]] = set()
    for path in map(Path, paths):
        for file in _files_of(path):
            # The same file under another name is another flow, so the name
            # is part of the key.
            key = (file.stem, os.path.realpath(file))
            if key in seen:
                log.debug("Skipping %s: it was already listed", printable_path(file))
                continue
            seen.add(key)
            files.append(file)
    return files


def _files_of(path: Path) -> list[Path]:
    if not path.is_dir():
        if not path.exists():
            raise SpecError(
                f"{printable_path(path)}: no such file or directory", path=path
            )
        return [path]

    found = sorted(item for item in path.glob(f"*{_SUFFIX}") if _is_spec_file(item))
    if not found:
        raise SpecError(
            f"{printable_path(path)}: the directory has no {_SUFFIX} spec files",
            path=path,
        )
    return found


def _is_spec_file(path: Path) -> bool:
    # A symbolic link that leads nowhere is kept, so that reading it reports
    # the broken link instead of dropping its flow without a word.
    return path.is_file() or (path.is_symlink() and not path.exists())


# Field checks. Each raises TypeError or ValueError naming the field;
# FlowSpec.from_mapping turns them into a SpecError naming the file.


def _parse(name: str, data: Mapping[str, Any], path: Path | None) -> FlowSpec:
    unknown = sorted(set(data) - SPEC_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the allowed keys are {', '.join(sorted(SPEC_KEYS))}"
        )
    if data.get("definition") is None:
        raise ValueError("missing 'definition': a spec needs the flow definition")
    definition = _check_object(data["definition"], "'definition'")

    return FlowSpec(
        name=name,
        definition=check_definition(definition, "'definition'"),
        title=_optional(data, "title", _check_text),
        input_schema=_optional(data, "input_schema", _check_object),
        subtitle=_optional(data, "subtitle", _check_text),
        description=_optional(data, "description", _check_text),
        keywords=_optional(data, "keywords", _check_strings),
        group=_optional(data, "group", _check_group),
        subscription_id=_optional(data, "subscription_id", check_uuid),
        flow_id=_optional(data, "flow_id", check_uuid),
        roles=_roles(data),
        run=_optional(data, "run", _check_run) or RunDefaults(),
        source=_optional(data, "source", _check_object),
        path=path,
    )


def _optional(data: Mapping[str, Any], field: str, check: Any, prefix: str = "") -> Any:
    """Return None for a missing or null field, else the checked value."""
    value = data.get(field)
    if value is None:
        return None
    return check(value, repr(prefix + field))


def _check_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, got {json_type_name(value)}")
    return value


def _check_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{field} must be a JSON object, got {json_type_name(value)}")
    return check_json_object(value, field)


def _check_strings(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError(
            f"{field} must be a list of strings, got {json_type_name(value)}"
        )
    for item in value:
        if not isinstance(item, str):
            raise TypeError(
                f"{field} must be a list of strings, but it contains {json_type_name(item)}: {item!r}"
            )
    return tuple(value)


def _check_group(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(
            f"{field} must be a group id string, got {json_type_name(value)}"
        )
    return group_urn(value).rsplit(":", 1)[1]


def _roles(data: Mapping[str, Any]) -> dict[str, list[str]]:
    listed = {
        field: data[field] for field in FLOW_ROLE_FIELDS if data.get(field) is not None
    }
    for field, value in listed.items():
        if not isinstance(value, list):
            raise TypeError(
                f"{field!r} must be a list of principal URNs, got {json_type_name(value)}"
            )
    return check_role_lists(listed, FLOW_ROLE_FIELDS)


def _check_run(value: Any, field: str) -> RunDefaults:
    if not isinstance(value, Mapping):
        raise TypeError(f"{field} must be a JSON object, got {json_type_name(value)}")
    unknown = sorted(set(value) - RUN_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"in {field}; the allowed keys are {', '.join(sorted(RUN_KEYS))}"
        )
    return RunDefaults(
        label=_optional(value, "label", _check_text, "run."),
        tags=_optional(value, "tags", _check_strings, "run."),
        body=_optional(value, "body", _check_object, "run."),
    )
