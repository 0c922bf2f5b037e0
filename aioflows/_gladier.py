"""Adopt flows that Gladier deployed, by importing the ids Gladier recorded.

Gladier keeps its state in an INI file with one section per Gladier client.
A section with a deployed flow has the options ``flow_id`` and
``flow_checksum``. Once those two values are in aioflows' storage, a flow
spec takes over the same flow, so its id, run history and consents stay.
The INI is read with :mod:`configparser` and never written.

The first sync after an import updates the flow once, because aioflows'
checksum also covers the title and role lists. Later syncs leave it alone.
"""

from __future__ import annotations

import configparser
import enum
import logging
from collections.abc import Mapping
from pathlib import Path

import anyio
import attrs

from ._errors import AioflowsError
from ._principals import check_uuid
from ._printable import printable_path
from .managers._flows import CHECKSUM_KEY, FLOW_ID_KEY
from .storage import Storage

__all__ = [
    "AdoptOutcome",
    "AdoptResult",
    "GladierFlow",
    "adopt_gladier",
    "read_gladier_config",
]

log = logging.getLogger(__name__)

# configparser copies the options of its default section into every other
# section. No real section name can contain a NUL, so none is treated so.
_NO_DEFAULT_SECTION = "\0"


class AdoptOutcome(str, enum.Enum):
    """The outcome of importing one Gladier section."""

    ADOPTED = "adopted"
    ALREADY_ADOPTED = "already-adopted"
    CONFLICT = "conflict"
    INVALID = "invalid"


@attrs.frozen
class GladierFlow:
    """The flow state of one Gladier section.

    Attributes:
        section: The section name in the Gladier INI file.
        flow_id: The deployed flow's id as Gladier recorded it.
        flow_checksum: Gladier's checksum of what it deployed, or None.
    """

    section: str
    flow_id: str
    flow_checksum: str | None


@attrs.frozen
class AdoptResult:
    """The result of importing one Gladier section.

    Attributes:
        section: The Gladier section.
        name: The aioflows storage namespace it was imported into.
        flow_id: The flow id from the section.
        outcome: ``adopted``, ``already-adopted`` (the same id was stored),
            ``conflict`` (another id is stored; nothing written) or
            ``invalid`` (the section's flow id is not a UUID).
        message: Why a section was not adopted, else None.
    """

    section: str
    name: str
    flow_id: str
    outcome: AdoptOutcome
    message: str | None = None


def read_gladier_config(path: str | Path) -> tuple[GladierFlow, ...]:
    """Read the sections that have a ``flow_id`` from a Gladier INI file.

    This blocks; :func:`adopt_gladier` calls it from a worker thread.
    Other options of the file (tokens among them) are neither returned nor
    logged.

    Raises:
        AioflowsError: The file cannot be read, is not UTF-8 or is not valid
            INI.
    """
    path = Path(path).expanduser()
    printable = printable_path(path)
    parser = configparser.ConfigParser(
        interpolation=None, default_section=_NO_DEFAULT_SECTION
    )
    try:
        with path.open(encoding="utf-8") as file:
            parser.read_file(file)
    except OSError as error:
        raise AioflowsError(
            f"{printable}: cannot read the Gladier config: {error.strerror}"
        ) from None
    except UnicodeDecodeError as error:
        # The position is left out: the decoder counts it from the start of
        # its last buffer, not of the file.
        raise AioflowsError(
            f"{printable}: the Gladier config is not valid UTF-8 ({error.reason}); "
            "save it as UTF-8"
        ) from None
    except configparser.Error as error:
        first_line = str(error).splitlines()[0]
        raise AioflowsError(
            f"{printable}: not a valid Gladier INI file: {first_line}"
        ) from None

    flows: list[GladierFlow] = []
    for section in parser.sections():
        flow_id = parser.get(section, "flow_id", fallback="").strip()
        if not flow_id:
            continue
        checksum = parser.get(section, "flow_checksum", fallback="").strip() or None
        flows.append(
            GladierFlow(section=section, flow_id=flow_id, flow_checksum=checksum)
        )
    return tuple(flows)


async def adopt_gladier(
    path: str | Path,
    storage: Storage,
    *,
    names: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> tuple[AdoptResult, ...]:
    """Import the flow ids and checksums of a Gladier INI file into *storage*.

    Each section with a ``flow_id`` is stored under the namespace of the
    same name, or under ``names[section]``. A namespace that already contains
    another flow id, stored before or by an earlier section of this import,
    is left alone and reported as a conflict. A dry run predicts the same
    outcomes as the import. Name the spec file after the namespace
    (``NAME.json``) so that its sync takes over the flow.

    Args:
        path: The Gladier INI file (often ``~/.gladier-secrets.cfg``).
        storage: The aioflows storage to write to.
        names: Namespace per section, for sections named unlike their spec.
        dry_run: Report what would be imported without writing.

    Raises:
        AioflowsError: The file cannot be read or is not valid INI.
        ValueError: *names* mentions a section the file does not have.
    """
    flows = await anyio.to_thread.run_sync(read_gladier_config, path)
    names = dict(names or {})
    unknown = sorted(set(names) - {flow.section for flow in flows})
    if unknown:
        raise ValueError(
            f"{path}: no section with a flow_id named {', '.join(map(repr, unknown))}; "
            f"the sections with one are {', '.join(flow.section for flow in flows) or 'none'}"
        )

    # The sections this import adopted, or would adopt in a dry run, by
    # namespace. A dry run writes nothing, so later sections look here first.
    adopted: dict[str, AdoptResult] = {}
    results = []
    for flow in flows:
        name = names.get(flow.section, flow.section)
        result = await _adopt_one(flow, name, storage, adopted, dry_run)
        if result.outcome is AdoptOutcome.ADOPTED:
            adopted[name] = result
        results.append(result)
    return tuple(results)


async def _adopt_one(
    flow: GladierFlow,
    name: str,
    storage: Storage,
    adopted: Mapping[str, AdoptResult],
    dry_run: bool,
) -> AdoptResult:
    try:
        flow_id = check_uuid(flow.flow_id, f"flow_id of section [{flow.section}]")
    except ValueError as error:
        return AdoptResult(
            flow.section, name, flow.flow_id, AdoptOutcome.INVALID, str(error)
        )

    earlier = adopted.get(name)
    stored = earlier.flow_id if earlier else await storage.get(name, FLOW_ID_KEY)
    if stored == flow_id:
        return AdoptResult(flow.section, name, flow_id, AdoptOutcome.ALREADY_ADOPTED)
    if stored is not None:
        message = _conflict_message(name, stored, earlier)
        log.warning("Gladier section [%s]: %s", flow.section, message)
        return AdoptResult(flow.section, name, flow_id, AdoptOutcome.CONFLICT, message)

    if not dry_run:
        values: dict[str, str] = {FLOW_ID_KEY: flow_id}
        if flow.flow_checksum is not None:
            values[CHECKSUM_KEY] = flow.flow_checksum
        await storage.set_many(name, values)
        log.info(
            "Gladier section [%s]: adopted flow %s as %r", flow.section, flow_id, name
        )
    return AdoptResult(flow.section, name, flow_id, AdoptOutcome.ADOPTED)


def _conflict_message(name: str, stored: object, earlier: AdoptResult | None) -> str:
    if earlier is not None:
        return (
            f"namespace {name!r} already gets flow {stored} from section "
            f"[{earlier.section}] of this file; map one of the two sections to "
            "another namespace"
        )
    return (
        f"namespace {name!r} already tracks flow {stored}; "
        "map the section to another namespace, or call purge_flow() on that "
        "namespace's FlowsManager to drop the stored id first"
    )
