"""The data map for officials: the network by region (city) and by industry — enterprises, supply
links, delivery performance, risk distribution, critical-material concentration (``graph.data_map``).

A partner gets the data map of its own network (its scope, ``api.policy``): enterprises in it, links
with both ends in it, and concentration weighed by links, since others' volumes are hidden from it.
Every figure is an aggregate of what the partner may already read one enterprise at a time.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import ClientError
from api.policy import Action
from graph.data_map import RISK_BUCKETS, AreaFigures, DataMapFigures, MaterialSupply, aggregate


@strawberry.type(description="Enterprises whose risk score lies in [low, high) (the last bin includes 1).")
class RiskBucket:
    low: float
    high: float
    enterprises: int


@strawberry.type(description="One region's share of a material's current supply.")
class SupplyShare:
    region: str
    share: float


@strawberry.type(
    description="A critical material: its supply is concentrated by supplier region (HHI and the top "
    "region's share at or above the risk model's thresholds)."
)
class CriticalMaterial:
    sku: str
    name: str | None
    category: str | None
    suppliers: int
    hhi: float = strawberry.field(description="Herfindahl-Hirschman index over region shares, 0..1")
    top_region: str
    top_share: float
    regions: list[SupplyShare]


def _material(m: MaterialSupply) -> CriticalMaterial:
    return CriticalMaterial(
        sku=m.sku,
        name=m.name,
        category=m.category,
        suppliers=m.suppliers,
        hhi=round(m.hhi, 6),
        top_region=m.top_region,
        top_share=round(m.top_share, 6),
        regions=[SupplyShare(region=r, share=round(s, 6)) for r, s in m.region_shares.items()],
    )


def _histogram(a: AreaFigures) -> list[RiskBucket]:
    width = 1.0 / RISK_BUCKETS
    return [
        RiskBucket(low=round(i * width, 6), high=round((i + 1) * width, 6), enterprises=n)
        for i, n in enumerate(a.risk_histogram)
    ]


@strawberry.interface(description="The figures of one area: a region, an industry or the whole network.")
class AreaKpis:
    key: str = strawberry.field(description="The region or industry ('' when enterprises have none)")
    enterprises: int
    links: int = strawberry.field(description="Current supply links with at least one end in the area")
    links_out: int = strawberry.field(description="Current supply links whose supplier is in the area")
    links_in: int = strawberry.field(description="Current supply links whose buyer is in the area")
    deliveries90d: int = strawberry.field(description="Deliveries of the area's suppliers, last 90 days")
    otif_rate90d: float | None = strawberry.field(
        description="Share of those deliveries on time and in full (null without deliveries)"
    )
    mean_risk_score: float | None
    unscored: int = strawberry.field(description="Enterprises the risk engine has not scored")
    risk_histogram: list[RiskBucket]


def _fields(a: AreaFigures) -> dict[str, Any]:
    otif = a.otif_rate90d
    mean = a.mean_risk_score
    return {
        "key": a.key,
        "enterprises": a.enterprises,
        "links": a.links,
        "links_out": a.links_out,
        "links_in": a.links_in,
        "deliveries90d": a.deliveries90d,
        "otif_rate90d": None if otif is None else round(otif, 6),
        "mean_risk_score": None if mean is None else round(mean, 6),
        "unscored": a.unscored,
        "risk_histogram": _histogram(a),
    }


@strawberry.type(description="The figures of a region (a city, as enterprises' `region` names it).")
class RegionKpis(AreaKpis):
    critical_materials: list[CriticalMaterial] = strawberry.field(
        description="Critical materials whose largest supplier region is this one, largest share first"
    )


@strawberry.type(description="The figures of an industry.")
class IndustryKpis(AreaKpis):
    pass


@strawberry.type(description="The figures of the whole network (of the caller's network for a partner).")
class NetworkKpis(AreaKpis):
    pass


@strawberry.type(description="The data map: the network by region and by industry.")
class DataMap:
    as_of: date
    partner_of: strawberry.ID | None = strawberry.field(
        description="For a partner: its enterprise (the figures cover its network only); null otherwise"
    )
    weighting: str = strawberry.field(
        description="How material supply is weighed: 'volume' (annual volume, else share) or 'links' "
        "(each link alike: another's volumes are hidden from you)"
    )
    totals: NetworkKpis
    regions: list[RegionKpis] = strawberry.field(
        description="Every region with enterprises or links, by name"
    )
    industries: list[IndustryKpis] = strawberry.field(description="Every industry, by name")
    figures: strawberry.Private[DataMapFigures]

    @strawberry.field(description="Critical materials of the network, most concentrated first.")
    def critical_materials(self, first: int = 100) -> list[CriticalMaterial]:
        if not 1 <= first <= 1000:
            raise ClientError(f"first must be between 1 and 1000, got {first}")
        return [_material(m) for m in self.figures.critical[:first]]


def to_data_map(figures: DataMapFigures, *, as_of: date, partner_of: str | None, weighting: str) -> DataMap:
    """The GraphQL answer of computed figures."""
    return DataMap(
        as_of=as_of,
        partner_of=strawberry.ID(partner_of) if partner_of else None,
        weighting=weighting,
        totals=NetworkKpis(**_fields(figures.totals)),
        regions=[
            RegionKpis(**_fields(a), critical_materials=[_material(m) for m in a.critical_materials])
            for a in figures.regions.values()
        ],
        industries=[IndustryKpis(**_fields(a)) for a in figures.industries.values()],
        figures=figures,
    )


@strawberry.type
class DataMapQuery:
    @strawberry.field(
        description="The data map for officials: enterprises, current supply links, delivery performance "
        "(OTIF, 90 days), risk distribution and critical-material concentration — network-wide, per "
        "region and per industry, aggregated in Neo4j. A partner gets the figures of its own network "
        "(`partnerOf` says so), concentration weighed by links."
    )
    async def data_map(self, info: Info[Context, None], as_of: date | None = None) -> DataMap:
        ctx = info.context
        policy = ctx.policy
        await policy.authorize(Action.READ_NETWORK)
        day = as_of or date.today()
        settings = ctx.risk_settings
        weighting = "links" if policy.is_partner else "volume"
        figures = await aggregate(
            ctx.views.driver,
            database=ctx.views.database,
            as_of=day,
            scope=policy.visible_list(),
            by_links=policy.is_partner,
            hhi_threshold=settings.hhi_threshold,
            share_threshold=settings.region_share_threshold,
            timeout_s=ctx.views.timeout_s,
        )
        return to_data_map(figures, as_of=day, partner_of=policy.own_enterprise, weighting=weighting)


__all__ = ["DataMap", "DataMapQuery", "to_data_map"]
