"""The enterprise and its supply links: the types every view reaches, each checked against the caller's
network where it is resolved (``api.policy``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context


def to_date(v: Any) -> date | None:
    """A Neo4j or ISO date as a ``date``; ``None`` for anything else."""
    if isinstance(v, str):
        return date.fromisoformat(v)
    native = v.to_native() if v is not None and hasattr(v, "to_native") else v
    return native if isinstance(native, date) else None


@strawberry.type(description="Supplier performance over the rolling 30/90-day windows (from graph/kpis.py).")
class SupplierKpis:
    kpi_as_of: float | None
    deliveries30d: int | None
    deliveries90d: int | None
    on_time_rate30d: float | None
    on_time_rate90d: float | None
    in_full_rate30d: float | None
    in_full_rate90d: float | None
    otif_rate30d: float | None
    otif_rate90d: float | None
    lead_time_mean_days30d: float | None
    lead_time_mean_days90d: float | None
    lead_time_p90_days30d: float | None
    lead_time_p90_days90d: float | None
    quality_incidents30d: int | None
    quality_incidents90d: int | None
    quality_incident_rate30d: float | None
    quality_incident_rate90d: float | None
    open_orders: int | None
    days_of_cover: float | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> SupplierKpis:
        def g(k: str) -> Any:
            return r.get(k)

        return cls(
            kpi_as_of=g("kpiAsOf"),
            deliveries30d=g("deliveries30d"),
            deliveries90d=g("deliveries90d"),
            on_time_rate30d=g("onTimeRate30d"),
            on_time_rate90d=g("onTimeRate90d"),
            in_full_rate30d=g("inFullRate30d"),
            in_full_rate90d=g("inFullRate90d"),
            otif_rate30d=g("otifRate30d"),
            otif_rate90d=g("otifRate90d"),
            lead_time_mean_days30d=g("leadTimeMeanDays30d"),
            lead_time_mean_days90d=g("leadTimeMeanDays90d"),
            lead_time_p90_days30d=g("leadTimeP90Days30d"),
            lead_time_p90_days90d=g("leadTimeP90Days90d"),
            quality_incidents30d=g("qualityIncidents30d"),
            quality_incidents90d=g("qualityIncidents90d"),
            quality_incident_rate30d=g("qualityIncidentRate30d"),
            quality_incident_rate90d=g("qualityIncidentRate90d"),
            open_orders=g("openOrders"),
            days_of_cover=g("daysOfCover"),
        )


@strawberry.type(
    description="A company in the network: steel mill, refinery, OEM, logistics partner, ... Every field "
    "is checked against the caller's network where it is resolved: for a partner, links to "
    "enterprises outside its network are left out, and an enterprise outside it never shows more than "
    "its id."
)
class Enterprise:
    id: strawberry.ID
    row: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Enterprise:
        return cls(id=strawberry.ID(row["id"]), row=row)

    def _seen(self, info: Info[Context, None]) -> dict[str, Any]:
        return self.row if info.context.policy.sees(str(self.id)) else {}

    @strawberry.field
    def name(self, info: Info[Context, None]) -> str | None:
        return self._seen(info).get("name")

    @strawberry.field
    def industry(self, info: Info[Context, None]) -> str | None:
        return self._seen(info).get("industry")

    @strawberry.field
    def region(self, info: Info[Context, None]) -> str | None:
        return self._seen(info).get("region")

    @strawberry.field
    def country(self, info: Info[Context, None]) -> str | None:
        return self._seen(info).get("country")

    @strawberry.field
    def risk_score(self, info: Info[Context, None]) -> float | None:
        return self._seen(info).get("riskScore")

    async def _links(self, info: Info[Context, None], *, upstream: bool) -> list[SupplyLink]:
        policy, me = info.context.policy, str(self.id)
        if not policy.sees(me):
            return []
        loader = info.context.loaders.suppliers if upstream else info.context.loaders.customers
        return [
            SupplyLink.from_row(r, ctx=info.context, **{"buyer" if upstream else "supplier": me})
            for r in await loader.load(me)
            if policy.sees(r["partner"]["id"])
        ]

    @strawberry.field(description="Who supplies this enterprise (tier 1 upstream), one entry per sku.")
    async def suppliers(self, info: Info[Context, None]) -> list[SupplyLink]:
        return await self._links(info, upstream=True)

    @strawberry.field(description="Whom this enterprise supplies (tier 1 downstream), one entry per sku.")
    async def customers(self, info: Info[Context, None]) -> list[SupplyLink]:
        return await self._links(info, upstream=False)

    @strawberry.field(description="Supplier KPIs of this enterprise (over all its orders).")
    async def kpis(self, info: Info[Context, None]) -> SupplierKpis | None:
        if not info.context.policy.sees(str(self.id)):
            return None
        row = await info.context.loaders.kpis.load(str(self.id))
        return SupplierKpis.from_row(row) if row else None


@strawberry.type(description="A supply relationship for one material (sku) between two enterprises.")
class SupplyLink:
    partner: Enterprise
    sku: str
    share: float | None = strawberry.field(description="Share of the buyer's need for this sku, 0..1")
    lead_time_days: int | None
    unit_price: float | None
    annual_volume: float | None
    valid_from: date | None
    valid_to: date | None
    redacted: list[str] = strawberry.field(
        description="Commercial fields hidden from you (null above): another enterprise's terms"
    )
    risk_score: float | None = strawberry.field(
        default=None,
        description="Risk of this supply link, 0..1: its own KPIs and its supplier's score, times the "
        "buyer's dependency on it (docs/risk-model.md); null until the risk worker scored it",
    )
    risk_factors: JSON | None = strawberry.field(
        default=None,
        description="The link score's factors (performance, supplier, dependency) and their reasons; "
        "null when the commercial terms are redacted (the dependency reveals the share)",
    )
    risk_computed_at: float | None = strawberry.field(
        default=None, description="When the link's risk score was computed (epoch ms)"
    )

    @classmethod
    def from_row(
        cls, row: dict[str, Any], *, ctx: Context, supplier: str | None = None, buyer: str | None = None
    ) -> SupplyLink:
        link = dict(row["link"])
        link["supplierId"] = supplier or row["partner"]["id"]
        link["buyerId"] = buyer or row["partner"]["id"]
        hidden = ctx.policy.redact_link(link)
        return cls(
            partner=Enterprise.from_row(row["partner"]),
            sku=link["sku"],
            share=link.get("share"),
            lead_time_days=link.get("leadTimeDays"),
            unit_price=link.get("unitPrice"),
            annual_volume=link.get("annualVolume"),
            valid_from=to_date(link.get("validFrom")),
            valid_to=to_date(link.get("validTo")),
            redacted=hidden,
            risk_score=link.get("riskScore"),
            risk_factors=orjson.loads(link["riskFactors"])
            if link.get("riskFactors") and not hidden
            else None,
            risk_computed_at=link.get("riskComputedAt"),
        )


def enterprise_rows(rows: list[dict[str, Any]]) -> list[Enterprise]:
    """Enterprises of rows that name one (rows without an id are left out)."""
    return [Enterprise.from_row(r) for r in rows if r and r.get("id")]


__all__ = ["JSON", "Enterprise", "SupplierKpis", "SupplyLink", "enterprise_rows", "to_date"]
