"""Risk views: what-if disruption, sole-source and concentration report, critical nodes.

Each is computed per request on the part of the graph it needs (``graph.risk_views``); the pure
analyses of ``graph.risk`` run in a worker thread. A partner sees only its network (to
``partner_tiers`` tiers) and no other enterprise's shares or volumes: what-if lost shares of others
are hidden, and its concentration figures weigh every link alike instead of by volume.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.enterprise import Enterprise
from api.errors import ClientError
from api.network import Direction
from api.policy import Action
from api.records import decode_cursor, encode_cursor
from api.resourcing import SourcingOption
from graph.risk.structure import Concentration
from graph.risk.whatif import Exposure as ExposureFact
from graph.risk_views import (
    CriticalNodes,
    Scenario,
    ScenarioTooLarge,
    SourcingReport,
    critical_nodes,
    sourcing_report,
)


def _page(first: int, most: int = 5_000) -> int:
    if not 1 <= first <= most:
        raise ClientError(f"first must be between 1 and {most}, got {first}")
    return first


def _enterprise(row: dict[str, Any] | None, eid: str) -> Enterprise:
    return Enterprise.from_row(row or {"id": eid})


# -- what-if -----------------------------------------------------------------------------------------


@strawberry.type(description="Share of a buyer's supply of one sku lost in the scenario (0..1).")
class SkuShare:
    sku: str
    share: float | None = strawberry.field(description="null when hidden from you (another's terms)")


@strawberry.type(
    description="Enterprises producing or supplying a lost sku that keep running in the scenario, ranked by "
    "spare capacity for the lost volume, risk, distance, certification and lead time (best first)."
)
class SkuAlternatives:
    sku: str
    lost_per_day: float | None = strawberry.field(
        description="Quantity per day the buyer loses of the sku (null: hidden from you, or volumes unknown)"
    )
    suppliers: list[Enterprise]
    options: list[SourcingOption] = strawberry.field(
        description="The same enterprises with spare capacity and how much of the lost volume each covers"
    )


@strawberry.type(description="One downstream enterprise's exposure to a disruption (Simchi-Levi TTS/TTR).")
class Exposure:
    enterprise: Enterprise
    tier: int = strawberry.field(description="Supply links from the disrupted set along the cascade")
    lost_share: list[SkuShare]
    gap_starts_day: float | None = strawberry.field(
        description="Day its supply of the critical sku stops (null: never below the critical share)"
    )
    time_to_survive: float = strawberry.field(description="Days of cover of that sku")
    time_to_recover: float = strawberry.field(description="Days the gap lasts: D - gap start")
    shortfall_days: float = strawberry.field(description="max(0, time to recover - time to survive)")
    stops_supplying: bool = strawberry.field(description="It runs dry before the disruption ends")
    alternatives: list[SkuAlternatives]
    redacted: list[str] = strawberry.field(description="Fields hidden from you (another's terms)")
    cursor: str = strawberry.field(
        default="", description="Pass as `after` for the exposures that follow this one"
    )


@strawberry.type(description="How many enterprises a tier has affected, and how badly.")
class WhatIfTier:
    tier: int
    affected: int
    stop_supplying: int
    max_shortfall_days: float


@strawberry.type(description="A what-if disruption: who is affected downstream, tier by tier.")
class WhatIfResult:
    days: float
    tiers: int
    truncated: bool = strawberry.field(
        description="True when the closure was cut at maxAffected (the cascade beyond is not followed)"
    )
    disrupted: list[Enterprise]
    affected_count: int
    products: list[str] = strawberry.field(description="Skus whose supply is interrupted downstream")
    by_tier: list[WhatIfTier]
    all_exposures: strawberry.Private[list[Exposure]]

    @strawberry.field(
        description="Affected enterprises, most exposed first (optionally one tier); at most 5,000 a "
        "page: pass the last exposure's cursor as `after` (same scenario and tier) for the next."
    )
    def exposures(
        self, first: int = 100, tier: int | None = None, after: str | None = None
    ) -> list[Exposure]:
        _page(first)
        rows = self.all_exposures if tier is None else [e for e in self.all_exposures if e.tier == tier]
        key = decode_cursor(after, "exposures", 1)
        if key is not None:
            ids = [str(e.enterprise.id) for e in rows]
            if key[0] not in ids:
                raise ClientError("this cursor's enterprise is not in this scenario's exposures any more")
            rows = rows[ids.index(key[0]) + 1 :]
        return rows[:first]


def _exposure(e: ExposureFact, sc: Scenario, *, own: str | None, visible: Collection[str] | None) -> Exposure:
    hide = own is not None and e.enterprise != own
    alts = sc.alternatives.get(e.enterprise, {})
    keep = sc.alternatives_shown
    return Exposure(
        enterprise=_enterprise(sc.enterprises.get(e.enterprise), e.enterprise),
        tier=e.tier,
        lost_share=[SkuShare(sku=k, share=None if hide else v) for k, v in e.lost_share.items()],
        gap_starts_day=e.gap_starts_day,
        time_to_survive=e.time_to_survive,
        time_to_recover=e.time_to_recover,
        shortfall_days=e.shortfall_days,
        stops_supplying=e.stops_supplying,
        alternatives=[
            SkuAlternatives(
                sku=sku,
                lost_per_day=None if hide else sc.lost_per_day.get(e.enterprise, {}).get(sku),
                suppliers=[Enterprise.from_row(o.enterprise) for o in shown],
                options=[SourcingOption.of(o) for o in shown],
            )
            for sku, options in sorted(alts.items())
            for shown in [[o for o in options if visible is None or o.enterprise_id in visible][:keep]]
        ],
        redacted=["lostShare"] if hide else [],
        cursor=encode_cursor("exposures", (e.enterprise,)),
    )


def what_if_result(sc: Scenario, *, own: str | None, visible: Collection[str] | None) -> WhatIfResult:
    """The GraphQL answer of a scenario; for a partner (``own``, ``visible``) only its network."""
    facts = [e for e in sc.result.exposures if visible is None or e.enterprise in visible]
    exposures = [_exposure(e, sc, own=own, visible=visible) for e in facts]
    tiers: dict[int, list[ExposureFact]] = {}
    for e in facts:
        tiers.setdefault(e.tier, []).append(e)
    products = sc.result.products if visible is None else sorted({k for e in facts for k in e.lost_share})
    return WhatIfResult(
        days=sc.result.days,
        tiers=sc.tiers,
        truncated=sc.truncated,
        disrupted=[
            _enterprise(sc.enterprises.get(d), d)
            for d in sc.result.disrupted
            if visible is None or d in visible
        ],
        affected_count=len(facts),
        products=products,
        by_tier=[
            WhatIfTier(
                tier=t,
                affected=len(es),
                stop_supplying=sum(1 for e in es if e.stops_supplying),
                max_shortfall_days=max(e.shortfall_days for e in es),
            )
            for t, es in sorted(tiers.items())
        ],
        all_exposures=exposures,
    )


# -- sole sources and concentration ------------------------------------------------------------------


@strawberry.type(description="A (buyer, sku) with exactly one supplier.")
class SoleSourcedSku:
    sku: str
    buyer: Enterprise
    supplier: Enterprise
    cursor: str = strawberry.field(
        default="", description="Pass as `after` for the sole sources that follow this one"
    )


@strawberry.type
class RegionShare:
    region: str
    share: float


@strawberry.type(description="How concentrated one material's supply is by supplier region.")
class MaterialConcentration:
    sku: str
    hhi: float = strawberry.field(description="Herfindahl-Hirschman index over region shares, 0..1")
    top_region: str
    top_share: float = strawberry.field(description="The dominant region's share of supply")
    suppliers: int
    concentrated: bool = strawberry.field(
        description="HHI at or above the risk model's threshold and the top region over its share threshold"
    )
    regions: list[RegionShare]


@strawberry.type(description="Sole-sourced skus and supply concentration of a focal network or a product.")
class SourcingReportResult:
    focal_id: strawberry.ID | None
    product_sku: str | None
    tiers: int
    truncated: bool
    weighting: str = strawberry.field(
        description="'volume' (annual volume, else share) or 'links' (each link alike: another's "
        "volumes are hidden from you)"
    )
    skus: list[str]
    sole_source_count: int
    report: strawberry.Private[SourcingReport]
    hhi_threshold: strawberry.Private[float]
    share_threshold: strawberry.Private[float]

    @strawberry.field(
        description="Sole-sourced (buyer, sku) pairs, by sku then buyer; at most 5,000 a page: pass the "
        "last one's cursor as `after` for the next (keyset on sku, buyer)."
    )
    def sole_sources(self, first: int = 100, after: str | None = None) -> list[SoleSourcedSku]:
        r = self.report
        key = decode_cursor(after, "soleSources", 2)
        rows = r.sole_sources
        if key is not None:
            sku, buyer = str(key[0]), str(key[1])
            rows = [s for s in rows if (s.sku, s.buyer) > (sku, buyer)]
        return [
            SoleSourcedSku(
                sku=s.sku,
                buyer=_enterprise(r.enterprises.get(s.buyer), s.buyer),
                supplier=_enterprise(r.enterprises.get(s.supplier), s.supplier),
                cursor=encode_cursor("soleSources", (s.sku, s.buyer)),
            )
            for s in rows[: _page(first)]
        ]

    @strawberry.field(description="Per material, supply concentration by region; most concentrated first.")
    def concentration(self, first: int = 100) -> list[MaterialConcentration]:
        return [self._conc(c) for c in self.report.concentration[: _page(first)]]

    def _conc(self, c: Concentration) -> MaterialConcentration:
        return MaterialConcentration(
            sku=c.sku,
            hhi=round(c.hhi, 6),
            top_region=c.top_region,
            top_share=round(c.top_share, 6),
            suppliers=c.suppliers,
            concentrated=c.hhi >= self.hhi_threshold and c.top_share >= self.share_threshold,
            regions=[RegionShare(region=k, share=round(v, 6)) for k, v in c.region_shares.items()],
        )


# -- critical nodes ----------------------------------------------------------------------------------


@strawberry.type(description="An enterprise of a focal network with its structural measures.")
class CriticalNode:
    id: strawberry.ID
    name: str | None
    industry: str | None
    region: str | None
    risk_score: float | None
    tier: int
    cut_vertex: bool = strawberry.field(description="Removing it splits the network's material flow")
    betweenness: float = strawberry.field(description="Share of shortest supply paths through it, 0..1")


@strawberry.type(description="Cut vertices and the enterprises most supply paths run through.")
class CriticalNodesResult:
    focal_id: strawberry.ID
    direction: str
    tiers: int
    node_count: int
    truncated: bool
    method: str = strawberry.field(description="Betweenness: 'exact' or 'sampled:<k> pivots'")
    nodes: strawberry.Private[dict[str, dict[str, Any]]]
    facts: strawberry.Private[CriticalNodes]
    cuts: strawberry.Private[frozenset[str]]

    def _node(self, eid: str) -> CriticalNode:
        n = self.nodes[eid]
        return CriticalNode(
            id=strawberry.ID(eid),
            name=n.get("name"),
            industry=n.get("industry"),
            region=n.get("region"),
            risk_score=n.get("riskScore"),
            tier=n.get("tier", 0),
            cut_vertex=eid in self.cuts,
            betweenness=round(self.facts.betweenness.get(eid, 0.0), 6),
        )

    @strawberry.field(description="Cut vertices, nearest tier first.")
    def cut_vertices(self, first: int = 100) -> list[CriticalNode]:
        return [self._node(i) for i in self.facts.cut_vertices[: _page(first)] if i in self.nodes]

    @strawberry.field(description="Highest betweenness first (ties by id); zeros left out.")
    def top_betweenness(self, first: int = 20) -> list[CriticalNode]:
        ranked = sorted(
            (kv for kv in self.facts.betweenness.items() if kv[1] > 0 and kv[0] in self.nodes),
            key=lambda kv: (-kv[1], kv[0]),
        )
        return [self._node(i) for i, _ in ranked[: _page(first)]]


# -- queries -----------------------------------------------------------------------------------------


async def _focal_network(
    ctx: Context, focal: str, direction: str, tiers: int, as_of: date | None, max_enterprises: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool] | None:
    await ctx.policy.authorize(Action.READ_NETWORK)
    ctx.check_tiers(tiers)
    if not 1 <= max_enterprises <= ctx.limits.max_affected:
        raise ClientError(
            f"maxEnterprises must be between 1 and {ctx.limits.max_affected}, got {max_enterprises}"
        )
    await ctx.policy.check_in_scope(focal)
    found = await ctx.views.network(
        focal=focal, direction=direction, tiers=tiers, as_of=as_of or date.today(), max_nodes=max_enterprises
    )
    if found is None:
        return None
    nodes, edges = ctx.policy.restrict_network(found[0], found[1])
    return nodes, edges, found[2]


@strawberry.type
class RiskQuery:
    @strawberry.field(
        description="What-if disruption: take enterprises, the operators of facilities and/or a region out "
        "for `days` days; the affected downstream enterprises tier by tier with time-to-survive, "
        "time-to-recover and shortfall days, most exposed first, the affected products and alternative "
        "suppliers per sku. The cascade is followed `tiers` tiers down (at most maxAffected enterprises)."
    )
    async def what_if(
        self,
        info: Info[Context, None],
        days: float,
        enterprises: list[strawberry.ID] | None = None,
        facilities: list[strawberry.ID] | None = None,
        region: str | None = None,
        tiers: int = 4,
        as_of: date | None = None,
        max_affected: int = 5_000,
        alternatives: int = 3,
    ) -> WhatIfResult:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        ctx.check_tiers(tiers)
        named = [str(i) for i in enterprises or []]
        sites = [str(i) for i in facilities or []]
        if not (named or sites or region):
            raise ClientError("name what is disrupted: enterprises, facilities and/or region")
        if not 0 < days <= 3650:
            raise ClientError(f"days must be above 0 and at most 3650, got {days}")
        if not 1 <= max_affected <= ctx.limits.max_affected:
            raise ClientError(
                f"maxAffected must be between 1 and {ctx.limits.max_affected}, got {max_affected}"
            )
        if not 0 <= alternatives <= 20:
            raise ClientError(f"alternatives must be between 0 and 20, got {alternatives}")
        if len(named) + len(sites) > ctx.limits.max_disrupted:
            raise ClientError(f"name at most {ctx.limits.max_disrupted} enterprises and facilities")
        for eid in named:
            await ctx.policy.check_in_scope(eid)
        try:
            sc = await ctx.risk_views.what_if(
                enterprises=named,
                facilities=sites,
                region=region,
                days=days,
                tiers=tiers,
                as_of=as_of or date.today(),
                settings=ctx.risk_settings,
                max_disrupted=ctx.limits.max_disrupted,
                max_affected=max_affected,
                alternatives=alternatives,
                capacity=ctx.capacity_sites,
            )
        except ScenarioTooLarge as e:
            raise ClientError(str(e)) from None
        visible = ctx.policy.visible_ids()
        own = ctx.policy.own_enterprise
        return await asyncio.to_thread(what_if_result, sc, own=own, visible=visible)

    @strawberry.field(
        description="Sole-sourced skus (with their one supplier) and, per material, the HHI of supply by "
        "supplier region with the dominant region's share — for a focal enterprise's upstream network "
        "(`enterpriseId`, `tiers`) or a product's bill of materials (`productSku`: every current link "
        "supplying one of its components)."
    )
    async def sourcing_report(
        self,
        info: Info[Context, None],
        enterprise_id: strawberry.ID | None = None,
        product_sku: str | None = None,
        tiers: int = 3,
        as_of: date | None = None,
        max_enterprises: int = 5_000,
    ) -> SourcingReportResult | None:
        ctx = info.context
        if (enterprise_id is None) == (product_sku is None):
            raise ClientError("give exactly one of enterpriseId or productSku")
        day = as_of or date.today()
        weighting = "links" if ctx.policy.is_partner else "volume"
        if enterprise_id is not None:
            found = await _focal_network(ctx, str(enterprise_id), "UPSTREAM", tiers, day, max_enterprises)
            if found is None:
                return None
            nodes, edges, truncated = found
            # Suppliers of the outermost tier are not in the view: only inner tiers' buyers are judged.
            buyers = {n["id"] for n in nodes if n["tier"] < tiers}
        else:
            await ctx.policy.authorize(Action.READ_ALL)
            ctx.check_tiers(tiers)
            chain = await ctx.views.product_chain(
                sku=product_sku or "", tiers=tiers, as_of=day, max_nodes=2000
            )
            if not chain:
                return None
            skus = [r["material"]["sku"] for r in chain]
            nodes, edges, truncated = await ctx.risk_views.sku_links(
                skus, as_of=day, cap=ctx.limits.max_affected * 5
            )
            buyers = None
        if weighting == "links":
            edges = [{**e, "share": None, "annualVolume": None} for e in edges]
        report = await asyncio.to_thread(sourcing_report, nodes, edges, buyers=buyers, truncated=truncated)
        s = ctx.risk_settings
        return SourcingReportResult(
            focal_id=enterprise_id,
            product_sku=product_sku,
            tiers=tiers,
            truncated=report.truncated,
            weighting=weighting,
            skus=report.skus,
            sole_source_count=len(report.sole_sources),
            report=report,
            hhi_threshold=s.hhi_threshold,
            share_threshold=s.region_share_threshold,
        )

    @strawberry.field(
        description="Critical nodes of a focal enterprise's network (upstream or downstream to `tiers`): "
        "cut vertices of the material flow and the enterprises with the highest betweenness."
    )
    async def critical_nodes(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        direction: Direction = Direction.UPSTREAM,
        tiers: int = 3,
        as_of: date | None = None,
        max_enterprises: int = 5_000,
    ) -> CriticalNodesResult | None:
        ctx = info.context
        found = await _focal_network(ctx, str(id), direction.value, tiers, as_of, max_enterprises)
        if found is None:
            return None
        nodes, edges, truncated = found
        facts = await asyncio.to_thread(critical_nodes, nodes, edges, ctx.risk_settings)
        return CriticalNodesResult(
            focal_id=id,
            direction=direction.value,
            tiers=tiers,
            node_count=len(nodes),
            truncated=truncated,
            method=facts.method,
            nodes={n["id"]: n for n in nodes},
            facts=facts,
            cuts=frozenset(facts.cut_vertices),
        )


__all__ = ["RiskQuery", "what_if_result"]
