"""The exceptions aioflows raises.

The tree::

    AioflowsError
    ├── StorageError                 a state file is unreadable or corrupt
    ├── RegistrationError            the deployed flow is not the local one
    │   ├── NoFlowRegistered         no flow id is known yet
    │   └── FlowObsolete             the stored checksum differs
    ├── LoginRequired                tokens or consents are missing
    ├── RunFailed                    a run ended with status FAILED
    └── RemoteError                  a request did not succeed
        ├── NetworkError             no usable HTTP response (wraps httpx)
        └── APIError                 an error status, or a body that is unusable

Usage errors (a malformed flow id, a bad role list) raise the built-in
``ValueError`` and ``TypeError`` with a message naming the value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIError",
    "AioflowsError",
    "FlowObsolete",
    "LoginRequired",
    "NetworkError",
    "NoFlowRegistered",
    "RegistrationError",
    "RemoteError",
    "RunFailed",
    "StorageError",
]

# Bodies, and the messages taken from them, are cut to this many characters
# in str(), so one error cannot flood a log. The attributes keep them whole.
_MAX_BODY_IN_MESSAGE = 500


class AioflowsError(Exception):
    """Root of every exception that aioflows raises on purpose."""


class StorageError(AioflowsError):
    """A storage backend cannot read or write its state.

    Attributes:
        path: The file involved, or None for backends without a file.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class RegistrationError(AioflowsError):
    """The flow deployed under a manager does not match its local definition."""

    def __init__(self, message: str, *, name: str, flow_id: str | None) -> None:
        super().__init__(message)
        self.name = name
        self.flow_id = flow_id


class NoFlowRegistered(RegistrationError):
    """No flow id is known for a manager: neither given nor stored."""


class FlowObsolete(RegistrationError):
    """The stored checksum differs from the checksum of the local flow."""


class LoginRequired(AioflowsError):
    """A request needs a token or consent that the token provider lacks.

    Attributes:
        required_scopes: Scope strings to request at the next login.
        resource_server: The resource server whose token was missing or
            rejected, when known.
        authorization_parameters: The service's authorization parameters
            (``session_message``, ``session_required_identities``, …) when
            it sent any, as a plain dictionary.
    """

    def __init__(
        self,
        message: str,
        *,
        required_scopes: Sequence[str] = (),
        resource_server: str | None = None,
        authorization_parameters: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.required_scopes = list(dict.fromkeys(required_scopes))
        self.resource_server = resource_server
        self.authorization_parameters = dict(authorization_parameters or {})


class RunFailed(AioflowsError):
    """A run reached the status FAILED.

    Attributes:
        run_id: The run's id.
        run: The run document as the service returned it.
        description: The service's description of the failure, if any.
    """

    def __init__(self, run: Mapping[str, Any]) -> None:
        self.run = dict(run)
        self.run_id = str(run.get("run_id", ""))
        description = run.get("details", {})
        if isinstance(description, Mapping):
            description = description.get("description")
        self.description = str(description) if description else None
        super().__init__(
            f"Run {self.run_id or '(unknown id)'} failed: "
            f"{self.description or 'the service gave no description'}"
        )


class RemoteError(AioflowsError):
    """A request to a Globus service did not succeed.

    Attributes:
        method: The HTTP method of the request.
        url: The full URL of the request.
    """

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class NetworkError(RemoteError):
    """No usable HTTP response arrived: connect failure, timeout, reset.

    The httpx exception is kept as ``__cause__``.
    """


class APIError(RemoteError):
    """A Globus service returned an HTTP error status or an unusable body.

    Built from any body: a JSON error document, a list of details, HTML,
    plain text or nothing at all.

    Attributes:
        http_status: The HTTP status code.
        code: The service's error code, or None when the body has none.
        messages: Every human-readable message found in the body.
        debug_id: The service's request or debug id, when it sent one.
        errors: The error subdocuments found in the body (empty when none).
        body: The parsed JSON body, or None when it was not JSON.
        text: The raw response text.
        headers: The response headers, names in lower case.
        authorization_scheme: The scheme of the request's Authorization
            header (``"Bearer"``), never the credential itself.
        problem: Why a response with a success status cannot be used (its
            body is not JSON, or not the expected JSON type), or None for
            an error status.
    """

    def __init__(
        self,
        *,
        method: str,
        url: str,
        http_status: int,
        text: str,
        headers: Mapping[str, str] | None = None,
        authorization_scheme: str | None = None,
        problem: str | None = None,
    ) -> None:
        self.http_status = http_status
        self.problem = problem
        self.headers = {name.lower(): value for name, value in (headers or {}).items()}
        self.text = text
        self.authorization_scheme = authorization_scheme
        self.body = _parse_json(text)
        # A successful response's body is a document, not an error report.
        self.errors = _error_documents(self.body) if problem is None else []
        self.code = _find_code(self.body, self.errors)
        self.messages = _find_messages(self.body, self.errors)
        self.debug_id = _find_debug_id(self.body, self.headers)
        super().__init__(self._describe(method, url), method=method, url=url)

    def _describe(self, method: str, url: str) -> str:
        summary = f"{method} {url} returned HTTP {self.http_status}"
        if self.problem is not None:
            return _describe_problem(summary, self.problem, self.text)

        details: list[str] = []
        if self.code:
            details.append(f"code {_shorten(self.code)}")
        if self.messages:
            details.append(_join_messages(self.messages))
        elif self.body is None and self.text.strip():
            details.append(_shorten(self.text.strip()))
        if self.debug_id:
            details.append(f"debug id {_shorten(self.debug_id)}")

        if not details:
            return summary
        return f"{summary}: {', '.join(details)}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, url={self.url!r}, "
            f"http_status={self.http_status}, code={self.code!r}, "
            f"authorization_scheme={self.authorization_scheme!r})"
        )


def _describe_problem(summary: str, problem: str, text: str) -> str:
    body = text.strip()
    if not body:
        return f"{summary}, but {problem}. The body is empty."
    return f"{summary}, but {problem}. Body: {_shorten(body)}"


def _shorten(text: str) -> str:
    if len(text) <= _MAX_BODY_IN_MESSAGE:
        return text
    return text[:_MAX_BODY_IN_MESSAGE] + "…"


def _join_messages(messages: list[str]) -> str:
    """Join messages for str(), cut like a body, counting them when cut."""
    joined = "; ".join(messages)
    if len(joined) <= _MAX_BODY_IN_MESSAGE:
        return joined
    if len(messages) == 1:
        return _shorten(joined)
    return f"{_shorten(joined)} ({len(messages)} messages in all)"


def _parse_json(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        # A body nested too deeply to decode is kept as text, like any other
        # body that is not JSON.
        return None


def _error_documents(body: Any) -> list[dict[str, Any]]:
    """Collect the error subdocuments of the shapes Globus services send.

    Flows sends ``{"error": {...}}``, Groups and Auth send ``{"errors": [...]}``,
    and some endpoints send a bare document with ``code`` and ``detail``.
    """
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict):
        return []

    nested = body.get("error")
    if isinstance(nested, dict):
        return [nested]

    many = body.get("errors")
    if isinstance(many, list):
        return [item for item in many if isinstance(item, dict)]

    return [body]


def _find_code(body: Any, errors: list[dict[str, Any]]) -> str | None:
    candidates: list[Any] = []
    if isinstance(body, dict):
        candidates.append(body.get("code"))
    candidates.extend(error.get("code") for error in errors)

    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _find_messages(body: Any, errors: list[dict[str, Any]]) -> list[str]:
    messages: list[str] = []
    for error in errors:
        for field in ("message", "detail", "description", "title", "error"):
            messages.extend(_texts(error.get(field)))
    if isinstance(body, str) and body:
        messages.append(body)
    return list(dict.fromkeys(messages))


def _texts(value: Any) -> list[str]:
    """Flatten a message field: a string, or a list of validation details."""
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        found: list[str] = []
        for item in value:
            if isinstance(item, str) and item:
                found.append(item)
            elif isinstance(item, dict) and isinstance(item.get("msg"), str):
                location = _location(item.get("loc"))
                found.append(f"{location}: {item['msg']}" if location else item["msg"])
        return found
    return []


def _location(loc: Any) -> str:
    """Return a validation detail's ``loc`` (a list of keys) as dotted text.

    Services usually send a list; any other scalar is shown as it is, and
    null or a nested object is left out.
    """
    if isinstance(loc, list):
        return ".".join(str(part) for part in loc if not isinstance(part, (dict, list)))
    if isinstance(loc, (str, int, float)) and not isinstance(loc, bool):
        return str(loc)
    return ""


def _find_debug_id(body: Any, headers: Mapping[str, str]) -> str | None:
    if isinstance(body, dict):
        for field in ("debug_id", "request_id"):
            value = body.get(field)
            if isinstance(value, str) and value:
                return value
    return headers.get("x-request-id") or headers.get("x-globus-request-id")
