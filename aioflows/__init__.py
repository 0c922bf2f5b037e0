"""aioflows: keep Globus Flows deployments in step with code, asynchronously.

Works on asyncio and trio through anyio. Start with :class:`Session` and
:class:`FlowsManager`.
"""

from __future__ import annotations

import logging

from ._checksum import PERMISSIVE_SCHEMA
from ._errors import (
    AioflowsError,
    APIError,
    FlowObsolete,
    LoginRequired,
    NetworkError,
    NoFlowRegistered,
    RegistrationError,
    RemoteError,
    RunFailed,
    StorageError,
)
from ._principals import group_urn, identity_urn
from ._retry import RetryPolicy
from ._session import RequestStats, Session, track_requests
from .auth import ScopeRegistry, StaticTokenProvider, TokenProvider
from .managers import FlowsManager, ServiceManager, ensure_flow_registered
from .storage import JSONFileStorage, MemoryStorage, SQLiteStorage, Storage

__all__ = (
    "PERMISSIVE_SCHEMA",
    "APIError",
    "AioflowsError",
    "FlowObsolete",
    "FlowsManager",
    "JSONFileStorage",
    "LoginRequired",
    "MemoryStorage",
    "NetworkError",
    "NoFlowRegistered",
    "RegistrationError",
    "RemoteError",
    "RequestStats",
    "RetryPolicy",
    "RunFailed",
    "SQLiteStorage",
    "ScopeRegistry",
    "ServiceManager",
    "Session",
    "StaticTokenProvider",
    "Storage",
    "StorageError",
    "TokenProvider",
    "ensure_flow_registered",
    "group_urn",
    "identity_urn",
    "track_requests",
)

__version__ = "0.1.0"

# Show reprs and docs under the public name, not the private module.
__version__ = "0.1.0"

# Show reprs and docs under the public name, not the private module.
for _name in __all__:
    _value = globals()[_name]
    if getattr(_value, "__module__", "").startswith("aioflows."):
        _value.__module__ = "aioflows"

logging.getLogger(__name__).addHandler(logging.NullHandler())
