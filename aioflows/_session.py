"""The Session: one HTTP client, token provider and storage for many managers."""

from __future__ import annotations

import contextvars
import enum
import logging
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import anyio
import attrs
import httpx
from globus_sdk.config import get_service_url
from globus_sdk.scopes import AuthScopes, FlowsScopes, GroupsScopes

from ._errors import APIError, LoginRequired, NetworkError
from ._json import json_type_name
from ._paths import default_state_path
from ._retry import RetryPolicy, parse_retry_after
from ._transport import create_transport
from .auth import StaticTokenProvider, TokenProvider
from .storage import JSONFileStorage, Storage

__all__ = ["RequestStats", "Session", "track_requests"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = RetryPolicy()

# The resource server whose token authorises each service's own endpoints.
RESOURCE_SERVERS: Mapping[str, str] = {
    "flows": FlowsScopes.resource_server,
    "groups": GroupsScopes.resource_server,
    "auth": AuthScopes.resource_server,
}

# Error codes that mark a 403 as a request for new consent, not a refusal.
_CONSENT_CODES = frozenset({"MISSING_SCOPE", "ConsentRequired", "CONSENT_REQUIRED"})


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@attrs.define
class RequestStats:
    """Counts of HTTP attempts made while a :func:`track_requests` block ran.

    Every attempt counts, retries included.
    """

    attempts: int = 0


_current_stats: contextvars.ContextVar[RequestStats | None] = contextvars.ContextVar(
    "aioflows_request_stats", default=None
)


@contextmanager
def track_requests() -> Iterator[RequestStats]:
    """Count the HTTP attempts this task, and tasks it starts, make.

    Counting follows the context, so concurrent tasks each count their own.
    """
    stats = RequestStats()
    token = _current_stats.set(stats)
    try:
        yield stats
    finally:
        _current_stats.reset(token)


@attrs.define(init=False, eq=False)
class Session:
    """An HTTP connection pool, a token provider and a storage, shared.

    Build one per program, or one per web application's lifespan, and hand
    it to every manager. Base URLs come from
    ``globus_sdk.config.get_service_url``, so ``GLOBUS_SDK_ENVIRONMENT`` and
    ``GLOBUS_SDK_SERVICE_URL_<SERVICE>`` apply as they do to globus-sdk.

    The session is usable as soon as it is built. Close it with ``aclose()``
    or ``async with``; using it afterwards raises ``RuntimeError``.

    Args:
        tokens: Where access tokens come from. None gives an empty
            StaticTokenProvider, which raises LoginRequired on every request.
        storage: Where managers keep flow ids and checksums. None gives a
            JSONFileStorage at ``AIOFLOWS_STATE_FILE`` or, when that is
            unset, ``state.json`` in the user's data directory.
        environment: A Globus environment name (``"production"``,
            ``"preview"``, …); None reads ``GLOBUS_SDK_ENVIRONMENT``.
        transport: An httpx transport to send requests through, for tests and
            the emulator. None builds a pooled transport for real services.
        timeout: Seconds allowed for connecting, reading and writing, each.
        retries: A RetryPolicy, or the number of retries for the default one.
    """

    tokens: TokenProvider
    storage: Storage
    environment: str | None
    timeout: float
    retries: RetryPolicy
    _client: httpx.AsyncClient = attrs.field(repr=False)
    _base_urls: dict[str, str] = attrs.field(repr=False)
    _state: _State = attrs.field(repr=False)
    _rng: random.Random = attrs.field(repr=False)

    def __init__(
        self,
        *,
        tokens: TokenProvider | None = None,
        storage: Storage | None = None,
        environment: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: RetryPolicy | int = DEFAULT_RETRIES,
    ) -> None:
        if isinstance(retries, int):
            retries = RetryPolicy(retries=retries)
        if timeout <= 0:
            raise ValueError(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )

        self.tokens = tokens if tokens is not None else StaticTokenProvider()
        self.storage = (
            storage if storage is not None else JSONFileStorage(default_state_path())
        )
        self.environment = environment
        self.timeout = timeout
        self.retries = retries
        self._client = httpx.AsyncClient(
            transport=transport if transport is not None else create_transport(),
            timeout=timeout,
            follow_redirects=False,
        )
        self._base_urls = {}
        self._state = _State.OPEN
        self._rng = random.Random()

    @property
    def closed(self) -> bool:
        """Whether ``aclose()`` has run."""
        return self._state is _State.CLOSED

    async def __aenter__(self) -> Session:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. Closing twice does nothing."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        await self._client.aclose()
        log.debug("Session closed")

    def service_url(self, service: str) -> str:
        """Return the base URL of *service* (``"flows"``, ``"groups"``, ``"auth"``).

        The URL is looked up once per Session and kept.
        """
        url = self._base_urls.get(service)
        if url is None:
            url = get_service_url(service, self.environment)
            self._base_urls[service] = url
        return url

    async def request(
        self,
        method: str,
        service: str,
        path: str,
        *,
        resource_server: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        tokens: TokenProvider | None = None,
    ) -> httpx.Response:
        """Send a request to a Globus service and return its successful response.

        Args:
            method: The HTTP method.
            service: ``"flows"``, ``"groups"`` or ``"auth"``.
            path: The path below the service's base URL.
            resource_server: Whose token authorises the request; None means
                the service's own resource server.
            json: The JSON body, if any.
            params: Query parameters, if any.
            tokens: The token provider for this request; None means the
                Session's. Managers with a provider of their own pass it.

        Raises:
            RuntimeError: The session is closed.
            LoginRequired: No token, a token rejected with 401, or a 403
                that requests consent.
            APIError: Any other error status.
            NetworkError: No usable response, after the retries allowed.
        """
        self._ensure_open()
        method = method.upper()
        url = self._build_url(service, path)
        server = resource_server or RESOURCE_SERVERS.get(service, service)
        provider = tokens if tokens is not None else self.tokens

        refreshed = False
        retry_number = 0
        while True:
            token = await provider.get_token(server)
            try:
                response = await self._send_once(method, url, token, json, params)
            except httpx.TransportError as error:
                delay = self._delay_after_error(method, error, retry_number)
                if delay is None:
                    raise NetworkError(
                        f"{method} {url} failed: {type(error).__name__}: {error}",
                        method=method,
                        url=url,
                    ) from error
                retry_number += 1
                await self._wait_for_retry(
                    method, url, retry_number, delay, type(error).__name__
                )
                continue

            if response.is_success:
                return response

            if response.status_code == 401 and not refreshed:
                refreshed = True
                if await provider.token_rejected(server):
                    log.warning(
                        "%s %s: token rejected (HTTP 401), retrying with a new token",
                        method,
                        url,
                    )
                    continue

            delay = self._delay_after_status(method, response, retry_number)
            if delay is None:
                raise _error_for(method, url, server, response, provider)
            retry_number += 1
            await self._wait_for_retry(
                method, url, retry_number, delay, f"HTTP {response.status_code}"
            )

    async def request_json(
        self,
        method: str,
        service: str,
        path: str,
        *,
        resource_server: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        tokens: TokenProvider | None = None,
    ) -> Any:
        """Send a request like :meth:`request` and return its decoded JSON body.

        Raises:
            APIError: The successful response's body is not JSON, or is
                nested too deeply to decode. ``problem`` gives the reason.
        """
        response = await self.request(
            method,
            service,
            path,
            resource_server=resource_server,
            json=json,
            params=params,
            tokens=tokens,
        )
        return _decode_json(method.upper(), response)

    async def request_object(
        self,
        method: str,
        service: str,
        path: str,
        *,
        resource_server: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        tokens: TokenProvider | None = None,
    ) -> dict[str, Any]:
        """Send a request like :meth:`request` and return its JSON object body.

        Raises:
            APIError: The successful response's body is not JSON, or is JSON
                of another type than an object. ``problem`` gives the reason.
        """
        response = await self.request(
            method,
            service,
            path,
            resource_server=resource_server,
            json=json,
            params=params,
            tokens=tokens,
        )
        document = _decode_json(method.upper(), response)
        if not isinstance(document, dict):
            raise _unusable_body(
                method.upper(),
                response,
                f"its body is {json_type_name(document)}, not the JSON object "
                "this request returns",
            )
        return document

    def _ensure_open(self) -> None:
        if self._state is _State.CLOSED:
            raise RuntimeError(
                "This Session is closed; create a new Session to send more requests."
            )

    def _build_url(self, service: str, path: str) -> str:
        return self.service_url(service).rstrip("/") + "/" + path.lstrip("/")

    async def _send_once(
        self,
        method: str,
        url: str,
        token: str,
        json: Any,
        params: Mapping[str, Any] | None,
    ) -> httpx.Response:
        stats = _current_stats.get()
        if stats is not None:
            stats.attempts += 1

        response = await self._client.request(
            method,
            url,
            json=json,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )
        log.debug("%s %s -> HTTP %d", method, url, response.status_code)
        return response

    def _delay_after_error(
        self, method: str, error: httpx.TransportError, retry_number: int
    ) -> float | None:
        if retry_number >= self.retries.retries:
            return None
        if not self.retries.should_retry_error(method, error):
            return None
        return self.retries.backoff(retry_number + 1, self._rng)

    def _delay_after_status(
        self, method: str, response: httpx.Response, retry_number: int
    ) -> float | None:
        if retry_number >= self.retries.retries:
            return None
        if not self.retries.should_retry_status(method, response.status_code):
            return None

        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return self.retries.backoff(retry_number + 1, self._rng)
        if retry_after > self.retries.max_retry_after:
            log.warning(
                "%s %s: Retry-After of %.1f s exceeds the %.1f s limit, not retrying",
                method,
                response.request.url,
                retry_after,
                self.retries.max_retry_after,
            )
            return None
        return retry_after

    async def _wait_for_retry(
        self, method: str, url: str, retry_number: int, delay: float, reason: str
    ) -> None:
        log.warning(
            "%s %s: %s, retry %d of %d in %.2f s",
            method,
            url,
            reason,
            retry_number,
            self.retries.retries,
            delay,
        )
        await anyio.sleep(delay)


def _decode_json(method: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        problem = (
            "its body is not JSON. Check the service URL, and that no proxy "
            "or login page responds in the service's place"
        )
    except RecursionError:
        problem = "its body is JSON nested too deeply to decode"
    raise _unusable_body(method, response, problem)


def _unusable_body(method: str, response: httpx.Response, problem: str) -> APIError:
    return APIError(
        method=method,
        url=str(response.request.url),
        http_status=response.status_code,
        text=response.text,
        headers=response.headers,
        authorization_scheme="Bearer",
        problem=problem,
    )


def _error_for(
    method: str,
    url: str,
    resource_server: str,
    response: httpx.Response,
    tokens: TokenProvider,
) -> Exception:
    error = APIError(
        method=method,
        url=url,
        http_status=response.status_code,
        text=response.text,
        headers=response.headers,
        authorization_scheme="Bearer",
    )
    if response.status_code == 401 or _asks_for_consent(error):
        return _login_required(error, resource_server, tokens)
    return error


def _asks_for_consent(error: APIError) -> bool:
    if error.http_status != 403:
        return False
    if error.code in _CONSENT_CODES:
        return True
    return _authorization_parameters(error) is not None


def _authorization_parameters(error: APIError) -> dict[str, Any] | None:
    """Return the authorization parameters of an auth-requirements error body."""
    from globus_sdk.gare import to_gare

    documents: list[Any] = [error.body, *error.errors]
    for document in documents:
        if not isinstance(document, dict):
            continue
        try:
            gare = to_gare(document)
        except (TypeError, ValueError, KeyError):
            continue
        if gare is not None:
            parameters: dict[str, Any] = gare.authorization_parameters.to_dict()
            return parameters
    return None


def _login_required(
    error: APIError, resource_server: str, tokens: TokenProvider
) -> LoginRequired:
    parameters = _authorization_parameters(error) or {}
    known = [str(scope) for scope in tokens.required_scopes().get(resource_server, ())]
    scopes = [*parameters.get("required_scopes", []), *known]

    if error.http_status == 401:
        reason = f"the token for resource server {resource_server!r} was rejected"
    else:
        reason = f"resource server {resource_server!r} needs new consent"
    scopes = list(dict.fromkeys(scopes))
    if scopes:
        advice = f"Get a new token that covers these scopes: {', '.join(scopes)}"
    else:
        advice = f"Get a new token for resource server {resource_server!r}"
    login = LoginRequired(
        f"{error.method} {error.url}: {reason} (HTTP {error.http_status}). {advice}.",
        required_scopes=scopes,
        resource_server=resource_server,
        authorization_parameters=parameters,
    )
    login.__cause__ = error
    return login
