"""Managers: the domain logic of each Globus service, on a shared Session."""

from __future__ import annotations

from ._base import ServiceManager
from ._flows import FlowsManager, ensure_flow_registered

__all__ = ("FlowsManager", "ServiceManager", "ensure_flow_registered")
