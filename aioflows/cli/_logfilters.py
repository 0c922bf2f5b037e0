"""A log filter that keeps the batch commands from repeating login errors."""

from __future__ import annotations

import logging

from .._errors import LoginRequired

__all__ = ["BatchLogFilter"]


class BatchLogFilter(logging.Filter):
    """Drop warnings and errors about flows that failed with LoginRequired.

    ``sync`` and ``plan`` print one message for all of them at the end.
    Debug records, such as the traceback at ``-vv``, are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for a record to drop."""
        return not (
            record.levelno >= logging.WARNING and _mentions_login_required(record)
        )


def _mentions_login_required(record: logging.LogRecord) -> bool:
    arguments = record.args if isinstance(record.args, tuple) else ()
    if any(isinstance(argument, LoginRequired) for argument in arguments):
        return True
    return record.exc_info is not None and isinstance(record.exc_info[1], LoginRequired)
