"""One message for the LoginRequired errors of a command, with what to do next."""

from __future__ import annotations

from collections.abc import Iterable

from .._errors import APIError, LoginRequired
from ._runtime import TOKEN_VARIABLE

__all__ = ["login_message"]


def login_message(
    errors: Iterable[BaseException | None], *, emulator: bool
) -> str | None:
    """Describe the LoginRequired errors among *errors*, one line per resource server.

    Args:
        errors: The errors of a command, such as one per flow of a batch;
            None and other exceptions are skipped.
        emulator: Whether the token came from the embedded emulator rather
            than from the environment variable.

    Returns:
        The message, or None when no error is a LoginRequired.
    """
    by_server: dict[str | None, list[LoginRequired]] = {}
    for error in errors:
        if isinstance(error, LoginRequired):
            by_server.setdefault(error.resource_server, []).append(error)
    if not by_server:
        return None

    lines = [
        _describe(server, found, emulator=emulator)
        for server, found in by_server.items()
    ]
    return "\n".join(lines)


def _describe(
    server: str | None, errors: list[LoginRequired], *, emulator: bool
) -> str:
    token = (
        "the embedded emulator's development token"
        if emulator
        else f"the access token in {TOKEN_VARIABLE}"
    )
    where = f"resource server {server!r}" if server else "a resource server"
    flows = f" for {len(errors)} flows" if len(errors) > 1 else ""
    status = _http_status(errors[0])

    if status == 401:
        problem = f"{_sentence(token)} was rejected by {where} (HTTP 401){flows}."
    elif status == 403:
        problem = (
            f"{_sentence(where)} needs a consent that {token} lacks (HTTP 403){flows}."
        )
    else:
        # No response behind it: the token provider itself raised.
        repeated = f" {len(errors)} flows failed this way." if len(errors) > 1 else ""
        return f"{errors[0]}{repeated}"

    scopes = list(
        dict.fromkeys(scope for error in errors for scope in error.required_scopes)
    )
    advice = _advice(server, scopes, emulator=emulator)
    return f"{problem} {advice}" if advice else problem


def _advice(server: str | None, scopes: list[str], *, emulator: bool) -> str:
    if emulator:
        return f"Required scopes: {', '.join(scopes)}." if scopes else ""

    needed = (
        f"a token for the scopes {', '.join(scopes)}"
        if scopes
        else f"a new token for resource server {server!r}"
    )
    return (
        "Interactive login is not available yet: get "
        f"{needed} with globus-sdk or the Globus CLI, set {TOKEN_VARIABLE} to it "
        "and run the command again, or add --emulator to work offline."
    )


def _http_status(error: LoginRequired) -> int | None:
    cause = error.__cause__
    return cause.http_status if isinstance(cause, APIError) else None


def _sentence(text: str) -> str:
    # str.capitalize() would lower-case the rest, variable names included.
    return text[:1].upper() + text[1:]
