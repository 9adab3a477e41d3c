"""Lot traceability: ``traceBack``, ``traceForward`` and ``recallScope`` (see docs/traceability.md).

Partner-scoped like every network read: a partner may start only from lots made inside its network;
the walk never enters a lot made outside it (or by an unreported maker) and never names a holder
outside it. What it stopped at is reported as an opaque boundary: "n lots upstream of <a lot you see>".
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import ClientError, Forbidden
from api.policy import Action, outside_message
from graph.trace import Boundary, Genealogy, LotTrace, Visibility

MAX_RECALL_LOTS = 100
"""Most lots one ``recallScope`` may start from."""


@strawberry.type(description="A lot linked to a step: an input it was made from, or an output made from it.")
class LotLink:
    lot_id: strawberry.ID
    quantity: float | None


@strawberry.type(description="One lot of a genealogy: who made it, where and when, and its visible links.")
class TraceStep:
    lot_id: strawberry.ID
    sku: str | None
    quantity: float | None
    enterprise_id: strawberry.ID | None
    facility_id: strawberry.ID | None
    production_id: str | None
    produced_at: float | None = strawberry.field(description="Epoch milliseconds of the production event.")
    depth: int = strawberry.field(description="Genealogy levels from the lot asked for (0: the lot itself).")
    links: list[LotLink] = strawberry.field(
        description="traceBack: the input lots; traceForward: the lots made from it."
    )
    raw_material: bool = strawberry.field(description="Made from no input lot (the genealogy's end).")


@strawberry.type(description="A shipment that took a lot (loose or in a shipping unit) to an enterprise.")
class LotHolder:
    lot_id: strawberry.ID
    enterprise_id: strawberry.ID
    supplier_id: strawberry.ID | None
    shipment_id: str | None
    order_id: str | None
    unit_id: str | None
    quantity: float | None
    shipped_at: float | None
    received_at: float | None


@strawberry.type(description='Where a partner\'s view stops: "n lots upstream (or downstream) of <lot>".')
class TraceBoundary:
    lot_id: strawberry.ID
    enterprise_id: strawberry.ID | None
    hidden_lots: int
    hidden_holders: int
    description: str


@strawberry.type(description="A lot's genealogy, its holders and where the caller's view stopped.")
class LotTraceResult:
    lot_id: strawberry.ID
    steps: list[TraceStep]
    holders: list[LotHolder]
    beyond: list[TraceBoundary]
    truncated: bool = strawberry.field(description="maxDepth or maxNodes stopped the walk before its end.")


@strawberry.type(description="An enterprise a recall reaches: lots it made and lots shipped to it.")
class RecallEnterprise:
    enterprise_id: strawberry.ID
    made_lots: int
    made_quantity: float
    received_lots: int
    received_quantity: float


@strawberry.type(description="An order whose shipment carried an affected lot.")
class RecallOrder:
    order_id: strawberry.ID
    supplier_id: strawberry.ID | None
    buyer_id: strawberry.ID
    shipment_id: str | None
    lot_id: strawberry.ID
    quantity: float | None
    shipped_at: float | None


@strawberry.type(description="What recalling some lots reaches: downstream lots, enterprises, orders.")
class RecallScope:
    lots: list[strawberry.ID]
    enterprises: list[RecallEnterprise]
    orders: list[RecallOrder]
    beyond: list[TraceBoundary]
    truncated: bool


def _step(r: dict[str, Any], *, back: bool) -> TraceStep:
    links = [LotLink(lot_id=strawberry.ID(x["lotId"]), quantity=x["quantity"]) for x in r["links"]]
    return TraceStep(
        lot_id=strawberry.ID(r["id"]),
        sku=r.get("sku"),
        quantity=r.get("quantity"),
        enterprise_id=strawberry.ID(r["enterpriseId"]) if r.get("enterpriseId") else None,
        facility_id=strawberry.ID(r["facilityId"]) if r.get("facilityId") else None,
        production_id=r.get("productionId"),
        produced_at=r.get("producedAt"),
        depth=int(r["depth"]),
        links=links,
        raw_material=back and not r["links"] and not r.get("hidden"),
    )


def _boundary(b: Boundary, *, direction: str) -> TraceBoundary:
    parts = []
    if b.hidden_lots:
        parts.append(f"{b.hidden_lots} lot(s) {direction} of lot {b.lot_id} outside your view")
    if b.hidden_holders:
        parts.append(f"{b.hidden_holders} holder(s) of lot {b.lot_id} outside your view")
    return TraceBoundary(
        lot_id=strawberry.ID(b.lot_id),
        enterprise_id=strawberry.ID(b.enterprise_id) if b.enterprise_id else None,
        hidden_lots=b.hidden_lots,
        hidden_holders=b.hidden_holders,
        description="; ".join(parts),
    )


def _holder(lot_id: str, h: dict[str, Any]) -> LotHolder:
    return LotHolder(
        lot_id=strawberry.ID(lot_id),
        enterprise_id=strawberry.ID(h["enterpriseId"]),
        supplier_id=strawberry.ID(h["supplierId"]) if h.get("supplierId") else None,
        shipment_id=h.get("shipmentId"),
        order_id=h.get("orderId"),
        unit_id=h.get("unitId"),
        quantity=h.get("quantity"),
        shipped_at=h.get("shippedAt"),
        received_at=h.get("receivedAt"),
    )


async def _start(
    info: Info[Context, None], lots: list[str]
) -> tuple[LotTrace, Visibility, dict[str, str | None]]:
    """The trace view, the caller's visibility test and the makers of the start lots (a partner is
    refused a start lot not made inside its network)."""
    ctx = info.context
    await ctx.policy.authorize(Action.READ_NETWORK)
    v = ctx.views
    trace = LotTrace(v.driver, database=v.database, timeout_s=v.timeout_s)
    scope = ctx.policy.loaded_scope()

    visible = Visibility(None if scope is None else scope.ids)

    makers = await trace.lot_makers(lots)
    if scope is not None:
        for lot in lots:
            if lot not in makers:
                continue
            maker = makers[lot]
            if maker is None:
                raise Forbidden(f"lot {lot} is outside your network (its maker has not reported it)")
            if maker not in scope:
                raise Forbidden(f"lot {lot}: {outside_message(maker, scope)}")
    return trace, visible, makers


async def _holders(
    trace: LotTrace, g: Genealogy, visible: Visibility, *, since_ms: float | None = None
) -> list[LotHolder]:
    """The walk's holders the caller may see; the others are counted on the lot's boundary."""
    held = await trace.holders([s["id"] for s in g.steps if s["id"] in g.shipped])
    out: list[LotHolder] = []
    hidden: dict[str, int] = defaultdict(int)
    for s in g.steps:
        for h in sorted(held.get(s["id"], []), key=lambda h: (h["enterpriseId"], h.get("shipmentId") or "")):
            if since_ms is not None and (h.get("shippedAt") or h.get("receivedAt") or 0) < since_ms:
                continue
            if visible(h["enterpriseId"]):
                out.append(_holder(s["id"], h))
            else:
                hidden[s["id"]] += 1
    makers = {s["id"]: s.get("enterpriseId") for s in g.steps}
    known = {b.lot_id: b for b in g.boundaries}
    for lot_id, n in hidden.items():
        if lot_id in known:
            known[lot_id].hidden_holders = n
        else:
            g.boundaries.append(Boundary(lot_id, makers[lot_id], hidden_holders=n))
    return out


@strawberry.type
class TraceQuery:
    @strawberry.field(
        description="A lot's genealogy back to its raw-material lots: each step's maker, facility and time."
    )
    async def trace_back(
        self, info: Info[Context, None], lot: strawberry.ID, max_depth: int = 10, max_nodes: int = 2000
    ) -> LotTraceResult | None:
        trace, visible, makers = await _start(info, [str(lot)])
        if str(lot) not in makers:
            return None
        g = await trace.walk(
            [str(lot)], forward=False, max_depth=max_depth, max_lots=max_nodes, visible=visible
        )
        hidden = {b.lot_id for b in g.boundaries if b.hidden_lots}
        return LotTraceResult(
            lot_id=lot,
            steps=[_step({**s, "hidden": s["id"] in hidden}, back=True) for s in g.steps],
            holders=[],
            beyond=[_boundary(b, direction="upstream") for b in g.boundaries],
            truncated=g.truncated,
        )

    @strawberry.field(
        description="Every lot made from a lot, downstream, and the enterprises they were shipped to."
    )
    async def trace_forward(
        self, info: Info[Context, None], lot: strawberry.ID, max_depth: int = 10, max_nodes: int = 2000
    ) -> LotTraceResult | None:
        trace, visible, makers = await _start(info, [str(lot)])
        if str(lot) not in makers:
            return None
        g = await trace.walk(
            [str(lot)], forward=True, max_depth=max_depth, max_lots=max_nodes, visible=visible
        )
        holders = await _holders(trace, g, visible)
        return LotTraceResult(
            lot_id=lot,
            steps=[_step(s, back=False) for s in g.steps],
            holders=holders,
            beyond=[_boundary(b, direction="downstream") for b in g.boundaries],
            truncated=g.truncated,
        )

    @strawberry.field(
        description="What recalling lots reaches: every downstream lot, the enterprises that made or "
        "received them (with quantities) and the orders that carried them, shipped on or after ``since``."
    )
    async def recall_scope(
        self,
        info: Info[Context, None],
        lots: list[strawberry.ID],
        since: date | None = None,
        max_depth: int = 10,
        max_nodes: int = 2000,
    ) -> RecallScope:
        if not 1 <= len(lots) <= MAX_RECALL_LOTS:
            raise ClientError(f"recallScope takes 1 to {MAX_RECALL_LOTS} lots, got {len(lots)}")
        start = sorted({str(x) for x in lots})
        trace, visible, makers = await _start(info, start)
        known = [x for x in start if x in makers]
        g = await trace.walk(known, forward=True, max_depth=max_depth, max_lots=max_nodes, visible=visible)
        since_ms = (
            datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp() * 1000 if since else None
        )
        holders = await _holders(trace, g, visible, since_ms=since_ms)
        per: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
        for s in g.steps:
            if s.get("enterpriseId"):
                acc = per[s["enterpriseId"]]
                acc[0] += 1
                acc[1] += float(s.get("quantity") or 0.0)
        orders: list[RecallOrder] = []
        for h in holders:
            acc = per[str(h.enterprise_id)]
            acc[2] += 1
            acc[3] += float(h.quantity or 0.0)
            if h.order_id:
                orders.append(
                    RecallOrder(
                        order_id=strawberry.ID(h.order_id),
                        supplier_id=h.supplier_id,
                        buyer_id=h.enterprise_id,
                        shipment_id=h.shipment_id,
                        lot_id=h.lot_id,
                        quantity=h.quantity,
                        shipped_at=h.shipped_at,
                    )
                )
        return RecallScope(
            lots=[strawberry.ID(s["id"]) for s in g.steps],
            enterprises=[
                RecallEnterprise(
                    enterprise_id=strawberry.ID(e),
                    made_lots=int(a[0]),
                    made_quantity=a[1],
                    received_lots=int(a[2]),
                    received_quantity=a[3],
                )
                for e, a in sorted(per.items())
            ],
            orders=orders,
            beyond=[_boundary(b, direction="downstream") for b in g.boundaries],
            truncated=g.truncated,
        )


__all__ = ["TraceQuery"]
