"""Identifiers and secrets drawn from one seedable random generator."""

from __future__ import annotations

import random
import uuid

import attrs

__all__ = ["IdSource"]


@attrs.define
class IdSource:
    """A generator of UUIDs and token strings.

    Seed it to make every id an emulator hands out repeat from run to run.

    Attributes:
        rng: The random generator behind every value.
    """

    rng: random.Random = attrs.field(factory=random.Random)

    def uuid(self) -> str:
        """Return a new random (version 4) UUID as text."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self) -> str:
        """Return a new opaque token of 256 random bits as hex text."""
        return f"{self.rng.getrandbits(256):064x}"
