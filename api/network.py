"""The supply-chain views: enterprise lookup and search, tiered networks, paths, product chains, KPIs.

Large views (tiered networks, paths, product chains) are one Cypher round trip each and return lean
scalar nodes/edges; enterprise fields on nested objects go through per-request DataLoaders (no N+1).
"""

from __future__ import annotations

import asyncio
import base64
import enum
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.enterprise import Enterprise, SupplierKpis, enterprise_rows, to_date
from api.errors import ClientError
from api.policy import Action
from connectors import flow_store
from connectors.record_store import RecordStore
from graph import kpis

# -- connections -------------------------------------------------------------------------------------


@strawberry.enum(description="How networkKpis groups the suppliers.")
class KpiGrouping(enum.Enum):
    NETWORK = "network"
    REGION = "region"
    INDUSTRY = "industry"


@strawberry.type(description="The supplier KPIs of a group of suppliers (all their links added up).")
class GroupKpis:
    group: str | None = strawberry.field(
        description="The region or industry; null: the whole network (or suppliers without one)"
    )
    suppliers: int = strawberry.field(description="Suppliers with flow in the group")
    kpis: SupplierKpis


def _record_store(ctx: Context) -> RecordStore:
    if ctx.engine is None:
        raise ClientError("the record store is not configured on this server")
    return RecordStore(ctx.engine)


def _day_end(day: date) -> int:
    """The last millisecond of a UTC day (a window ending with that day)."""
    return int(datetime.combine(day, time.max, UTC).timestamp() * 1000)


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
        valid_from=to_date(e.get("validFrom")),
        valid_to=to_date(e.get("validTo")),
        otif_rate90d=e.get("otifRate90d"),
        on_time_rate90d=e.get("onTimeRate90d"),
        lead_time_mean_days90d=e.get("leadTimeMeanDays90d"),
        redacted=e.get("redacted", []),
    )


def _node_scalars(n: dict[str, Any]) -> dict[str, Any]:
    """The scalars every drawn view's node carries, as the typed node's arguments."""
    return {
        "id": strawberry.ID(n["id"]),
        "name": n.get("name"),
        "industry": n.get("industry"),
        "region": n.get("region"),
        "country": n.get("country"),
        "risk_score": n.get("riskScore"),
    }


@strawberry.type
class DrawnView:
    """What a tiered view and a region's view share: their nodes and edges as read, as typed edges, as
    one JSON value, and counted. Not a GraphQL type of its own (nothing returns it)."""

    raw_nodes: strawberry.Private[list[dict[str, Any]]]
    raw_edges: strawberry.Private[list[dict[str, Any]]]

    @strawberry.field(description="Edges as typed objects.")
    def edges(self) -> list[NetworkEdge]:
        return [_edge(e) for e in self.raw_edges]

    @strawberry.field(
        description="The whole view as one JSON value {nodes: [...], edges: [...]} (a region's nodes "
        "carry `inRegion`) — the fast path for thousands of nodes (no per-field resolution)."
    )
    def payload(self) -> JSON:
        return JSON({"nodes": self.raw_nodes, "edges": self.raw_edges})

    @strawberry.field
    def node_count(self) -> int:
        return len(self.raw_nodes)

    @strawberry.field
    def edge_count(self) -> int:
        return len(self.raw_edges)


@strawberry.type(description="A tiered network around a focal enterprise, computed in one round trip.")
class SupplyNetwork(DrawnView):
    focal_id: strawberry.ID
    direction: str
    tiers: int
    as_of: date
    truncated: bool = strawberry.field(description="True when maxNodes cut the view")

    @strawberry.field(description="Nodes as typed objects (fine for views of a few hundred nodes).")
    def nodes(self) -> list[NetworkNode]:
        return [NetworkNode(**_node_scalars(n), tier=n["tier"]) for n in self.raw_nodes]


@strawberry.type(description="An enterprise in a region's view (scalars only).")
class RegionNetworkNode:
    id: strawberry.ID
    name: str | None
    industry: str | None
    region: str | None
    country: str | None
    risk_score: float | None
    in_region: bool = strawberry.field(
        description="True for an enterprise of the region; false for a direct supplier or customer "
        "elsewhere (with `outside: true`)"
    )


@strawberry.type(
    description="A region's enterprises and the current supply links among them (with `outside`: also "
    "their direct suppliers and customers elsewhere and those links), computed in one round trip."
)
class RegionNetwork(DrawnView):
    region: str
    as_of: date
    truncated: bool = strawberry.field(
        description="True when maxNodes cut the view (the region's riskiest enterprises are kept first, "
        "then the outside ones with most links to them)"
    )

    @strawberry.field(description="Nodes as typed objects (fine for views of a few hundred nodes).")
    def nodes(self) -> list[RegionNetworkNode]:
        return [RegionNetworkNode(**_node_scalars(n), in_region=n["inRegion"]) for n in self.raw_nodes]

    @strawberry.field(description="Enterprises of the region in the view")
    def member_count(self) -> int:
        return sum(1 for n in self.raw_nodes if n["inRegion"])


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


@strawberry.enum
class Direction(enum.Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"


@strawberry.type
class NetworkQuery:
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
            scope=ctx.policy.visible_list(),
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
        return await NetworkQuery._network(self, info, str(id), Direction.UPSTREAM, tiers, as_of, max_nodes)

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
        return await NetworkQuery._network(self, info, str(id), Direction.DOWNSTREAM, tiers, as_of, max_nodes)

    @strawberry.field(
        description="The enterprises of a region (as `enterprises(region:)` and the data map name it) and "
        "the current supply links among them; with `outside`, also their direct suppliers and customers "
        "elsewhere and the links to them. One round trip, lean `payload`. A partner sees only enterprises "
        "of its network and the links with both ends in it, others' commercial terms redacted."
    )
    async def region_network(
        self,
        info: Info[Context, None],
        region: str,
        as_of: date | None = None,
        max_nodes: int = 5000,
        outside: bool = False,
    ) -> RegionNetwork:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        if not 1 <= max_nodes <= 20_000:
            raise ClientError(f"maxNodes must be between 1 and 20000, got {max_nodes}")
        day = as_of or date.today()
        found_nodes, found_edges, truncated = await ctx.views.region_network(
            region=region, as_of=day, max_nodes=max_nodes, outside=outside, scope=ctx.policy.visible_list()
        )
        nodes, edges = ctx.policy.restrict_network(found_nodes, found_edges)
        return RegionNetwork(region=region, as_of=day, truncated=truncated, raw_nodes=nodes, raw_edges=edges)

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
                out.append(SupplyPath(nodes=enterprise_rows(nodes), edges=[_edge(e) for e in edges]))
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
                suppliers=enterprise_rows(r["suppliers"]),
            )
            for r in rows
        ]

    @strawberry.field(
        description="Supplier KPIs of one enterprise: as written on the graph (windows ending at the "
        "stream's clock, with days of cover), or with asOf the windows ending with that UTC day, read from "
        "the record store's day buckets (no days of cover: stock is not kept by day)."
    )
    async def supplier_kpis(
        self, info: Info[Context, None], id: strawberry.ID, as_of: date | None = None
    ) -> SupplierKpis | None:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(id))
        if as_of is None:
            row = await ctx.loaders.kpis.load(str(id))
            return SupplierKpis.from_row(row) if row else None
        store = _record_store(ctx)
        flow = await asyncio.to_thread(store.kpis, [str(id)], _day_end(as_of))
        return SupplierKpis.from_row(flow.suppliers[0]["props"])

    @strawberry.field(
        description="KPIs of one supply link (supplier -> buyer, sku) from the record store's day buckets, "
        "windows ending with asOf (default: the stream's clock)."
    )
    async def link_kpis(
        self,
        info: Info[Context, None],
        supplier_id: strawberry.ID,
        buyer_id: strawberry.ID,
        sku: str,
        as_of: date | None = None,
    ) -> SupplierKpis:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_NETWORK)
        await ctx.policy.check_in_scope(str(supplier_id))
        await ctx.policy.check_in_scope(str(buyer_id))
        store = _record_store(ctx)
        at = _day_end(as_of) if as_of is not None else None
        flow = await asyncio.to_thread(store.kpis, [str(supplier_id)], at)
        for row in flow.links:
            if row["buyer"] == str(buyer_id) and row["sku"] == sku:
                return SupplierKpis.from_row(row["props"])
        clock = at if at is not None else await asyncio.to_thread(store.clock)
        return SupplierKpis.from_row(kpis.bucket_kpis(kpis.Buckets.empty(), clock))

    @strawberry.field(
        description="Supplier KPIs of the whole network, or per region or industry of the supplier, from "
        "the record store's day buckets; windows ending with asOf (default: the stream's clock). Staff only."
    )
    async def network_kpis(
        self,
        info: Info[Context, None],
        group_by: KpiGrouping = KpiGrouping.NETWORK,
        as_of: date | None = None,
    ) -> list[GroupKpis]:
        ctx = info.context
        await ctx.policy.authorize(Action.READ_ALL)
        store = _record_store(ctx)
        at, by_supplier = await asyncio.to_thread(
            store.supplier_buckets, _day_end(as_of) if as_of is not None else None
        )
        if group_by is KpiGrouping.NETWORK:
            keyed: dict[str | None, list[str]] = {None: sorted(by_supplier)}
        else:
            groups = await ctx.views.enterprise_groups(sorted(by_supplier))
            keyed = {}
            for s in sorted(by_supplier):
                region, industry = groups.get(s, (None, None))
                keyed.setdefault(region if group_by is KpiGrouping.REGION else industry, []).append(s)
        return [
            GroupKpis(
                group=g,
                suppliers=len(ids),
                kpis=SupplierKpis.from_row(
                    kpis.bucket_kpis(flow_store.merged(by_supplier[s] for s in ids), at)
                ),
            )
            for g, ids in sorted(keyed.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ]


__all__ = ["Direction", "NetworkQuery", "RegionNetwork", "SupplyNetwork", "decode_cursor", "encode_cursor"]
