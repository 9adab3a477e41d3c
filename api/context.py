"""Per-request context: who is asking, what they may see, and DataLoaders that batch graph reads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.auth import Principal
from api.errors import ClientError
from api.policy import Policy
from connectors.capacity_reports import capacity_sites
from graph.risk.settings import RiskSettings
from graph.risk_views import RiskViews
from graph.views import NetworkViews
from streams.topics import Topics

__all__ = ["Context", "IngestFn", "Limits", "Loaders"]


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
    """What resolvers get: the policy (who asks, what they may see), batched views, and the adapters."""

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
        self.views = views
        self.limits = limits or Limits()
        self.policy = Policy(principal, views, partner_tiers=self.limits.partner_tiers)
        self.engine = engine
        self.ingest = ingest
        self._risk_store_factory = risk_store_factory
        self.loaders = Loaders(views)
        self.consumer_factory: Callable[[str], Any] | None = None
        """topic -> an unstarted aiokafka consumer without a group (subscriptions)."""
        self.topics: Topics = Topics()
        self.connection_params: dict[str, Any] | None = None

    # -- authorization (api.policy) -------------------------------------------------------------------

    @property
    def principal(self) -> Principal | None:
        return self.policy.principal

    @principal.setter
    def principal(self, value: Principal | None) -> None:
        # A websocket is authenticated after its context is built (connection_init): a new policy.
        self.policy = Policy(value, self.views, partner_tiers=self.limits.partner_tiers)

    def check_tiers(self, tiers: int) -> None:
        if not 1 <= tiers <= self.limits.max_tiers:
            raise ClientError(f"tiers must be between 1 and {self.limits.max_tiers}, got {tiers}")

    # -- the record store -------------------------------------------------------------------------

    async def capacity_sites(
        self, pairs: Collection[tuple[str, str]]
    ) -> Mapping[tuple[str, str], list[dict[str, Any]]]:
        """The latest capacity report of each site of each (enterprise, sku), from the record store
        (``connectors.capacity_reports``); raises ``ClientError`` when no store is configured."""
        if not pairs:
            return {}
        if self.engine is None:
            raise ClientError("the record store is not configured on this server")
        return await asyncio.to_thread(capacity_sites, self.engine, pairs)

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
