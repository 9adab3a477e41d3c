"""Record-store reads (``connectors.record_queries``): keyset pages concatenate to the whole ordered
list, filters pick what the events say, a partner's network bounds the rows.

The store is written through ``connectors.record_store`` from catalog events; SQLite and the local
PostgreSQL (``sql_engine`` in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors import record_queries as rq
from connectors.record_store import RecordStore
from graph.registry import record_rows
from tests.records_world import FlowTruth, flow

SUPPLIERS = ["mill-a", "mill-b", "mill-c"]
BUYERS = ["oem-x", "oem-y", "mill-c"]
AS_OF = date(2026, 3, 20)


@pytest.fixture
def store(sql_engine: Engine) -> tuple[Engine, FlowTruth]:
    events, truth = flow("t-", SUPPLIERS, BUYERS, orders=400)
    RecordStore(sql_engine).write(record_rows(events))
    return sql_engine, truth


def _all(read: Callable[..., rq.Page], table: Any, engine: Engine, first: int, **filters: Any) -> list[Any]:
    """Every key of a list, page by page; checks no page is empty while more follow."""
    keys: list[Any] = []
    after = None
    while True:
        page = read(engine, first=first, after=after, **filters)
        assert page.rows or not page.has_next
        keys += [tuple(r[k] for k in rq.KEYS[table.name]) for r in page.rows]
        if not page.has_next:
            return keys
        after = page.last_key()


@pytest.mark.parametrize("first", [1, 7, 50, 500])
def test_order_pages_concatenate_to_the_whole_list_in_id_order_without_duplicates(
    store: tuple[Engine, FlowTruth], first: int
) -> None:
    engine, truth = store
    keys = _all(rq.orders, rq.ORDERS, engine, first, as_of=AS_OF)
    assert keys == [(o,) for o in sorted(truth.orders)]


def test_order_filters_pick_the_orders_the_events_describe(store: tuple[Engine, FlowTruth]) -> None:
    engine, truth = store
    orders = truth.orders.values()

    def ids(**filters: Any) -> list[str]:
        return [k[0] for k in _all(rq.orders, rq.ORDERS, engine, 13, as_of=AS_OF, **filters)]

    assert ids(supplier_id="mill-b") == sorted(o.order_id for o in orders if o.supplier == "mill-b")
    assert ids(buyer_id="mill-c", sku="t-sku-1") == sorted(
        o.order_id for o in orders if o.buyer == "mill-c" and o.sku == "t-sku-1"
    )
    for status in rq.OrderStatus:
        want = sorted(o.order_id for o in orders if o.status == status.value)
        assert want and ids(status=status) == want, status
    still_open = sorted(o.order_id for o in orders if o.status in ("placed", "confirmed", "shipped"))
    assert still_open and len(still_open) < len(truth.orders)
    assert ids(open_only=True) == still_open
    assert ids(open_only=True, status=rq.OrderStatus.SHIPPED) == sorted(
        o.order_id for o in orders if o.status == "shipped"
    )
    assert ids(open_only=True, status=rq.OrderStatus.DELIVERED) == []
    late = sorted(o.order_id for o in orders if o.late(AS_OF))
    assert late and len(late) < len(truth.orders)
    assert ids(late_only=True) == late
    assert ids(late_only=True, supplier_id="mill-a", status=rq.OrderStatus.DELIVERED) == sorted(
        o.order_id for o in orders if o.late(AS_OF) and o.supplier == "mill-a" and o.status == "delivered"
    )
    start, end = date(2026, 3, 5), date(2026, 3, 9)
    # an order-date range is ordered by (order date, id), its cursor holding both
    assert ids(ordered_from=start, ordered_to=end) == [
        o.order_id
        for o in sorted(orders, key=lambda o: (o.ordered_on, o.order_id))
        if start <= o.ordered_on <= end
    ]
    # each row reads as its events say
    page = rq.orders(engine, first=500, as_of=AS_OF)
    for r in page.rows:
        o = truth.orders[r["order_id"]]
        assert (rq.order_status(r).value, rq.order_is_late(r, AS_OF), r["unit_price"]) == (
            o.status,
            o.late(AS_OF),
            o.unit_price,
        )


def test_a_partner_network_keeps_only_rows_whose_enterprises_are_all_in_it(
    store: tuple[Engine, FlowTruth],
) -> None:
    engine, truth = store
    allowed = {"mill-a", "oem-x", "mill-c"}
    got = [k[0] for k in _all(rq.orders, rq.ORDERS, engine, 17, as_of=AS_OF, allowed=allowed)]
    assert got == sorted(o.order_id for o in truth.orders.values() if {o.supplier, o.buyer} <= allowed)
    got = [k[0] for k in _all(rq.shipments, rq.SHIPMENTS, engine, 17, allowed=allowed)]
    assert got == sorted(s for s, (sup, buy, _) in truth.shipments.items() if {sup, buy} <= allowed)
    got = [k[0] for k in _all(rq.quality_incidents, rq.QUALITY, engine, 5, allowed=allowed)]
    assert got == sorted(q for q, (sup, buy) in truth.quality.items() if {sup, buy} <= allowed)
    got = [k[0] for k in _all(rq.equipment_alarms, rq.ALARMS, engine, 5, allowed=allowed)]
    assert got == sorted(a for a, e in truth.alarms.items() if e in allowed)
    assert _all(rq.stock, rq.STOCK, engine, 4, allowed=allowed) == sorted(
        k for k in truth.stock if k[0] in allowed
    )


def test_shipments_delays_stock_cover_and_spare_capacity(store: tuple[Engine, FlowTruth]) -> None:
    engine, truth = store
    assert _all(rq.shipments, rq.SHIPMENTS, engine, 9) == [(s,) for s in sorted(truth.shipments)]
    assert _all(rq.shipments, rq.SHIPMENTS, engine, 9, delayed_only=True, supplier_id="mill-a") == [
        (s,) for s, (sup, _, delayed) in sorted(truth.shipments.items()) if delayed and sup == "mill-a"
    ]
    assert _all(rq.stock, rq.STOCK, engine, 5) == sorted(truth.stock)
    assert _all(rq.stock, rq.STOCK, engine, 5, max_days_of_cover=20.0) == sorted(
        k for k, cover in truth.stock.items() if cover is not None and cover <= 20.0
    )
    assert _all(rq.stock, rq.STOCK, engine, 5, enterprise_id="oem-y", sku="t-sku-1") == sorted(
        k for k in truth.stock if k[0] == "oem-y" and k[1] == "t-sku-1"
    )
    for r in rq.stock(engine, first=500).rows:
        key = (r["enterprise_id"], r["sku"], r["facility_id"])
        assert rq.days_of_cover(r["on_hand"], r["daily_usage"]) == pytest.approx(truth.stock[key])
    assert _all(rq.capacity, rq.CAPACITY, engine, 6) == sorted(truth.capacity)
    assert _all(rq.capacity, rq.CAPACITY, engine, 6, min_spare_capacity=1500.0) == sorted(
        k for k, spare in truth.capacity.items() if spare >= 1500.0 - 1e-9
    )
    for r in rq.capacity(engine, first=500).rows:
        key = (r["enterprise_id"], r["sku"], r["facility_id"])
        assert rq.spare_capacity(r["capacity_per_day"], r["utilization"]) == pytest.approx(
            truth.capacity[key]
        )
    assert _all(rq.quality_incidents, rq.QUALITY, engine, 8, supplier_id="mill-c") == [
        (q,) for q, (s, _) in sorted(truth.quality.items()) if s == "mill-c"
    ]
    assert _all(rq.equipment_alarms, rq.ALARMS, engine, 8) == [(a,) for a in sorted(truth.alarms)]


def test_a_cursor_of_the_wrong_width_is_refused(store: tuple[Engine, FlowTruth]) -> None:
    with pytest.raises(ValueError, match="holds 3 values"):
        rq.stock(store[0], first=5, after=("x",))
