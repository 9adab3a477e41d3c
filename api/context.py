"""Per-request context: who is asking, what they may see, and DataLoaders that batch graph reads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Engine
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.auth import Principal
from graph.risk.settings import RiskSettings
from graph.risk_views import RiskViews
from graph.views import NetworkViews
from schema.tables import Role
from streams.topics import Topics

COMMERCIAL_FIELDS = ("share", "unitPrice", "annualVolume", "currency")
"""Fields of a supply link a partner sees only on links it is a party to."""


class ClientError(GraphQLError):
    """An error whose message is meant for the client (never masked)."""


class Forbidden(ClientError):
    """The caller's role or scope does not allow this."""


@dataclass
class Loaders:
    views: NetworkViews
    enterprise: DataLoader[str, dict[str, Any] | None] = field(init=False)
    suppliers: DataLoader[str, list[dict[str, Any]]] = field(init=False)
    customers: DataLoader[str, list[dict[str, Any]]] = field(init=False)
    kpis: DataLoader[str, dict[str, Any] | None] = field(init=False)

    def __post_init__(self) -> None:
        self.enterprise = DataLoader(load_fn=self.views.enterprises)
        self.suppliers = DataLoader(load_fn=self.views.suppliers)
        self.customers = DataLoader(load_fn=self.views.customers)
        self.kpis = DataLoader(load_fn=self.views.kpis)


@dataclass(frozen=True)
class Limits:
    max_tiers: int = 8
    partner_tiers: int = 3
    max_disrupted: int = 5_000
    """Most enterprises a what-if may take out (a region's members count)."""
    max_affected: int = 20_000
    """Most downstream enterprises a what-if, sourcing report or critical-nodes view loads."""


# (events, caller) -> result; the caller has ``role`` and ``source`` (connectors.http_ingest.Caller)
IngestFn = Callable[[Sequence[bytes | dict[str, Any]], Any], Awaitable[Any]]


class Context(BaseContext):
    """What resolvers get: the principal, batched views, scope checks, and the adapters they may use."""

    def __init__(
        self,
        *,
        principal: Principal | None,
        views: NetworkViews,
        limits: Limits | None = None,
        engine: Engine | None = None,
        ingest: IngestFn | None = None,
        risk_store_factory: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.principal = principal
        self.views = views
        self.limits = limits or Limits()
        self.engine = engine
        self.ingest = ingest
        self._risk_store_factory = risk_store_factory
        self.loaders = Loaders(views)
        self._scope: set[str] | None = None
        self._scope_lock = asyncio.Lock()
        self.consumer_factory: Callable[[str], Any] | None = None
        """topic -> an unstarted aiokafka consumer without a group (subscriptions)."""
        self.topics: Topics = Topics()
        self.connection_params: dict[str, Any] | None = None

    # -- roles -------------------------------------------------------------------------------------

    def require(self, *roles: Role) -> Principal:
        """The principal if its role is one of ``roles``; ``Forbidden`` naming the role otherwise."""
        p = self.principal
        if p is None:
            raise Forbidden("authentication required: send an API key or a JWT")
        if p.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"role {p.role.value} may not do this (allowed: {allowed})")
        return p

    def check_tiers(self, tiers: int) -> None:
        if not 1 <= tiers <= self.limits.max_tiers:
            raise ClientError(f"tiers must be between 1 and {self.limits.max_tiers}, got {tiers}")

    # -- partner scope -----------------------------------------------------------------------------

    @property
    def is_partner(self) -> bool:
        return self.principal is not None and self.principal.role is Role.PARTNER

    async def scope(self) -> set[str] | None:
        """Enterprise ids a partner may see (its network to ``partner_tiers`` both ways); None = all."""
        if not self.is_partner:
            return None
        async with self._scope_lock:
            if self._scope is None:
                assert self.principal is not None
                assert self.principal.enterprise_id is not None
                self._scope = await self.views.neighbourhood(
                    self.principal.enterprise_id, tiers=self.limits.partner_tiers
                )
        return self._scope

    async def scope_list(self) -> list[str] | None:
        s = await self.scope()
        return sorted(s) if s is not None else None

    async def check_in_scope(self, enterprise_id: str) -> None:
        s = await self.scope()
        if s is not None and enterprise_id not in s:
            own = self.principal.enterprise_id if self.principal else "?"
            raise Forbidden(
                f"enterprise {enterprise_id} is outside your network "
                f"({self.limits.partner_tiers} tiers around {own})"
            )

    def redact(self, link: dict[str, Any]) -> list[str]:
        """Null a link's commercial fields unless the caller may see them; the names of those hidden."""
        if not self.is_partner or self.principal is None:
            return []
        own = self.principal.enterprise_id
        if own in (link.get("supplierId"), link.get("buyerId")):
            return []
        for f in COMMERCIAL_FIELDS:
            link[f] = None
        return list(COMMERCIAL_FIELDS)

    async def restrict_network(
        self, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """For a partner: only nodes in its scope, edges among them, others' terms redacted."""
        s = await self.scope()
        if s is None:
            return nodes, edges
        kept = [n for n in nodes if n["id"] in s]
        out = []
        for e in edges:
            if e["supplierId"] in s and e["buyerId"] in s:
                e = dict(e)
                hidden = self.redact(e)
                if hidden:
                    e["redacted"] = hidden
                out.append(e)
        return kept, out

    # -- risk --------------------------------------------------------------------------------------

    def risk_store(self) -> Any:
        if self._risk_store_factory is None:
            raise ClientError("risk views are not configured on this server")
        return self._risk_store_factory()

    @property
    def risk_settings(self) -> RiskSettings:
        """The risk model's settings the server runs with (defaults when risk is not configured)."""
        if self._risk_store_factory is None:
            return RiskSettings()
        settings = getattr(self.risk_store(), "settings", None)
        return settings if isinstance(settings, RiskSettings) else RiskSettings()

    @property
    def risk_views(self) -> RiskViews:
        return RiskViews(self.views.driver, database=self.views.database, timeout_s=self.views.timeout_s)

    async def incidents_list(self, *, state: str | None, enterprise_id: str | None, limit: int) -> list[Any]:
        from sqlmodel import Session

        from graph.risk import incidents
        from schema.tables import IncidentState

        if self.engine is None:
            raise ClientError("incidents are not configured on this server")
        try:
            st = IncidentState(state) if state else None
        except ValueError:
            raise ClientError(
                f"unknown incident state {state!r}: one of {', '.join(s.value for s in IncidentState)}"
            ) from None
        engine = self.engine

        def run() -> list[Any]:
            with Session(engine) as session:
                return incidents.list_incidents(session, state=st, enterprise_id=enterprise_id, limit=limit)

        return await asyncio.to_thread(run)
