"""Who is acting, handed from the edge (HTTP, CLI, job) down to the services,
so that audit rows name the actor and the request without services knowing
about HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    id: str
    """``key:<api key id>``, ``party:<party id>``, ``system:<job>`` or ``cli``."""
    scopes: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None
    party_id: str | None = None
    """Set when the actor is a party token: it may touch only this party's resources."""
    platform_id: str | None = None
    """The platform the actor is bound to (``sika.core.tenancy``); None for a global operator."""

    @property
    def is_party(self) -> bool:
        return self.party_id is not None

    @property
    def api_key_id(self) -> str | None:
        """The id of the API key acting, if an API key is."""
        kind, _, key_id = self.id.partition(":")
        return key_id if kind == "key" and key_id else None


def system_actor(job: str) -> Actor:
    return Actor(id=f"system:{job}", scopes=frozenset({"admin"}))
