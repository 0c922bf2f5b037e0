"""Async key-value storage for the state that managers keep between runs.

Every backend implements :class:`Storage`: JSON values under string keys,
grouped by namespace. :class:`MemoryStorage` keeps them in memory,
:class:`JSONFileStorage` in one human-readable JSON file and
:class:`SQLiteStorage` in one SQLite database. The two file backends are
safe to share between tasks, threads' event loops and processes on one
machine. The built-in backends also offer ``deploy_lock(namespace)``, an
exclusive section per namespace that managers hold while they deploy a flow.
"""

from __future__ import annotations

from ._jsonfile import JSONFileStorage
from ._memory import MemoryStorage
from ._protocol import JSONValue, Storage
from ._sqlite import SQLiteStorage

__all__ = [
    "JSONFileStorage",
    "JSONValue",
    "MemoryStorage",
    "SQLiteStorage",
    "Storage",
]
