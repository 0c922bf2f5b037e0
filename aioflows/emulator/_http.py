"""The request and response values that pass between the adapters and the state.

Both adapters (the in-process transport and the loopback server) turn what they
receive into an :class:`EmulatorRequest` and send back what the state machine
returns as an :class:`EmulatorResponse`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "EmulatorRequest",
    "EmulatorResponse",
    "ServiceError",
    "json_response",
    "service_error",
]

_JSON_HEADERS = (("content-type", "application/json"),)


@attrs.frozen
class EmulatorRequest:
    """One parsed HTTP request.

    Attributes:
        method: The HTTP method in upper case.
        path: The URL path, percent-decoded, without the query string.
        query: Query parameters. A repeated name keeps its values joined by commas.
        headers: Header names in lower case mapped to their values.
        body: The raw request body.
    """

    method: str
    path: str
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""


@attrs.frozen
class EmulatorResponse:
    """One HTTP response produced by the emulator.

    Attributes:
        status: The HTTP status code.
        body: The encoded response body.
        headers: Header name and value pairs, names in lower case.
    """

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON_HEADERS

    def json(self) -> Any:
        """Decode the body as JSON.

        Returns:
            The decoded document.
        """
        return json.loads(self.body)


def json_response(
    status: int, document: Any, headers: tuple[tuple[str, str], ...] = ()
) -> EmulatorResponse:
    """Build a JSON response.

    Args:
        status: The HTTP status code.
        document: A JSON-serialisable value.
        headers: Extra headers added after ``content-type``.

    Returns:
        The response with the document encoded as compact UTF-8 JSON.
    """
    body = json.dumps(document, separators=(",", ":")).encode()
    return EmulatorResponse(status, body, _JSON_HEADERS + headers)


class ServiceError(Exception):
    """A request that the emulated service rejects with an error response.

    Handlers raise it to stop early. The state machine turns it into the response.

    Attributes:
        response: The error response to send.
    """

    def __init__(self, response: EmulatorResponse) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response


def service_error(
    status: int, code: str, detail: Any, *, debug_id: str
) -> ServiceError:
    """Build an error in the shape used by the Flows and Groups services.

    The body is ``{"error": {"code": ..., "detail": ...}, "debug_id": ...}``.

    Args:
        status: The HTTP status code.
        code: The service's error code, such as ``"NOT_FOUND"``.
        detail: A message, or a list of ``{"loc", "msg", "type"}`` entries for
            validation errors.
        debug_id: An id that appears in the body, as the real service sends.

    Returns:
        The exception to raise.
    """
    document = {"error": {"code": code, "detail": detail}, "debug_id": debug_id}
    return ServiceError(json_response(status, document))
