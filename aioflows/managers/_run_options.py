"""Building the body of a run request: labels, tags and role lists."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .._definitions import check_json_object
from .._principals import RUN_ROLE_FIELDS, check_role_lists, group_urn

__all__ = ["build_run_request", "fit_label"]

log = logging.getLogger(__name__)

# Shortened labels end with this marker so a reader sees they were cut.
_ELLIPSIS = ".."


def fit_label(label: str, max_length: int) -> str:
    """Cut *label* to *max_length* characters, ending a cut label with ``..``."""
    if len(label) <= max_length:
        return label
    return label[: max_length - len(_ELLIPSIS)] + _ELLIPSIS


def build_run_request(
    body: Mapping[str, Any] | None,
    *,
    label: str | None,
    tags: list[str] | None,
    run_kwargs: Mapping[str, Any],
    call_kwargs: Mapping[str, Any],
    globus_group: str | None,
    max_label_length: int,
) -> dict[str, Any]:
    """Return the JSON body of ``POST /flows/{id}/run``.

    Precedence, lowest first: the group's role lists, the manager's
    *run_kwargs*, the call's keyword arguments, then *label* and *tags*
    when given. Overriding a group default is logged as a warning.

    Raises:
        ValueError: A role list is invalid (see ``check_role_lists``), or a
            label or tags have the wrong type.
        TypeError: The body is not a mapping, or the body or a keyword
            argument contains a value JSON cannot carry.
    """
    if body is not None and not isinstance(body, Mapping):
        raise TypeError(
            f"the run body must be a mapping (the flow's input object), "
            f"got {type(body).__name__}: {body!r}"
        )
    # Checked here, before run_flow syncs, so a body httpx cannot send never
    # leaves a flow deployed and no run started.
    request: dict[str, Any] = {"body": check_json_object(body or {}, "the run body")}
    if globus_group is not None:
        urn = group_urn(globus_group)
        request.update({field: [urn] for field in RUN_ROLE_FIELDS})

    for source_name, source in (
        ("run_kwargs", run_kwargs),
        ("keyword arguments", call_kwargs),
    ):
        overridden = sorted(set(source) & set(RUN_ROLE_FIELDS))
        if overridden and globus_group is not None:
            log.warning(
                "Run %s %s override the role lists derived from globus_group",
                source_name,
                ", ".join(overridden),
            )
        request.update(source)
        request.update(check_role_lists(source, RUN_ROLE_FIELDS))

    if label is not None:
        request["label"] = label
    if tags is not None:
        request["tags"] = tags
    _apply_label_rule(request, max_label_length)
    _check_tags(request)
    return check_json_object(request, "the run request")


def _apply_label_rule(request: dict[str, Any], max_length: int) -> None:
    label = request.get("label")
    if label is None or label == "":
        request.pop("label", None)
        return
    if not isinstance(label, str):
        raise ValueError(
            f"label must be a string, got {type(label).__name__}: {label!r}"
        )
    request["label"] = fit_label(label, max_length)


def _check_tags(request: dict[str, Any]) -> None:
    tags = request.get("tags")
    if tags is None:
        return
    # A string, a mapping or a set is iterable too, but would not be sent
    # as the list the caller meant.
    if not isinstance(tags, (list, tuple)):
        raise ValueError(
            f"tags must be a list of strings, got {type(tags).__name__}: {tags!r}"
        )
    if not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"tags must be a list of strings, got {tags!r}")
    request["tags"] = list(tags)
