"""GraphQL types and queries of the supply-chain views.

Large views (tiered networks, paths, product chains) are one Cypher round trip each and return lean
scalar nodes/edges; enterprise fields on nested objects go through per-request DataLoaders (no N+1).
"""

from __future__ import annotations

import base64
import enum
from datetime import date
from typing import Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import ClientError, Context
from api.policy import COMMERCIAL_FIELDS, Action


def _date(v: Any) -> date | None:
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
            valid_from=_date(link.get("validFrom")),
            valid_to=_date(link.get("validTo")),
            redacted=hidden,
            risk_score=link.get("riskScore"),
            risk_factors=orjson.loads(link["riskFactors"])
            if link.get("riskFactors") and not hidden
            else None,
            risk_computed_at=link.get("riskComputedAt"),
        )


# -- connections -------------------------------------------------------------------------------------


@strawberry.enum(description="Orders of the enterprise search; every order is stable (ties by id)")
class EnterpriseOrder(enum.Enum):
    ID = "ID"
    NAME = "NAME"
    RISK_DESC = "RISK_DESC"


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class EnterpriseEdge:
    cursor: str
    node: Enterprise


@strawberry.type(description="A Relay connection of enterprises with keyset cursors.")
class EnterpriseConnection:
    total_count: int
    edges: list[EnterpriseEdge]
    page_info: PageInfo


def encode_cursor(order: str, key: Any, eid: str) -> str:
    """An opaque cursor: the sort order, the sort key and the id of the last row seen."""
    return base64.urlsafe_b64encode(orjson.dumps([order, key, eid])).decode()


def decode_cursor(cursor: str, order: str) -> tuple[Any, str]:
    """(sort key, id) of a cursor made for ``order``; ``ClientError`` for anything else."""
    try:
        o, key, eid = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception:
        raise ClientError("invalid cursor: pass an endCursor this API returned") from None
    if o != order or not isinstance(eid, str):
        raise ClientError(f"cursor was made for orderBy {o}, not {order}")
    return key, eid


# -- lean network views ------------------------------------------------------------------------------


@strawberry.type(description="An enterprise in a tiered view (scalars only).")
class NetworkNode:
    id: strawberry.ID
    name: str | None
    industry: str | None
    region: str | None
    country: str | None
    risk_score: float | None
    tier: int = strawberry.field(description="Hops from the focal enterprise (0 = the focal one)")


@strawberry.type(description="A supply link in a view (scalars only); commercial fields may be redacted.")
class NetworkEdge:
    supplier_id: strawberry.ID
    buyer_id: strawberry.ID
    sku: str
    share: float | None
    lead_time_days: int | None
    unit_price: float | None
    currency: str | None
    annual_volume: float | None
    valid_from: date | None
    valid_to: date | None
    otif_rate90d: float | None
    on_time_rate90d: float | None
    lead_time_mean_days90d: float | None
    redacted: list[str]


def _edge(e: dict[str, Any]) -> NetworkEdge:
    return NetworkEdge(
        supplier_id=strawberry.ID(e["supplierId"]),
        buyer_id=strawberry.ID(e["buyerId"]),
        sku=e["sku"],
        share=e.get("share"),
        lead_time_days=e.get("leadTimeDays"),
        unit_price=e.get("unitPrice"),
        currency=e.get("currency"),
        annual_volume=e.get("annualVolume"),
        valid_from=_date(e.get("validFrom")),
        valid_to=_date(e.get("validTo")),
        otif_rate90d=e.get("otifRate90d"),
        on_time_rate90d=e.get("onTimeRate90d"),
        lead_time_mean_days90d=e.get("leadTimeMeanDays90d"),
        redacted=e.get("redacted", []),
    )


@strawberry.type(description="A tiered network around a focal enterprise, computed in one round trip.")
class SupplyNetwork:
    focal_id: strawberry.ID
    direction: str
    tiers: int
    as_of: date
    truncated: bool = strawberry.field(description="True when maxNodes cut the view")
    raw_nodes: strawberry.Private[list[dict[str, Any]]]
    raw_edges: strawberry.Private[list[dict[str, Any]]]

    @strawberry.field(description="Nodes as typed objects (fine for views of a few hundred nodes).")
    def nodes(self) -> list[NetworkNode]:
        return [
            NetworkNode(
                id=strawberry.ID(n["id"]),
                name=n.get("name"),
                industry=n.get("industry"),
                region=n.get("region"),
                country=n.get("country"),
                risk_score=n.get("riskScore"),
                tier=n["tier"],
            )
            for n in self.raw_nodes
        ]

    @strawberry.field(description="Edges as typed objects.")
    def edges(self) -> list[NetworkEdge]:
        return [_edge(e) for e in self.raw_edges]

    @strawberry.field(
        description="The whole view as one JSON value {nodes: [...], edges: [...]} — the fast path for "
        "thousands of nodes (no per-field resolution)."
    )
    def payload(self) -> JSON:
        return JSON({"nodes": self.raw_nodes, "edges": self.raw_edges})

    @strawberry.field
    def node_count(self) -> int:
        return len(self.raw_nodes)

    @strawberry.field
    def edge_count(self) -> int:
        return len(self.raw_edges)


@strawberry.type(description="One supply path: enterprises in material-flow order and the links between.")
class SupplyPath:
    nodes: list[Enterprise]
    edges: list[NetworkEdge]


@strawberry.type(description="A component in an exploded bill of materials with its suppliers.")
class ChainComponent:
    sku: str
    name: str | None
    category: str | None
    level: int = strawberry.field(description="BOM level (0 = the product itself)")
    raw: bool = strawberry.field(description="True for a raw material (no components of its own)")
    used_in: list[str] = strawberry.field(description="Skus this component goes into (as of the date)")
    suppliers: list[Enterprise]


@strawberry.type(description="A participant of a design project and its role.")
class Participant:
    enterprise_id: strawberry.ID
    name: str | None
    role: str | None


@strawberry.type
class ComponentChange:
    sku: str
    change: str | None
    qty: float | None


@strawberry.type
class DesignRevision:
    id: strawberry.ID
    label: str | None
    published_at: float | None
    changes: list[ComponentChange]


@strawberry.type
class ChangeRequest:
    id: strawberry.ID
    reason: str | None
    required_by: date | None
    affected_skus: list[str]


@strawberry.type(description="A collaborative design project.")
class DesignProject:
    id: strawberry.ID
    name: str | None
    description: str | None
    product_sku: str | None
    owner_id: strawberry.ID | None
    participants: list[Participant]
    revisions: list[DesignRevision]
    change_requests: list[ChangeRequest]

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> DesignProject:
        p = r["project"]
        return cls(
            id=strawberry.ID(p["id"]),
            name=p.get("name"),
            description=p.get("description"),
            product_sku=p.get("productSku"),
            owner_id=strawberry.ID(r["ownerId"]) if r.get("ownerId") else None,
            participants=[
                Participant(enterprise_id=strawberry.ID(x["enterpriseId"]), name=x["name"], role=x["role"])
                for x in r["participants"]
                if x.get("enterpriseId")
            ],
            revisions=[
                DesignRevision(
                    id=strawberry.ID(v["id"]),
                    label=v.get("label"),
                    published_at=v.get("publishedAt"),
                    changes=[
                        ComponentChange(sku=c["sku"], change=c["change"], qty=c["qty"]) for c in v["changes"]
                    ],
                )
                for v in r["revisions"]
            ],
            change_requests=[
                ChangeRequest(
                    id=strawberry.ID(q["id"]),
                    reason=q.get("reason"),
                    required_by=_date(q.get("requiredBy")),
                    affected_skus=list(q.get("affectedSkus") or []),
                )
                for q in r["changeRequests"]
            ],
        )


@strawberry.type(
    description="What a design change touches: suppliers of the affected skus, products using them."
)
class ChangeImpact:
    change_request_id: strawberry.ID
    project_id: strawberry.ID | None
    affected_skus: list[str]
    suppliers: list[Enterprise]
    downstream_products: list[str]


@strawberry.type(description="An enterprise fit for a material need.")
class CandidatePartner:
    enterprise: Enterprise
    capabilities: list[str]
    certifications: list[str]
    otif_rate90d: float | None


@strawberry.type(description="An event that wrote state, with the aspects it set (from graph provenance).")
class TimelineEvent:
    event_id: str
    at: float = strawberry.field(description="Event time, epoch ms")
    sequence: int
    writes: list[str] = strawberry.field(description="'<target>:<aspect>' entries it wrote")


def _timeline_event(r: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(event_id=r["eventId"], at=r["at"], sequence=r["sequence"], writes=r["writes"])


@strawberry.type(description="A risky enterprise with its factor breakdown.")
class RiskyNode:
    enterprise_id: strawberry.ID
    name: str | None
    score: float
    factors: JSON | None
    tier: int | None = strawberry.field(
        default=None,
        description="Fewest supply hops from the focal enterprise (with focalId); null otherwise.",
    )


@strawberry.type(description="A risk incident under investigation.")
class RiskIncident:
    id: int
    enterprise_id: strawberry.ID
    severity: str
    score: float
    reason: str
    summary: str
    state: str
    owner: str | None
    notes: str

    @classmethod
    def from_row(cls, r: Any) -> RiskIncident:
        return cls(
            id=r.id,
            enterprise_id=strawberry.ID(r.enterprise_id),
            severity=r.severity,
            score=r.score,
            reason=r.reason,
            summary=r.summary,
            state=str(r.state.value if hasattr(r.state, "value") else r.state),
            owner=r.owner,
            notes=r.notes,
        )


@strawberry.enum
class Direction(enum.Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"


def _enterprise_rows(rows: list[dict[str, Any]]) -> list[Enterprise]:
    return [Enterprise.from_row(r) for r in rows if r and r.get("id")]


def _sorted(ids: frozenset[str] | None) -> list[str] | None:
    return sorted(ids) if ids is not None else None


@strawberry.type
class Query:
    @strawberry.field(description="One enterprise by its business id.")
    async def enterprise(self, info: Info[Context, None], id: strawberry.ID) -> Enterprise | None:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(id))
        row = await ctx.loaders.enterprise.load(str(id))
        return Enterprise.from_row(row) if row else None

    @strawberry.field(description="Search and filter enterprises; a Relay connection with keyset cursors.")
    async def enterprises(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        order_by: EnterpriseOrder = EnterpriseOrder.ID,
        name: str | None = strawberry.UNSET,
        industry: str | None = None,
        region: str | None = None,
        risk_min: float | None = None,
        risk_max: float | None = None,
    ) -> EnterpriseConnection:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        if not 1 <= first <= 500:
            raise ClientError(f"first must be between 1 and 500, got {first}")
        order = order_by.value
        keyset = decode_cursor(after, order) if after else None
        total, page = await ctx.views.search(
            order=order,
            limit=first + 1,
            after=keyset,
            name=name or None,
            industry=industry,
            region=region,
            risk_min=risk_min,
            risk_max=risk_max,
            scope=_sorted(ctx.policy.visible_ids()),
        )
        more = len(page) > first
        page = page[:first]
        edges = [
            EnterpriseEdge(cursor=encode_cursor(order, r["sortKey"], r["id"]), node=Enterprise.from_row(r))
            for r in page
        ]
        return EnterpriseConnection(
            total_count=total,
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )

    async def _network(
        self,
        info: Info[Context, None],
        id: str,
        direction: Direction,
        tiers: int,
        as_of: date | None,
        max_nodes: int,
    ) -> SupplyNetwork | None:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        ctx.check_tiers(tiers)
        if not 1 <= max_nodes <= 20_000:
            raise ClientError(f"maxNodes must be between 1 and 20000, got {max_nodes}")
        await ctx.policy.check_in_scope(id)
        day = as_of or date.today()
        found = await ctx.views.network(
            focal=id, direction=direction.value, tiers=tiers, as_of=day, max_nodes=max_nodes
        )
        if found is None:
            return None
        nodes, edges = ctx.policy.restrict_network(found[0], found[1])
        return SupplyNetwork(
            focal_id=strawberry.ID(id),
            direction=direction.value,
            tiers=tiers,
            as_of=day,
            truncated=found[2],
            raw_nodes=nodes,
            raw_edges=edges,
        )

    @strawberry.field(description="Suppliers of an enterprise up to N tiers (one round trip; lean payload).")
    async def upstream(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        tiers: int = 3,
        as_of: date | None = None,
        max_nodes: int = 5000,
    ) -> SupplyNetwork | None:
        return await Query._network(self, info, str(id), Direction.UPSTREAM, tiers, as_of, max_nodes)

    @strawberry.field(
        description="Customers of an enterprise down to N tiers (one round trip; lean payload)."
    )
    async def downstream(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        tiers: int = 3,
        as_of: date | None = None,
        max_nodes: int = 5000,
    ) -> SupplyNetwork | None:
        return await Query._network(self, info, str(id), Direction.DOWNSTREAM, tiers, as_of, max_nodes)

    @strawberry.field(
        description="Shortest supply paths along which material flows from `source` to `target`."
    )
    async def paths(
        self,
        info: Info[Context, None],
        source: strawberry.ID,
        target: strawberry.ID,
        max_hops: int = 5,
        as_of: date | None = None,
        first: int = 5,
    ) -> list[SupplyPath]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        ctx.check_tiers(max_hops)
        if not 1 <= first <= 5:
            raise ClientError(f"first must be between 1 and 5, got {first}")
        await ctx.policy.check_in_scope(str(source))
        await ctx.policy.check_in_scope(str(target))
        rows = await ctx.views.paths(
            source=str(source),
            target=str(target),
            max_hops=max_hops,
            as_of=as_of or date.today(),
            limit=first,
        )
        out = []
        for r in rows:
            nodes, edges = ctx.policy.restrict_network(r["nodes"], r["edges"])
            if len(nodes) == len(r["nodes"]):
                out.append(SupplyPath(nodes=_enterprise_rows(nodes), edges=[_edge(e) for e in edges]))
        return out

    @strawberry.field(description="A product's bill of materials exploded to raw materials, with suppliers.")
    async def product_chain(
        self,
        info: Info[Context, None],
        sku: str,
        tiers: int = 5,
        as_of: date | None = None,
        max_nodes: int = 2000,
    ) -> list[ChainComponent]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        ctx.check_tiers(tiers)
        rows = await ctx.views.product_chain(
            sku=sku, tiers=tiers, as_of=as_of or date.today(), max_nodes=max_nodes
        )
        return [
            ChainComponent(
                sku=r["material"]["sku"],
                name=r["material"].get("name"),
                category=r["material"].get("category"),
                level=r["level"],
                raw=r["raw"],
                used_in=[u["sku"] for u in r["usedIn"] if u.get("sku")],
                suppliers=_enterprise_rows(r["suppliers"]),
            )
            for r in rows
        ]

    @strawberry.field(description="Supplier KPIs of one enterprise.")
    async def supplier_kpis(self, info: Info[Context, None], id: strawberry.ID) -> SupplierKpis | None:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(id))
        row = await ctx.loaders.kpis.load(str(id))
        return SupplierKpis.from_row(row) if row else None

    @strawberry.field(description="Design projects (one, or those an enterprise owns or joins).")
    async def design_projects(
        self,
        info: Info[Context, None],
        id: strawberry.ID | None = None,
        enterprise_id: strawberry.ID | None = None,
        first: int = 20,
    ) -> list[DesignProject]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        rows = await ctx.views.design_projects(
            project_id=str(id) if id else None,
            enterprise_id=str(enterprise_id) if enterprise_id else None,
            limit=max(1, min(first, 200)),
        )
        return [DesignProject.from_row(r) for r in rows]

    @strawberry.field(
        description="For a design change request: the suppliers and downstream products it touches."
    )
    async def change_impact(
        self, info: Info[Context, None], change_request_id: strawberry.ID
    ) -> ChangeImpact | None:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        r = await ctx.views.change_impact(str(change_request_id))
        if r is None:
            return None
        return ChangeImpact(
            change_request_id=change_request_id,
            project_id=r["request"].get("projectId"),
            affected_skus=list(r["skus"]),
            suppliers=_enterprise_rows(r["suppliers"]),
            downstream_products=sorted(p["sku"] for p in r["products"]),
        )

    @strawberry.field(description="Candidate partners for a material need, least risky first.")
    async def candidate_partners(
        self,
        info: Info[Context, None],
        capability: str | None = None,
        certification: str | None = None,
        region: str | None = None,
        max_risk: float | None = None,
        sku: str | None = None,
        first: int = 20,
    ) -> list[CandidatePartner]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        rows = await ctx.views.candidates(
            capability=capability,
            standard=certification,
            region=region,
            max_risk=max_risk,
            sku=sku,
            limit=max(1, min(first, 200)),
        )
        return [
            CandidatePartner(
                enterprise=Enterprise.from_row(r["e"]),
                capabilities=list(r["e"].get("capabilities") or []),
                certifications=sorted(r["certifications"]),
                otif_rate90d=r["e"].get("otifRate90d"),
            )
            for r in rows
        ]

    @strawberry.field(
        description="Events that shaped an enterprise (its aspects, links and orders), newest first."
    )
    async def enterprise_timeline(self, info: Info[Context, None], id: strawberry.ID) -> list[TimelineEvent]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(id))
        rows = await ctx.views.enterprise_timeline(str(id), scope=_sorted(ctx.policy.visible_ids()))
        return [_timeline_event(r) for r in rows]

    @strawberry.field(description="Events that shaped the supply link(s) supplier → buyer, newest first.")
    async def link_timeline(
        self,
        info: Info[Context, None],
        supplier_id: strawberry.ID,
        buyer_id: strawberry.ID,
        sku: str | None = None,
    ) -> list[TimelineEvent]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(supplier_id))
        await ctx.policy.check_in_scope(str(buyer_id))
        rows = await ctx.views.link_timeline(str(supplier_id), str(buyer_id), sku)
        return [_timeline_event(r) for r in rows]

    @strawberry.field(
        description=(
            "The riskiest enterprises with their factor breakdown (risk engine scores), highest first. "
            "With focalId: only those within `tiers` supply tiers of it (UPSTREAM: its suppliers and "
            "theirs; DOWNSTREAM: its buyers and theirs) over current links, each with its tier. "
            "A partner must pass a focalId in its network, sees only its network, and sees the "
            "factor breakdown of its own enterprise only."
        )
    )
    async def risky_nodes(
        self,
        info: Info[Context, None],
        first: int = 50,
        min_score: float = 0.0,
        industry: str | None = None,
        region: str | None = None,
        focal_id: strawberry.ID | None = None,
        tiers: int = 3,
        direction: Direction = Direction.UPSTREAM,
    ) -> list[RiskyNode]:
        ctx = info.context
        policy = ctx.policy
        await policy.authorize(Action.READ_ALL if focal_id is None else Action.READ_NETWORK)
        if focal_id is not None:
            ctx.check_tiers(tiers)
            await policy.check_in_scope(str(focal_id))
        rows = await ctx.risk_store().risky(
            limit=max(1, min(first, 1000)),
            min_score=min_score,
            industry=industry,
            region=region,
            focal=str(focal_id) if focal_id is not None else None,
            tiers=tiers,
            direction="upstream" if direction is Direction.UPSTREAM else "downstream",
            allowed=policy.visible_ids(),
        )
        return [
            RiskyNode(
                enterprise_id=strawberry.ID(r["id"]),
                name=r.get("name"),
                score=r["score"],
                factors=JSON(r.get("factors")) if policy.sees_factors_of(r["id"]) else None,
                tier=r.get("tier"),
            )
            for r in rows
        ]

    @strawberry.field(description="Risk incidents, newest first.")
    async def incidents(
        self,
        info: Info[Context, None],
        state: str | None = None,
        enterprise_id: strawberry.ID | None = None,
        first: int = 100,
    ) -> list[RiskIncident]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        rows = await ctx.incidents_list(
            state=state, enterprise_id=str(enterprise_id) if enterprise_id else None, limit=first
        )
        return [RiskIncident.from_row(r) for r in rows]


__all__ = ["COMMERCIAL_FIELDS", "JSON", "Enterprise", "Query", "SupplyNetwork"]
