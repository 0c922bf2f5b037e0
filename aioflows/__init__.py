"""aioflows: keep Globus Flows deployments in step with code, asynchronously.

Works on asyncio and trio through anyio. Start with :class:`Session` and
:class:`FlowsManager`.
"""

from __future__ import annotations

import logging

from ._checksum import PERMISSIVE_SCHEMA
from ._drift import COMPARED_FIELDS, FieldDrift, RemoteState, compare_flow
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
from ._gladier import AdoptOutcome, AdoptResult, adopt_gladier
from ._plan import FlowPlan, PlanReport, plan
from ._principals import group_urn, identity_urn
from ._reconcile import FlowResult, Outcome, ReconcileReport, reconcile
from ._retry import RetryPolicy
from ._session import RequestStats, Session, track_requests
from ._specs import FlowSpec, RunDefaults, SpecError, SpecLoad, load_spec, load_specs
from .auth import ScopeRegistry, StaticTokenProvider, TokenProvider
from .managers import FlowsManager, ServiceManager, ensure_flow_registered
from .storage import JSONFileStorage, MemoryStorage, SQLiteStorage, Storage

__all__ = (
    "COMPARED_FIELDS",
    "PERMISSIVE_SCHEMA",
    "APIError",
    "AdoptOutcome",
    "AdoptResult",
    "AioflowsError",
    "FieldDrift",
    "FlowObsolete",
    "FlowPlan",
    "FlowResult",
    "FlowSpec",
    "FlowsManager",
    "JSONFileStorage",
    "LoginRequired",
    "MemoryStorage",
    "NetworkError",
    "NoFlowRegistered",
    "Outcome",
    "PlanReport",
    "ReconcileReport",
    "RegistrationError",
    "RemoteError",
    "RemoteState",
    "RequestStats",
    "RetryPolicy",
    "RunDefaults",
    "RunFailed",
    "SQLiteStorage",
    "ScopeRegistry",
    "ServiceManager",
    "Session",
    "SpecError",
    "SpecLoad",
    "StaticTokenProvider",
    "Storage",
    "StorageError",
    "TokenProvider",
    "adopt_gladier",
    "compare_flow",
    "ensure_flow_registered",
    "group_urn",
    "identity_urn",
    "load_spec",
    "load_specs",
    "plan",
    "reconcile",
    "track_requests",
)

__version__ = "0.1.0"

# Show reprs and docs under the public name, not the private module.
for _name in __all__:
    _value = globals()[_name]
    if getattr(_value, "__module__", "").startswith("aioflows."):
        _value.__module__ = "aioflows"

logging.getLogger(__name__).addHandler(logging.NullHandler())
