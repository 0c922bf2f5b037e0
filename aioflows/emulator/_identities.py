"""The Globus Auth identities of the emulator."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Identity", "IdentityRegistry", "identity_urn"]


def identity_urn(identity_id: str) -> str:
    """Return the principal URN of an identity id."""
    return f"urn:globus:auth:identity:{identity_id}"


@attrs.frozen
class Identity:
    """A user or client identity.

    Attributes:
        id: The identity id, a UUID.
        username: The Globus username, such as ``user@example.org``.
        name: The display name.
        email: The e-mail address, or None for client identities.
    """

    id: str
    username: str
    name: str
    email: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the identity as a JSON object for the state file."""
        return attrs.asdict(self)


@attrs.define
class IdentityRegistry:
    """Identities by id, with one default user.

    Attributes:
        default_id: The id of the user that the static development token
            stands for.
        by_id: Every known identity.
    """

    default_id: str
    by_id: dict[str, Identity] = attrs.field(factory=dict)

    @classmethod
    def with_default_user(cls, identity_id: str) -> IdentityRegistry:
        """Create a registry whose only identity is the default user.

        Args:
            identity_id: The default user's identity id.

        Returns:
            The new registry.
        """
        user = Identity(
            id=identity_id,
            username="emulator-user@example.org",
            name="Emulator User",
            email="emulator-user@example.org",
        )
        return cls(default_id=identity_id, by_id={identity_id: user})

    def client(self, client_id: str) -> Identity:
        """Return the identity of a confidential client, adding it when new.

        Globus Auth gives a client an identity whose id equals the client id.

        Args:
            client_id: The client id.

        Returns:
            The client's identity.
        """
        found = self.by_id.get(client_id)
        if found is not None:
            return found

        identity = Identity(
            id=client_id,
            username=f"{client_id}@clients.auth.globus.org",
            name=f"Client {client_id}",
        )
        self.by_id[client_id] = identity
        return identity

    def get(self, identity_id: str) -> Identity:
        """Return an identity, or a placeholder for an id never seen."""
        found = self.by_id.get(identity_id)
        if found is not None:
            return found
        return Identity(id=identity_id, username=f"{identity_id}@example.org", name="")
