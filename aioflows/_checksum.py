"""The checksum that decides whether a deployed flow is up to date."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["PERMISSIVE_SCHEMA", "flow_checksum"]

# The input schema sent when none is given: any input object is accepted.
PERMISSIVE_SCHEMA: Mapping[str, Any] = {"additionalProperties": True}


def flow_checksum(
    definition: Mapping[str, Any],
    schema: Mapping[str, Any],
    flow_kwargs: Mapping[str, Any] | None = None,
) -> str:
    """Return the SHA-256 hex digest of a flow's definition, schema and fields.

    Each part is serialised with ``json.dumps(..., sort_keys=True)`` and the
    three strings are joined and encoded as UTF-8, the same digest Gladier
    computes, so checksums that Gladier stored can be compared directly. Key
    order does not change the result.
    """
    text = (
        json.dumps(definition, sort_keys=True)
        + json.dumps(schema, sort_keys=True)
        + json.dumps(flow_kwargs or {}, sort_keys=True)
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
