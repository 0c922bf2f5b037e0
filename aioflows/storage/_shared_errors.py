"""Copies of one exception for each task that shares a read or a write."""

from __future__ import annotations

import copy

__all__ = ["copy_error"]


def copy_error(error: BaseException) -> BaseException:
    """Return a copy of ``error`` for one waiting task to raise.

    Tasks that share an operation raise copies, because raising one
    exception object in several tasks would mix their tracebacks. The copy
    keeps the cause, the context and the traceback of the original. An
    exception that cannot be copied is returned as it is.
    """
    try:
        clone = copy.copy(error)
    except Exception:
        return error

    clone.__cause__ = error.__cause__
    clone.__context__ = error.__context__
    clone.__suppress_context__ = error.__suppress_context__
    return clone.with_traceback(error.__traceback__)
