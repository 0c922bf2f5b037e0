"""When a failed request may be sent again, and how long to wait first."""

from __future__ import annotations

import email.utils
import random
import time

import attrs
import httpx

__all__ = ["RetryPolicy"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# Statuses that mean "try again later" without saying the request failed.
_RETRYABLE_GATEWAY_STATUSES = frozenset({502, 503, 504})

# Failures raised before a single byte of the request left the client, so
# even a POST is safe to send again.
_NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


@attrs.frozen
class RetryPolicy:
    """Bounded, jittered exponential backoff for requests.

    The n-th retry waits ``min(max_delay, initial_delay * 2 ** (n - 1))``
    seconds plus a random share of up to *jitter* seconds. A ``Retry-After``
    header replaces that wait when it is no longer than *max_retry_after*.

    Args:
        retries: How many times one request may be sent again; 0 disables
            retries.
        initial_delay: Seconds before the first retry.
        max_delay: Upper bound in seconds for the exponential part.
        jitter: Upper bound in seconds for the random part.
        max_retry_after: The longest ``Retry-After`` in seconds that is
            waited out; a longer one ends the retries and the error is raised.
    """

    retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    initial_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))
    jitter: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_retry_after: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Return the seconds to wait before retry number *retry_number* (from 1)."""
        exponential = min(
            self.max_delay, self.initial_delay * 2.0 ** (retry_number - 1)
        )
        share = rng.random() if rng is not None else random.random()
        return exponential + share * self.jitter

    def should_retry_error(self, method: str, error: httpx.TransportError) -> bool:
        """Decide whether a request that raised *error* may be sent again."""
        if isinstance(error, _NOT_SENT_ERRORS):
            return True
        return method in IDEMPOTENT_METHODS

    def should_retry_status(self, method: str, status: int) -> bool:
        """Decide whether a request that returned *status* may be sent again.

        A 429 is a refusal, so any method may repeat it. A gateway error may
        hide a request that was applied, so only idempotent methods repeat.
        """
        if status == 429:
            return True
        return status in _RETRYABLE_GATEWAY_STATUSES and method in IDEMPOTENT_METHODS


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the wait in seconds that a ``Retry-After`` header requests.

    Both forms of the header are read: a number of seconds and an HTTP
    date. Returns None for a missing or unreadable header.
    """
    if value is None:
        return None
    value = value.strip()

    try:
        return max(0.0, float(value))
    except ValueError:
        pass

    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)
