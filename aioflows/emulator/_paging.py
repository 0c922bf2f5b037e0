"""Marker pagination as the Flows service does it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from ._http import EmulatorRequest

__all__ = ["InvalidPageRequest", "page"]

T = TypeVar("T")


class InvalidPageRequest(ValueError):
    """A marker or page size that the service would reject."""


def page(
    items: Sequence[T], request: EmulatorRequest, *, default_limit: int, max_limit: int
) -> tuple[list[T], dict[str, Any]]:
    """Cut one page out of a sorted list.

    The page size comes from ``per_page`` or ``limit`` and the position from
    the opaque ``marker`` that the previous page returned.

    Args:
        items: Every matching item in order.
        request: The request whose query contains the paging parameters.
        default_limit: Page size when the request gives none.
        max_limit: Largest accepted page size.

    Returns:
        The page's items and the paging fields of the response:
        ``limit``, ``has_next_page`` and ``marker``.

    Raises:
        InvalidPageRequest: If the marker or page size is invalid.
    """
    limit = _limit(request, default_limit, max_limit)
    offset = _offset(request.query.get("marker"))
    end = offset + limit
    has_next = end < len(items)
    fields = {
        "limit": limit,
        "has_next_page": has_next,
        "marker": _marker(end) if has_next else None,
    }
    return list(items[offset:end]), fields


def _limit(request: EmulatorRequest, default_limit: int, max_limit: int) -> int:
    text = request.query.get("per_page") or request.query.get("limit")
    if text is None:
        return default_limit
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= max_limit:
        raise InvalidPageRequest(
            f"page size {text!r} is invalid: use an integer from 1 to {max_limit}"
        )
    return limit


def _marker(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "offset":
            raise ValueError(text)
        return max(int(number), 0)
    except (ValueError, binascii.Error) as exc:
        raise InvalidPageRequest(
            f"marker {marker!r} is invalid: pass the marker of the previous page unchanged"
        ) from exc
