"""Token providers: where the Session gets its access tokens."""

from __future__ import annotations

from ._provider import TokenProvider
from ._scopes import ScopeRegistry
from ._static import StaticTokenProvider

__all__ = ("ScopeRegistry", "StaticTokenProvider", "TokenProvider")
