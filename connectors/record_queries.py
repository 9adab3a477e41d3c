"""Reads of the record store: keyset pages of orders, shipments, stock, capacity, quality incidents and
equipment alarms, with filters, for SQLite and PostgreSQL alike (SQLAlchemy Core, one statement a page).

Every list is ordered by its table's key (``order_id``, ``shipment_id``, ``(enterprise_id, sku,
facility_id)``, ...), which is unique and stable, so a page is ``key > cursor`` on the primary key or
on an index that ends with it: ``(supplier_id, order_id)`` for a supplier's orders, ``(buyer_id,
order_id)``, ``(sku, order_id)``; such a first page reads ``first + 1`` rows of an index range whatever
the size of the store. Orders with an order-date range are ordered by ``(ordered_on, order_id)``
instead (``ORDERS_BY_DATE``), so the range is one index range too.

``allowed`` is a partner's network: only rows whose enterprises (both ends of an order or shipment)
are in it. Without an enterprise filter a partner's page is the merge of one index range per network
enterprise (``(supplier_id, order_id)``, ``(supplier_id, sku, order_id)``, ...), each limited to
``first + 1`` rows: it reads at most ``network × (first + 1)`` rows that pass the filters, however long
the history (PostgreSQL: one statement, a LATERAL range per unnested enterprise, and where the range's
index holds the buyer, the merge's keys read from that index alone before the page's rows are fetched;
SQLite: one prepared range read per enterprise, the keys merged). Every visible row has one supplier
(one enterprise) in the network, so the merge holds each row once. Residual filters (status,
lateness, the other party in the network) read on in their range until they found ``first + 1`` rows;
the delayed-shipment and cancelled-order indexes are partial (only those rows).
``bench/records_api.py`` prints what each page costs. Sync: call off the event loop.
"""

from __future__ import annotations

import enum
import functools
import heapq
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.util import ClauseAdapter

from graph.rows import version
from schema.records import (
    CapacityRecord,
    EquipmentAlarmRecord,
    OrderRecord,
    QualityIncidentRecord,
    ShipmentRecord,
    StockRecord,
)

Row = dict[str, Any]
Key = tuple[Any, ...]


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


ORDERS = _table(OrderRecord)
SHIPMENTS = _table(ShipmentRecord)
STOCK = _table(StockRecord)
CAPACITY = _table(CapacityRecord)
QUALITY = _table(QualityIncidentRecord)
ALARMS = _table(EquipmentAlarmRecord)

KEYS: dict[str, tuple[str, ...]] = {
    ORDERS.name: ("order_id",),
    SHIPMENTS.name: ("shipment_id",),
    STOCK.name: ("enterprise_id", "sku", "facility_id"),
    CAPACITY.name: ("enterprise_id", "sku", "facility_id"),
    QUALITY.name: ("incident_id",),
    ALARMS.name: ("alarm_id",),
}
"""Each table's key: the order of its lists and what a cursor holds."""

ORDERS_BY_DATE: tuple[str, ...] = ("ordered_on", "order_id")
"""The order of an order list with an order-date range (and what its cursor holds)."""


class OrderStatus(enum.Enum):
    """Where an order's lifecycle stands: the furthest step it reached (cancelled wins)."""

    PLACED = "placed"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Page:
    """Up to ``first`` rows after the cursor, in key order, and whether more follow."""

    rows: list[Row]
    has_next: bool
    order: tuple[str, ...]
    """The columns the rows are ordered by: what a cursor after a row holds."""

    def key(self, row: Row) -> Key:
        return tuple(row[k] for k in self.order)

    def last_key(self) -> Key | None:
        return self.key(self.rows[-1]) if self.rows else None


# -- derived values (pure; the SQL filters below say the same) ------------------------------------------


def order_status(row: Row) -> OrderStatus:
    if row.get("cancelled_t") is not None:
        return OrderStatus.CANCELLED
    for step, status in (
        ("delivered_t", OrderStatus.DELIVERED),
        ("shipped_t", OrderStatus.SHIPPED),
        ("confirmed_t", OrderStatus.CONFIRMED),
    ):
        if row.get(step) is not None:
            return status
    return OrderStatus.PLACED


def order_due(row: Row) -> date | None:
    """The date an order is measured against: the promised date, else the requested one."""
    due: date | None = row.get("due_date") or row.get("promised_date") or row.get("requested_date")
    return due


def order_is_late(row: Row, as_of: date) -> bool:
    """Delivered after its due date; or still open (not delivered, not cancelled) past it on ``as_of``."""
    due = order_due(row)
    if due is None:
        return False
    if row.get("delivered_t") is not None:
        delivered: date | None = row.get("delivered_on")
        return delivered is not None and delivered > due
    return row.get("cancelled_t") is None and due < as_of


def days_of_cover(on_hand: float | None, daily_usage: float | None) -> float | None:
    """Days the stock lasts at its daily usage; ``None`` without a positive usage."""
    if on_hand is None or not daily_usage or daily_usage <= 0:
        return None
    return on_hand / daily_usage


def spare_capacity(capacity_per_day: float | None, utilization: float | None) -> float | None:
    """Capacity per day not in use: capacity × (1 − utilization); ``None`` without a capacity."""
    if capacity_per_day is None:
        return None
    return capacity_per_day * (1.0 - (utilization or 0.0))


def _status_condition(status: OrderStatus) -> ColumnElement[bool]:
    c = ORDERS.c
    steps = [c.cancelled_t, c.delivered_t, c.shipped_t, c.confirmed_t]
    order = [OrderStatus.CANCELLED, OrderStatus.DELIVERED, OrderStatus.SHIPPED, OrderStatus.CONFIRMED]
    if status is OrderStatus.PLACED:
        return and_(*(s.is_(None) for s in steps))
    i = order.index(status)
    return and_(*(s.is_(None) for s in steps[:i]), steps[i].isnot(None))


def _late_condition(as_of: date) -> ColumnElement[bool]:
    c = ORDERS.c
    due = func.coalesce(c.due_date, c.promised_date, c.requested_date)
    return or_(
        and_(c.delivered_t.isnot(None), c.delivered_on > due),
        and_(c.delivered_t.is_(None), c.cancelled_t.is_(None), due < as_of),
    )


# -- pages --------------------------------------------------------------------------------------------


def _after(cols: Sequence[Column[Any]], after: Key | None) -> ColumnElement[bool]:
    if after is None:
        return true()
    if len(after) != len(cols):
        raise ValueError(f"a cursor of {cols[0].table.name} holds {len(cols)} values, got {len(after)}")
    later: ColumnElement[bool] = cols[0] > after[0] if len(cols) == 1 else tuple_(*cols) > tuple_(*after)
    return later


KEYS_PER_RANGE = 16
"""Keys a round of ``_bounded_keys`` reads at least from each enterprise's range (PostgreSQL). At 10M
events and a 105-enterprise network, 4 keys took a partner's late orders four rounds (33 ms), 8 three
(33 ms), 16 one (18 ms); a range's keys are index entries, cheap next to a round trip."""
KEYS_PER_PAGE_ROW = 8
"""...and at least this many keys per row of the page over all the ranges (a small network's ranges
each give a larger share of a page)."""


@dataclass(frozen=True)
class Spread:
    """A partner's page as a merge of one index range per enterprise of ``column`` in ``enterprises``
    (every visible row has exactly one), ``column`` the first column of the index the range walks."""

    column: Column[Any]
    enterprises: Collection[str]
    keyed: tuple[ColumnElement[bool], ...] = ()
    """Conditions (also among the page's) on columns of the index the range walks: PostgreSQL then
    reads each range's keys from that index alone and fetches only the rows the merge needs."""


def _page(
    engine: Engine,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    after: Key | None,
    first: int,
    *,
    order: tuple[str, ...] | None = None,
    spread: Spread | None = None,
) -> Page:
    if first < 1:
        raise ValueError(f"first must be at least 1, got {first}")
    order = order or KEYS[table.name]
    cols = [table.c[k] for k in order]
    cond = [_after(cols, after), *where]
    n = first + 1
    with engine.connect() as conn:
        if spread is None:
            stmt = select(table).where(*cond).order_by(*cols).limit(n)
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        elif conn.dialect.name == "postgresql" and spread.keyed:
            rows = _merged_keys_first(conn, table, spread, where, after, order, n)
        elif conn.dialect.name == "postgresql":
            rows = _merged_lateral(conn, table, spread, cond, order, n)
        else:
            rows = _merged_ranges(conn, table, spread, cond, order, n)
    return Page(rows[:first], len(rows) > first, order)


def _merged_lateral(
    conn: Connection,
    table: Table,
    spread: Spread,
    cond: Sequence[ColumnElement[bool]],
    order: tuple[str, ...],
    n: int,
) -> list[Row]:
    """PostgreSQL: one statement, the network unnested and each enterprise's range a LATERAL subquery
    limited to ``n``; the statement's size does not grow with the network."""
    ids = sorted(spread.enterprises)
    unnest = func.unnest(bindparam("spread", value=ids, type_=ARRAY(String)))
    net: Any = unnest.table_valued("enterprise").render_derived(name="net")
    part = (
        select(table)
        .where(spread.column == net.c.enterprise, *cond)
        .order_by(*(table.c[k] for k in order))
        .limit(n)
        .lateral("part")
    )
    stmt = select(part).select_from(net).join(part, true()).order_by(*(part.c[k] for k in order)).limit(n)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def _merged_keys_first(
    conn: Connection,
    table: Table,
    spread: Spread,
    where: Sequence[ColumnElement[bool]],
    after: Key | None,
    order: tuple[str, ...],
    n: int,
) -> list[Row]:
    """PostgreSQL, when the walked index holds the network condition: the merge's keys are read from
    the index alone (``_bounded_keys``, the ``keyed`` conditions checked on the index entries), then
    only the rows the page needs are fetched, by primary key in the merge's order, and checked against
    the page's other conditions. While fewer than ``n`` rows passed, the next keys after the last
    bound are read. Fetching every enterprise's ``n`` candidate rows instead (``_merged_lateral``) cost
    a table read per candidate: ~4,500 for a 105-enterprise network, 115 ms at 10M events."""
    k = _key_alias(table)
    on_k = ClauseAdapter(k)
    (pk,) = table.primary_key.columns
    if order[-1] != pk.name:
        raise ValueError(f"a merged page of {table.name} must end its order with {pk.name}")
    keyed = [on_k.traverse(c) for c in spread.keyed]
    ids = sorted(spread.enterprises)
    per_range = max(KEYS_PER_RANGE, math.ceil(KEYS_PER_PAGE_ROW * n / max(1, len(ids))))
    out: list[Row] = []
    while True:
        keys, bound = _bounded_keys(conn, k, k.c[spread.column.name], keyed, ids, after, order, per_range)
        at = 0
        while at < len(keys):
            need = n - len(out)
            chunk = keys[at : at + (need if at == 0 else 4 * need)]
            at += len(chunk)
            stmt = (
                select(table)
                .where(pk.in_([key[-1] for key in chunk]), *where)
                .order_by(*(table.c[c] for c in order))
                .limit(need)
            )
            out += [dict(r._mapping) for r in conn.execute(stmt)]
            if len(out) >= n:
                return out
        if bound is None:
            return out  # every range was read to its end
        after = bound
        if len(keys) < n:
            per_range *= 2  # the ranges' keys are skewed: read further into each next time


@functools.cache
def _key_alias(table: Table) -> Any:
    """The table as ``k``, the key walk's side of ``_merged_keys_first`` (made once: an alias of a
    40-column table costs ~0.5 ms of column proxies to build)."""
    return table.alias("k")


def _bounded_keys(
    conn: Connection,
    k: Any,
    walked: Any,
    keyed: Sequence[ColumnElement[bool]],
    ids: Sequence[str],
    after: Key | None,
    order: tuple[str, ...],
    per_range: int,
) -> tuple[list[Key], Key | None]:
    """The merge's next keys that are certain, in order, and the bound they end at. Each enterprise's
    range gives at most ``per_range`` keys after ``after`` (a LATERAL ``Index Only Scan``); a range
    that gave that many may hold more after its last, so the merge is certain up to the smallest such
    last key (the bound) and only keys up to it are returned; no full range: every key, bound None.
    So a round reads about ``per_range`` entries per enterprise (4 for a page of 50 in a network of
    105) instead of a page's worth from each (``first`` + 1), which was most of a late-orders page's
    50 ms at 10M events. The comparisons are the server's, so its collation orders the keys."""
    kcols = [k.c[c] for c in order]
    net: Any = (
        func.unnest(bindparam("spread", value=list(ids), type_=ARRAY(String)))
        .table_valued("enterprise")
        .render_derived(name="net")
    )
    part = (
        select(*kcols)
        .where(walked == net.c.enterprise, _after(kcols, after), *keyed)
        .order_by(*kcols)
        .limit(per_range)
        .lateral("part")
    )
    pcols = [part.c[c] for c in order]
    ranked = (
        select(
            *pcols,
            func.row_number().over(partition_by=net.c.enterprise, order_by=pcols).label("rn"),
        )
        .select_from(net)
        .join(part, true())
        .cte("ranked")
    )
    rcols = [ranked.c[c] for c in order]
    bound = (
        select(*(ranked.c[c].label(f"b_{c}") for c in order))
        .where(ranked.c.rn == per_range)
        .order_by(*rcols)
        .limit(1)
        .cte("bound")
    )
    bcols = [bound.c[f"b_{c}"] for c in order]
    stmt = (
        select(*rcols, *bcols)
        .select_from(ranked.outerjoin(bound, true()))
        .where(or_(bcols[0].is_(None), tuple_(*rcols) <= tuple_(*bcols)))
        .order_by(*rcols)
    )
    rows = list(conn.execute(stmt))
    width = len(order)
    keys = [tuple(r[:width]) for r in rows]
    last = tuple(rows[-1][width:]) if rows else ()
    return keys, (last if rows and last[0] is not None else None)


def _merged_ranges(
    conn: Connection,
    table: Table,
    spread: Spread,
    cond: Sequence[ColumnElement[bool]],
    order: tuple[str, ...],
    n: int,
) -> list[Row]:
    """SQLite (in-process, no LATERAL): each enterprise's range of keys, limited to ``n`` and, once
    ``n`` candidates are held, to keys before the ``n``-th of them, read by a statement compiled once on
    the driver's cursor; the keys are merged (SQLite's BINARY collation orders text as Python does,
    dates are ISO text) and the first ``n`` rows read by primary key. The bound keeps an enterprise
    whose range holds few matching rows from being read to the end of its history."""
    cols = [table.c[k] for k in order]
    (pk,) = table.primary_key.columns
    base = [spread.column == bindparam("spread"), *cond]
    below = tuple_(*cols) < tuple_(*(bindparam(f"below_{i}") for i in range(len(cols))))
    if len(cols) == 1:
        below = cols[0] < bindparam("below_0")
    open_ended = _KeyRead(conn, select(*cols).where(*base).order_by(*cols).limit(n))
    bounded = _KeyRead(conn, select(*cols).where(*base, below).order_by(*cols).limit(n))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    best: list[tuple[Any, ...]] = []
    try:
        for e in sorted(spread.enterprises):
            run = bounded.run(cursor, e, best[-1]) if len(best) == n else open_ended.run(cursor, e, ())
            best = heapq.nsmallest(n, best + run)
    finally:
        cursor.close()
    if not best:
        return []
    stmt = select(table).where(pk.in_([k[-1] for k in best])).order_by(*cols)
    return [dict(r._mapping) for r in conn.execute(stmt)]


class _KeyRead:
    """A key read compiled once for the SQLite driver: ``spread`` and ``below_<i>`` set per run."""

    def __init__(self, conn: Connection, stmt: Any) -> None:
        compiled = stmt.compile(dialect=conn.dialect)
        names: list[str] = list(compiled.positiontup or [])
        bound = compiled.construct_params(
            {name: "" for name in names if name.startswith(("spread", "below_"))}
        )
        self.sql = str(compiled)
        self.values = [_driver_value(bound[name]) for name in names]
        self.names = names

    def run(self, cursor: Any, enterprise: str, below: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        for i, name in enumerate(self.names):
            if name == "spread":
                self.values[i] = enterprise
            elif name.startswith("below_"):
                self.values[i] = below[int(name.removeprefix("below_"))]
        return [tuple(k) for k in cursor.execute(self.sql, self.values).fetchall()]


def _driver_value(value: Any) -> Any:
    """A bound value as the record store holds it on SQLite (dates as ISO text)."""
    return value.isoformat() if isinstance(value, date) else value


def _eq(table: Table, **values: Any) -> list[ColumnElement[bool]]:
    return [table.c[k] == v for k, v in values.items() if v is not None]


def _between(col: Any, start: date | None, end: date | None) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if start is not None:
        out.append(col >= start)
    if end is not None:
        out.append(col <= end)
    return out


def _member(
    engine: Engine, col: Any, enterprises: Collection[str], *, nullable: bool = False
) -> ColumnElement[bool]:
    """``col`` in the network, the network bound as one parameter (a JSON array on SQLite, an array on
    PostgreSQL) however often the statement repeats the condition."""
    ids = sorted(enterprises)
    inside: ColumnElement[bool]
    if engine.dialect.name == "postgresql":
        # not ``= ANY``: the planner would AND the buyer index into each range (a bitmap of the
        # enterprise's whole history, then a sort) instead of walking the range in key order
        network = bindparam("network", value=ids, type_=ARRAY(String))
        inside = func.array_position(network, col).isnot(None)
    else:
        as_json = bindparam("network", value=orjson.dumps(ids).decode(), type_=String)
        inside = col.in_(select(literal_column("value")).select_from(func.json_each(as_json)))
    return or_(col.is_(None), inside) if nullable else inside


def _in_array(col: Any, enterprises: Collection[str]) -> ColumnElement[bool]:
    """PostgreSQL: ``col = ANY(network)``, which the server checks with a hash of the array (one probe
    an entry), where ``array_position`` scans the array for each: 0.04 against 0.5 ms per enterprise's
    range of a 105-enterprise network. For a key walk only (``Spread.keyed``): on a full-row range the
    planner would AND the buyer index in (see ``_member``)."""
    inside: ColumnElement[bool] = col == any_(
        bindparam("network_keys", value=sorted(enterprises), type_=ARRAY(String))
    )
    return inside


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _within(
    col: Any, allowed: Collection[str] | None, *, nullable: bool = False
) -> list[ColumnElement[bool]]:
    if allowed is None:
        return []
    inside = col.in_(sorted(allowed))
    return [or_(col.is_(None), inside) if nullable else inside]


def orders(
    engine: Engine,
    *,
    first: int,
    after: Key | None = None,
    supplier_id: str | None = None,
    buyer_id: str | None = None,
    sku: str | None = None,
    status: OrderStatus | None = None,
    late_only: bool = False,
    as_of: date,
    ordered_from: date | None = None,
    ordered_to: date | None = None,
    open_only: bool = False,
    allowed: Collection[str] | None = None,
) -> Page:
    """Orders by id, or with an order-date range by ``(ordered_on, order_id)`` (``ORDERS_BY_DATE``: a
    cursor then holds both); ``late_only``: delivered late, or open past their due date on ``as_of``;
    ``open_only``: neither delivered nor cancelled (placed, confirmed or shipped)."""
    c = ORDERS.c
    order = ORDERS_BY_DATE if ordered_from is not None or ordered_to is not None else KEYS[ORDERS.name]
    if after is not None and order == ORDERS_BY_DATE and len(after) == len(order):
        after = (_day(after[0]), *after[1:])
    where = _eq(ORDERS, supplier_id=supplier_id, buyer_id=buyer_id, sku=sku)
    where += _between(c.ordered_on, ordered_from, ordered_to)
    if status is not None:
        where.append(_status_condition(status))
    if late_only:
        where.append(_late_condition(as_of))
    if open_only:
        where += [c.delivered_t.is_(None), c.cancelled_t.is_(None)]
    spread = None
    if allowed is not None and supplier_id is None and buyer_id is None:
        member = _member(engine, c.buyer_id, allowed)
        where.append(member)
        # the ranges walk (supplier_id, order_id, buyer_id), (supplier_id, ordered_on, order_id,
        # buyer_id) or the cancelled orders' partial index: the buyer and the dates are on the index;
        # a sku's range is not
        keyed: tuple[ColumnElement[bool], ...] = ()
        if sku is None:
            keyed = (_in_array(c.buyer_id, allowed), *_between(c.ordered_on, ordered_from, ordered_to))
        if sku is None and order == KEYS[ORDERS.name] and status is OrderStatus.CANCELLED:
            keyed += (c.cancelled_t.isnot(None),)
        spread = Spread(c.supplier_id, allowed, keyed)
    else:
        where += _within(c.supplier_id, allowed) + _within(c.buyer_id, allowed)
    return _page(engine, ORDERS, where, after, first, order=order, spread=spread)


def shipments(
    engine: Engine,
    *,
    first: int,
    after: Key | None = None,
    supplier_id: str | None = None,
    buyer_id: str | None = None,
    order_id: str | None = None,
    delayed_only: bool = False,
    shipped_from: date | None = None,
    shipped_to: date | None = None,
    allowed: Collection[str] | None = None,
) -> Page:
    """Shipments by id with their latest delay; ``delayed_only``: those with a delay announced."""
    c = SHIPMENTS.c
    where = _eq(SHIPMENTS, supplier_id=supplier_id, buyer_id=buyer_id, order_id=order_id)
    where += _between(c.shipped_on, shipped_from, shipped_to)
    if delayed_only:
        where.append(c.delayed_t.isnot(None))
    spread = None
    if allowed is not None and supplier_id is None and buyer_id is None and order_id is None:
        # the ranges walk (supplier_id, shipment_id, buyer_id), the delayed ones their partial index
        delayed = (c.delayed_t.isnot(None),) if delayed_only else ()
        spread = Spread(c.supplier_id, allowed, (_in_array(c.buyer_id, allowed), *delayed))
        where.append(_member(engine, c.buyer_id, allowed))
    else:
        where += _within(c.supplier_id, allowed) + _within(c.buyer_id, allowed)
    return _page(engine, SHIPMENTS, where, after, first, spread=spread)


def stock(
    engine: Engine,
    *,
    first: int,
    after: Key | None = None,
    enterprise_id: str | None = None,
    sku: str | None = None,
    facility_id: str | None = None,
    max_days_of_cover: float | None = None,
    allowed: Collection[str] | None = None,
) -> Page:
    """Latest stock per (enterprise, sku, site); ``max_days_of_cover``: only those covering at most that
    many days at their daily usage (rows without a positive usage are left out then)."""
    c = STOCK.c
    where = _eq(STOCK, enterprise_id=enterprise_id, sku=sku, facility_id=facility_id)
    if max_days_of_cover is not None:
        where += [c.daily_usage > 0, c.on_hand <= max_days_of_cover * c.daily_usage]
    where += _within(c.enterprise_id, allowed)
    return _page(engine, STOCK, where, after, first)


def capacity(
    engine: Engine,
    *,
    first: int,
    after: Key | None = None,
    enterprise_id: str | None = None,
    sku: str | None = None,
    facility_id: str | None = None,
    min_spare_capacity: float | None = None,
    max_utilization: float | None = None,
    allowed: Collection[str] | None = None,
) -> Page:
    """Latest capacity per (enterprise, sku, site); spare capacity = capacity × (1 − utilization)."""
    c = CAPACITY.c
    where = _eq(CAPACITY, enterprise_id=enterprise_id, sku=sku, facility_id=facility_id)
    if min_spare_capacity is not None:
        where.append(c.capacity_per_day * (1.0 - func.coalesce(c.utilization, 0.0)) >= min_spare_capacity)
    if max_utilization is not None:
        where.append(func.coalesce(c.utilization, 0.0) <= max_utilization)
    where += _within(c.enterprise_id, allowed)
    return _page(engine, CAPACITY, where, after, first)


def quality_incidents(
    engine: Engine,
    *,
    first: int,
    after: Key | None = None,
    supplier_id: str | None = None,
    buyer_id: str | None = None,
    sku: str | None = None,
    severity: str | None = None,
    reported_from: date | None = None,
    reported_to: date | None = None,
    allowed: Collection[str] | None = None,
) -> Page:
    """Quality incidents by id; for a partner, its supplier and its buyer (when named) in its network."""
    c = QUALITY.c
    where = _eq(QUALITY, supplier_id=supplier_id, buyer_id=buyer_id, sku=sku, severity=severity)
    where += _between(c.reported_on, reported_from, reported_to)
    spread = None
    if allowed is not None and supplier_id is None and buyer_id is None:
        # the ranges walk (supplier_id, incident_id, buyer_id)
        keyed = or_(c.buyer_id.is_(None), _in_array(c.buyer_id, allowed))
        spread = Spread(c.supplier_id, allowed, (keyed,))
        where.append(_member(engine, c.buyer_id, allowed, nullable=True))
    else:
        where += _within(c.supplier_id, allowed) + _within(c.buyer_id, allowed, nullable=True)
    return _page(engine, QUALITY, where, after, first, spread=spread)


def equipment_alarms(
    engine: Engine,
    *,
    first: int,
    after: Key | None = None,
    enterprise_id: str | None = None,
    facility_id: str | None = None,
    severity: str | None = None,
    raised_from: date | None = None,
    raised_to: date | None = None,
    allowed: Collection[str] | None = None,
) -> Page:
    """Equipment alarms by id."""
    c = ALARMS.c
    where = _eq(ALARMS, enterprise_id=enterprise_id, facility_id=facility_id, severity=severity)
    where += _between(c.raised_on, raised_from, raised_to)
    if allowed is not None and enterprise_id is None:
        return _page(engine, ALARMS, where, after, first, spread=Spread(c.enterprise_id, allowed))
    where += _within(c.enterprise_id, allowed)
    return _page(engine, ALARMS, where, after, first)


def flow_versions(
    engine: Engine, enterprise_id: str, allowed: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """('<Order|Shipment>:<id>:<group>V', version) of every field group of the enterprise's orders and
    shipments (as supplier or buyer; with ``allowed``, only those between two enterprises in it): what
    the provenance timeline lists for the flow, which lives here and not in the graph."""
    out: list[tuple[str, str]] = []
    with engine.connect() as conn:
        for label, table, key, groups in (
            ("Order", ORDERS, "order_id", ("placed", "confirmed", "shipped", "delivered", "cancelled")),
            ("Shipment", SHIPMENTS, "shipment_id", ("shipped", "delayed")),
        ):
            c = table.c
            where = or_(c.supplier_id == enterprise_id, c.buyer_id == enterprise_id)
            if allowed is not None:
                where = and_(where, c.supplier_id.in_(list(allowed)), c.buyer_id.in_(list(allowed)))
            cols = [c[key]] + [c[f"{g}_{part}"] for g in groups for part in ("t", "seq", "eid")]
            for r in conn.execute(select(*cols).where(where)):
                for i, g in enumerate(groups):
                    t, seq, eid = r[1 + 3 * i], r[2 + 3 * i], r[3 + 3 * i]
                    if t is not None and eid is not None:
                        out.append((f"{label}:{r[0]}:{g}V", version(int(t), int(seq or 0), str(eid))))
    return out
