"""The base class of every manager: session, tokens, storage and scopes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar

import attrs
from globus_sdk.scopes import Scope

from .._session import Session
from ..auth import TokenProvider
from ..storage import Storage

__all__ = ["ServiceManager"]

log = logging.getLogger(__name__)


def _check_name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"name must be a non-empty string, got {value!r}")


@attrs.define(eq=False)
class ServiceManager:
    """Domain logic for one Globus service, on a shared Session.

    A manager built on a Session uses the Session's token provider and
    storage unless it is given its own. A manager built without a Session
    creates one on first use and closes it in ``aclose()`` or at the end of
    ``async with``. A Session that was passed in is left open for its owner.

    Args:
        session: The Session to send requests through; None creates one.
        storage: A storage for this manager only; None uses the Session's.
        tokens: A token provider for this manager only; None uses the
            Session's.
        name: The storage namespace of this manager; subclasses derive one
            when None.
    """

    service: ClassVar[str] = ""

    _session: Session | None = attrs.field(default=None, kw_only=True, repr=False)
    _storage: Storage | None = attrs.field(default=None, kw_only=True, repr=False)
    _tokens: TokenProvider | None = attrs.field(default=None, kw_only=True, repr=False)
    _name: str | None = attrs.field(default=None, kw_only=True, validator=_check_name)
    _owns_session: bool = attrs.field(default=False, init=False, repr=False)

    @property
    def name(self) -> str:
        """The storage namespace of this manager."""
        return self._name or self._default_name()

    @property
    def session(self) -> Session:
        """The Session in use, created on first access when none was given."""
        if self._session is None:
            self._session = Session(tokens=self._tokens, storage=self._storage)
            self._owns_session = True
            log.debug("Manager %r created its own Session", self.name)
        return self._session

    @property
    def storage(self) -> Storage:
        """This manager's own storage, else the Session's."""
        if self._storage is not None:
            return self._storage
        return self.session.storage

    @property
    def tokens(self) -> TokenProvider:
        """This manager's own token provider, else the Session's."""
        if self._tokens is not None:
            return self._tokens
        return self.session.tokens

    def set_storage(self, storage: Storage, replace: bool = True) -> None:
        """Give this manager its own storage.

        Args:
            storage: The storage to use from now on.
            replace: False keeps a storage set earlier and ignores *storage*.
        """
        if self._storage is not None and not replace:
            return
        self._storage = storage

    def set_token_provider(self, provider: TokenProvider, replace: bool = True) -> None:
        """Give this manager its own token provider and register its scopes.

        Args:
            provider: The token provider to use from now on.
            replace: False keeps a provider set earlier and ignores *provider*.
        """
        if self._tokens is not None and not replace:
            return
        self._tokens = provider
        self._register_scopes()

    def required_scopes(self) -> list[Scope]:
        """Return the scopes this manager's requests need, as globus-sdk objects."""
        return [
            scope
            for scopes in self._scopes_by_resource_server().values()
            for scope in scopes
        ]

    def _scopes_by_resource_server(self) -> Mapping[str, list[Scope]]:
        """Return the needed scopes keyed by the resource server they belong to."""
        return {}

    def _register_scopes(self) -> None:
        """Tell the token provider every scope this manager needs so far."""
        provider = self.tokens
        for resource_server, scopes in self._scopes_by_resource_server().items():
            provider.require_scopes(resource_server, scopes)

    async def _request_object(
        self,
        method: str,
        path: str,
        *,
        resource_server: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a request to this manager's service; return its JSON object body.

        The request uses this manager's token provider, which first learns
        every scope this manager needs, so a LoginRequired raised by the very
        first request lists them.

        Raises:
            APIError: The successful response's body is not a JSON object.
        """
        self._register_scopes()
        return await self.session.request_object(
            method,
            self.service,
            path,
            resource_server=resource_server,
            json=json,
            params=params,
            tokens=self.tokens,
        )

    def _default_name(self) -> str:
        return type(self).__name__

    async def aclose(self) -> None:
        """Close the Session if this manager created it."""
        if self._owns_session and self._session is not None:
            await self._session.aclose()

    async def __aenter__(self) -> ServiceManager:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
