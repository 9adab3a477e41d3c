"""Record-store reads behind a design change's impact: the open orders and the stock of given
(enterprise, sku) pairs — the suppliers of the affected components. SQLite and PostgreSQL alike (SQLAlchemy
Core); one statement each. ``allowed`` is a partner's network: only orders whose supplier and buyer
are both in it, only stock of enterprises in it. Sync: call off the event loop.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from connectors.record_queries import ORDERS, STOCK, Row

Pair = tuple[str, str]
"""(enterprise id, sku)."""


def _pairs(enterprise: Any, sku: Any, pairs: Sequence[Pair]) -> ColumnElement[bool]:
    # The IN on the enterprise alone lets both stores read its index range (the OR of pairs alone made
    # SQLite scan the whole table: 1.25 s at 1M orders, see bench/change_impact.py).
    exact = or_(*(and_(enterprise == e, sku == s) for e, s in sorted(set(pairs))))
    return and_(enterprise.in_(sorted({e for e, _ in pairs})), exact)


def _open(allowed: Collection[str] | None) -> list[ColumnElement[bool]]:
    c = ORDERS.c
    where: list[ColumnElement[bool]] = [c.delivered_t.is_(None), c.cancelled_t.is_(None)]
    if allowed is not None:
        inside = sorted(allowed)
        where += [c.supplier_id.in_(inside), c.buyer_id.in_(inside)]
    return where


def open_order_totals(
    engine: Engine, *, supplier_skus: Sequence[Pair], allowed: Collection[str] | None
) -> dict[Pair, tuple[int, float]]:
    """(supplier, sku) -> (open orders, their open quantity: the confirmed quantity, else the ordered).

    Open: neither delivered nor cancelled (shipped ones are still in transit)."""
    if not supplier_skus:
        return {}
    c = ORDERS.c
    stmt = (
        select(c.supplier_id, c.sku, func.count(), func.sum(func.coalesce(c.confirmed_quantity, c.quantity)))
        .where(_pairs(c.supplier_id, c.sku, supplier_skus), *_open(allowed))
        .group_by(c.supplier_id, c.sku)
    )
    with engine.connect() as conn:
        return {(r[0], r[1]): (int(r[2]), float(r[3] or 0.0)) for r in conn.execute(stmt)}


def open_orders(
    engine: Engine, *, supplier_skus: Sequence[Pair], allowed: Collection[str] | None, first: int
) -> list[Row]:
    """Up to ``first`` open orders of each pair (by order id), by supplier, sku and order id."""
    if not supplier_skus or first < 1:
        return []
    c = ORDERS.c
    rank = func.row_number().over(partition_by=(c.supplier_id, c.sku), order_by=c.order_id).label("n")
    ranked = (
        select(ORDERS, rank).where(_pairs(c.supplier_id, c.sku, supplier_skus), *_open(allowed)).subquery()
    )
    stmt = (
        select(ranked)
        .where(ranked.c.n <= first)
        .order_by(ranked.c.supplier_id, ranked.c.sku, ranked.c.order_id)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def stock_of(
    engine: Engine, *, enterprise_skus: Sequence[Pair], allowed: Collection[str] | None
) -> list[Row]:
    """The latest stock reports of the pairs, per site, by enterprise, sku and site."""
    if not enterprise_skus:
        return []
    c = STOCK.c
    where = [_pairs(c.enterprise_id, c.sku, enterprise_skus)]
    if allowed is not None:
        where.append(c.enterprise_id.in_(sorted(allowed)))
    stmt = select(STOCK).where(*where).order_by(c.enterprise_id, c.sku, c.facility_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
