"""What a design change means for each supplier of an affected component: its open orders (record
store) and its stock of the old revision (the latest stock reports of the sku), as the caller may see
them — a partner: orders whose supplier and buyer are both in its network, stock of its network."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any

import strawberry

from api.context import Context
from api.enterprise import Enterprise
from connectors import impact_queries as iq
from connectors import record_queries as rq


@strawberry.type(description="An open order (neither delivered nor cancelled) of an affected sku.")
class ImpactedOrder:
    order_id: strawberry.ID
    buyer_id: strawberry.ID
    quantity: float | None = strawberry.field(description="Confirmed quantity, else the ordered one")
    status: str = strawberry.field(description="placed, confirmed or shipped")
    due_date: date | None


@strawberry.type(description="The latest stock report of an affected sku at one site of a supplier.")
class StockAt:
    facility_id: str | None
    on_hand: float | None
    daily_usage: float | None
    days_of_cover: float | None
    reported_on: date | None


@strawberry.type(
    description="A supplier of an affected sku: its open orders of it and its stock of the old revision. "
    "Counts and quantities are null when the server has no record store."
)
class ImpactedSupplier:
    enterprise: Enterprise
    sku: str
    open_order_count: int | None
    open_quantity: float | None
    open_orders: list[ImpactedOrder] = strawberry.field(description="The first `ordersPerSupplier`, by id")
    stock: list[StockAt]
    on_hand: float | None = strawberry.field(description="Stock on hand over its sites")


def _order(r: dict[str, Any]) -> ImpactedOrder:
    qty = r.get("confirmed_quantity")
    return ImpactedOrder(
        order_id=strawberry.ID(r["order_id"]),
        buyer_id=strawberry.ID(r["buyer_id"]),
        quantity=qty if qty is not None else r.get("quantity"),
        status=rq.order_status(r).value,
        due_date=rq.order_due(r),
    )


def _stock(r: dict[str, Any]) -> StockAt:
    return StockAt(
        facility_id=r.get("facility_id") or None,
        on_hand=r.get("on_hand"),
        daily_usage=r.get("daily_usage"),
        days_of_cover=rq.days_of_cover(r.get("on_hand"), r.get("daily_usage")),
        reported_on=r.get("reported_on"),
    )


async def impacted_suppliers(
    ctx: Context, suppliers: Sequence[dict[str, Any]], *, orders_per_supplier: int
) -> list[ImpactedSupplier]:
    """One entry per (visible supplier, affected sku), by supplier id and sku; three record-store reads."""
    rows = sorted(
        {(s["id"], s["sku"]): s for s in suppliers if s and s.get("id") and ctx.policy.sees(s["id"])}.items()
    )
    pairs = [k for k, _ in rows]
    allowed = ctx.policy.visible_ids()
    engine = ctx.engine
    totals: dict[iq.Pair, tuple[int, float]] = {}
    orders: dict[iq.Pair, list[ImpactedOrder]] = {}
    stock: dict[iq.Pair, list[StockAt]] = {}
    if engine is not None and pairs:
        totals = await asyncio.to_thread(iq.open_order_totals, engine, supplier_skus=pairs, allowed=allowed)
        listed = await asyncio.to_thread(
            iq.open_orders,
            engine,
            supplier_skus=pairs,
            allowed=allowed,
            first=orders_per_supplier * len(pairs),
        )
        for r in listed:
            got = orders.setdefault((r["supplier_id"], r["sku"]), [])
            if len(got) < orders_per_supplier:
                got.append(_order(r))
        for r in await asyncio.to_thread(iq.stock_of, engine, enterprise_skus=pairs, allowed=allowed):
            stock.setdefault((r["enterprise_id"], r["sku"]), []).append(_stock(r))
    out: list[ImpactedSupplier] = []
    for key, s in rows:
        count, qty = totals.get(key, (0, 0.0))
        at = stock.get(key, [])
        held = [x.on_hand for x in at if x.on_hand is not None]
        out.append(
            ImpactedSupplier(
                enterprise=Enterprise.from_row(s),
                sku=key[1],
                open_order_count=count if engine is not None else None,
                open_quantity=qty if engine is not None else None,
                open_orders=orders.get(key, []),
                stock=at,
                on_hand=sum(held) if held else None,
            )
        )
    return out


__all__ = ["ImpactedOrder", "ImpactedSupplier", "StockAt", "impacted_suppliers"]
