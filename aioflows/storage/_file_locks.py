"""Blocking acquisition of an inter-process file lock that a cancelled task can stop."""

from __future__ import annotations

import time

import anyio.from_thread
import filelock

__all__ = ["LOCK_POLL_SECONDS", "acquire_file_lock"]

# How often a thread waiting for another process's lock checks for cancellation.
LOCK_POLL_SECONDS = 0.05


def acquire_file_lock(lock: filelock.BaseFileLock, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``lock`` in a worker thread.

    Short waits in a loop let a cancelled task stop waiting within about
    LOCK_POLL_SECONDS.

    Returns:
        True once the lock is held, False when ``timeout`` passed first.

    Raises:
        OSError: The lock file cannot be opened or created.
        anyio.get_cancelled_exc_class(): The task that started the thread was
            cancelled. The lock is not held then.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL_SECONDS)
        except filelock.Timeout:
            pass
        else:
            return True

        anyio.from_thread.check_cancelled()
        if time.monotonic() >= deadline:
            return False
