"""Synthetic success documents for the action providers that flows call.

The emulator calls no action provider. An Action state gets a document shaped
like the provider's own response, chosen by the last part of the action URL, so
Choice rules and expressions that read ``details`` find plausible values: a
directory listing is empty, a stat finds a directory, a collection is a guest
collection, and a compute task returns one result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ._expressions import ExpressionError, evaluate
from ._ids import IdSource

__all__ = ["action_details"]

_DetailsBuilder = Callable[[dict[str, Any], IdSource], dict[str, Any]]


def _transfer(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {
        "DATA_TYPE": "task",
        "task_id": ids.uuid(),
        "type": "TRANSFER",
        "status": "SUCCEEDED",
        "nice_status": None,
        "label": parameters.get("label"),
        "files": 1,
        "files_transferred": 1,
        "bytes_transferred": 0,
        "faults": 0,
    }


def _delete(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    details = _transfer(parameters, ids)
    details.update(type="DELETE", files_transferred=0)
    return details


def _ls(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {
        "DATA_TYPE": "file_list",
        "DATA": [],
        "path": parameters.get("path", "/"),
        "endpoint": parameters.get("endpoint_id"),
        "length": 0,
        "total": 0,
    }


def _stat(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    path = str(parameters.get("path", "/"))
    return {
        "DATA_TYPE": "file",
        "name": path.rstrip("/").rpartition("/")[2],
        "type": "dir",
        "size": 0,
        "permissions": "0755",
    }


def _collection_info(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {
        "DATA_TYPE": "endpoint",
        "id": parameters.get("endpoint_id"),
        "display_name": "Emulated guest collection",
        "entity_type": "GCSv5_guest_collection",
    }


def _permission(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {
        "code": "Created",
        "access_id": ids.uuid(),
        "message": "Access rule created",
    }


def _mkdir(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {"code": "DirectoryCreated", "message": "The directory was created"}


def _compute(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    task_id = ids.uuid()
    output = "/emulator/compute-result"
    return {
        "task_id": task_id,
        "status": "SUCCEEDED",
        "result": [output],
        "results": [{"task_id": task_id, "status": "success", "output": output}],
    }


def _search_ingest(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {"task_id": ids.uuid(), "success": True, "num_documents_ingested": 1}


def _hello_world(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {"Hello": "World", "hello": parameters.get("echo_string")}


def _expression_eval(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    result_path = str(parameters.get("result_path") or "result")
    arguments = parameters.get("arguments")
    names = arguments if isinstance(arguments, dict) else {}
    try:
        value = evaluate(str(parameters.get("expression", "None")), names)
    except ExpressionError as exc:
        return {result_path: None, "error": str(exc)}
    return {result_path: value}


def _generic(parameters: dict[str, Any], ids: IdSource) -> dict[str, Any]:
    return {"message": "Synthetic success from the aioflows emulator"}


# Keyed by the last non-empty part of the action URL's path, lower case.
_BUILDERS: dict[str, _DetailsBuilder] = {
    "transfer": _transfer,
    "delete": _delete,
    "transferdelete": _delete,
    "ls": _ls,
    "stat": _stat,
    "collection_info": _collection_info,
    "manage_permission": _permission,
    "set_permission": _permission,
    "mkdir": _mkdir,
    "fxap": _compute,
    "automate": _compute,
    "ingest": _search_ingest,
    "hello_world": _hello_world,
    "expression_eval": _expression_eval,
}


def action_details(
    action_url: str, parameters: dict[str, Any], ids: IdSource
) -> dict[str, Any]:
    """Build the ``details`` of a synthetic successful action.

    Args:
        action_url: The state's ``ActionUrl`` (or legacy ``Resource``).
        parameters: The action's evaluated parameters.
        ids: The generator for task and rule ids.

    Returns:
        The provider-shaped details object.
    """
    parts = urlsplit(action_url)
    last = parts.path.rstrip("/").rpartition("/")[2].lower()
    builder = _BUILDERS.get(last)
    if builder is None and parts.hostname and parts.hostname.startswith("compute."):
        builder = _compute
    return (builder or _generic)(parameters, ids)
