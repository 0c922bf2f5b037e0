"""The view a client has of a run record at a given moment.

A run record contains every log entry with its offset in seconds from the run's
start. At a moment ``now``, the entries whose offsets have passed are
visible, except that a run waiting for consent shows nothing past its pause
point until it is resumed.
"""

from __future__ import annotations

import copy
from typing import Any

from ._clock import format_timestamp

__all__ = ["cancel_at", "log_entry", "status_at", "visible_entries"]


def status_at(record: dict[str, Any], now: float) -> dict[str, Any]:
    """Return the status, details and completion time a client sees at a moment.

    Args:
        record: The run record.
        now: The emulator time in seconds since the Unix epoch.

    Returns:
        ``{"status", "details", "completed"}``, where ``completed`` is the
        completion time in seconds since the Unix epoch or None.
    """
    visible = visible_entries(record, now)
    if len(visible) == len(record["entries"]):
        return {
            "status": record["status"],
            "details": record["final_details"],
            "completed": record["start"] + record["entries"][-1]["offset"],
        }

    pause = record.get("pause")
    if pause is not None and len(visible) == pause["index"]:
        return {
            "status": "INACTIVE",
            "details": _consent_details(record),
            "completed": None,
        }

    last = visible[-1]
    details = {
        "code": last["code"],
        "description": last["description"],
        "details": last["details"],
        "time": format_timestamp(record["start"] + last["offset"]),
    }
    return {"status": "ACTIVE", "details": details, "completed": None}


def visible_entries(record: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """Return the log entries that have happened by a moment."""
    elapsed = now - record["start"]
    pause = record.get("pause")
    limit = pause["index"] if pause is not None else len(record["entries"])
    return [entry for entry in record["entries"][:limit] if entry["offset"] <= elapsed]


def cancel_at(record: dict[str, Any], now: float) -> None:
    """End a run at a moment: drop the entries still to come and add the cancellation.

    Args:
        record: A run record that has not ended; it is changed in place.
        now: The emulator time in seconds since the Unix epoch.
    """
    elapsed = now - record["start"]
    entries = visible_entries(record, now)
    entries.append(
        {
            "offset": elapsed,
            "code": "FlowCanceled",
            "description": "The run was canceled by a user",
            "details": {},
        }
    )
    final = {key: value for key, value in entries[-1].items() if key != "offset"}
    final["time"] = format_timestamp(now)
    record.update(entries=entries, status="ENDED", final_details=final, pause=None)


def log_entry(record: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """Return one stored entry as the run log API shows it."""
    return {
        "time": format_timestamp(record["start"] + entry["offset"]),
        "code": entry["code"],
        "description": entry["description"],
        "details": copy.deepcopy(entry["details"]),
    }


def _consent_details(record: dict[str, Any]) -> dict[str, Any]:
    scope = record["flow_scope"]
    return {
        "code": "ConsentRequired",
        "description": "The run needs new consent to go on; grant it, then resume the run",
        "details": {
            "code": "ConsentRequired",
            "required_scope": scope,
            "authorization_parameters": {
                "session_message": "The run needs new consent",
                "required_scopes": [scope],
            },
        },
    }
