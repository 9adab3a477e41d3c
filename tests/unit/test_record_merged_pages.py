"""A partner's record pages merged from one index range per network enterprise
(``connectors.record_queries``): the merge holds exactly the rows between enterprises of the network,
in the list's order, and its cursors page through it without gaps or duplicates (PostgreSQL: the
merge's keys read from the index in LATERAL ranges, then the rows; SQLite: per-enterprise range reads
merged). Orders with an order-date range page by
(order date, id). SQLite and the local PostgreSQL (``sql_engine``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from connectors import record_queries as rq
from connectors.record_store import RecordStore
from graph.registry import record_rows
from supplynet.bootstrap import create_sql_tables
from tests.records_world import FlowTruth, OrderTruth, flow

SUPPLIERS = ["m-a", "m-b", "m-c", "m-d"]
BUYERS = ["o-x", "o-y", "m-c", "o-z"]
NETWORK = frozenset({"m-a", "m-c", "o-x", "o-z", "ghost"})
"""A partner's network: two suppliers (one also a buyer), two buyers, one enterprise without rows."""
AS_OF = date(2026, 3, 20)


@pytest.fixture
def store(sql_engine: Engine) -> tuple[Engine, FlowTruth]:
    events, truth = flow("t-", SUPPLIERS, BUYERS, orders=240)
    # ids that sort before every "t-" id, dated the same days: id order and date order differ
    early, early_truth = flow("a-", SUPPLIERS, BUYERS[:2], orders=48)
    RecordStore(sql_engine).write(record_rows(events + early))
    truth.orders.update(early_truth.orders)
    truth.shipments.update(early_truth.shipments)
    truth.quality.update(early_truth.quality)
    truth.alarms.update(early_truth.alarms)
    return sql_engine, truth


def _pages(read: Callable[..., rq.Page], engine: Engine, first: int, **filters: Any) -> list[rq.Key]:
    """Every key of a list, page by page, each page's cursor from the one before."""
    keys: list[rq.Key] = []
    after = None
    while True:
        page = read(engine, first=first, after=after, **filters)
        assert len(page.rows) <= first
        assert page.rows or not page.has_next
        keys += [page.key(r) for r in page.rows]
        if not page.has_next:
            return keys
        after = page.last_key()


def _visible(o: OrderTruth) -> bool:
    return o.supplier in NETWORK and o.buyer in NETWORK


def test_a_partners_merged_order_pages_hold_its_network_in_order_without_gaps_or_duplicates(
    store: tuple[Engine, FlowTruth],
) -> None:
    engine, truth = store
    orders = list(truth.orders.values())
    assert any(not _visible(o) for o in orders) and any(_visible(o) for o in orders)
    start, end = date(2026, 3, 2), date(2026, 3, 5)
    wanted: list[tuple[dict[str, Any], list[rq.Key]]] = [
        ({}, [(o.order_id,) for o in orders if _visible(o)]),
        ({"late_only": True}, [(o.order_id,) for o in orders if _visible(o) and o.late(AS_OF)]),
        (
            {"sku": "t-sku-1", "status": rq.OrderStatus.DELIVERED},
            [(o.order_id,) for o in orders if _visible(o) and o.sku == "t-sku-1" and o.status == "delivered"],
        ),
        (
            {"ordered_from": start, "ordered_to": end},
            [(o.ordered_on, o.order_id) for o in orders if _visible(o) and start <= o.ordered_on <= end],
        ),
        (
            {"open_only": True},
            [(o.order_id,) for o in orders if _visible(o) and o.status in ("placed", "confirmed", "shipped")],
        ),
        # filters few rows pass: PostgreSQL reads the merge's keys in growing rounds until a page is full
        (
            {"status": rq.OrderStatus.CANCELLED},
            [(o.order_id,) for o in orders if _visible(o) and o.status == "cancelled"],
        ),
        (
            {"ordered_from": start, "ordered_to": end, "late_only": True},
            [
                (o.ordered_on, o.order_id)
                for o in orders
                if _visible(o) and start <= o.ordered_on <= end and o.late(AS_OF)
            ],
        ),
    ]
    for filters, want in wanted:
        want.sort()
        assert want, filters
        for first in (1, 4, 50):
            got = _pages(rq.orders, engine, first, as_of=AS_OF, allowed=NETWORK, **filters)
            assert got == want, (filters, first)


@pytest.mark.parametrize("per_range", [1, 3])
def test_a_merge_read_a_few_keys_a_range_at_a_time_still_holds_every_row_once_in_order(
    store: tuple[Engine, FlowTruth], per_range: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's merge reads each range's keys a few at a time and keeps only the keys it is sure
    of (up to the smallest last key of the ranges that may hold more): with 1 or 3 keys a range every
    page takes several rounds, and a round short of keys reads further next time."""
    engine, truth = store
    if engine.dialect.name != "postgresql":
        pytest.skip("the bounded key rounds are PostgreSQL's (SQLite bounds its range reads itself)")
    monkeypatch.setattr(rq, "KEYS_PER_RANGE", per_range)
    monkeypatch.setattr(rq, "KEYS_PER_PAGE_ROW", 0)
    orders = [o for o in truth.orders.values() if _visible(o)]
    start, end = date(2026, 3, 2), date(2026, 3, 9)
    for filters, want in (
        ({}, sorted((o.order_id,) for o in orders)),
        ({"late_only": True}, sorted((o.order_id,) for o in orders if o.late(AS_OF))),
        (
            {"ordered_from": start, "ordered_to": end},
            sorted((o.ordered_on, o.order_id) for o in orders if start <= o.ordered_on <= end),
        ),
    ):
        assert want, filters
        for first in (1, 7, 60):
            got = _pages(rq.orders, engine, first, as_of=AS_OF, allowed=NETWORK, **filters)
            assert got == want, (filters, first)
    delayed = sorted(
        (s,) for s, (sup, buy, late) in truth.shipments.items() if late and {sup, buy} <= NETWORK
    )
    assert _pages(rq.shipments, engine, 2, delayed_only=True, allowed=NETWORK) == delayed


def test_an_order_date_range_pages_by_date_then_id(store: tuple[Engine, FlowTruth]) -> None:
    engine, truth = store
    start, end = date(2026, 3, 2), date(2026, 3, 3)
    in_range = [o for o in truth.orders.values() if start <= o.ordered_on <= end]
    by_date = sorted((o.ordered_on, o.order_id) for o in in_range)
    assert [k[1] for k in by_date] != sorted(o.order_id for o in in_range)  # the two orders differ here
    for first in (1, 7, 500):
        assert _pages(rq.orders, engine, first, as_of=AS_OF, ordered_from=start, ordered_to=end) == by_date
        assert _pages(
            rq.orders, engine, first, as_of=AS_OF, ordered_from=start, ordered_to=end, supplier_id="m-b"
        ) == [k for k in by_date if truth.orders[k[1]].supplier == "m-b"]
    # a cursor as the API hands it back (the date as ISO text) continues the same list
    page = rq.orders(engine, first=3, as_of=AS_OF, ordered_from=start, ordered_to=end)
    last = page.last_key()
    assert last is not None
    rest = rq.orders(
        engine,
        first=500,
        as_of=AS_OF,
        ordered_from=start,
        ordered_to=end,
        after=(last[0].isoformat(), last[1]),
    )
    assert [page.key(r) for r in page.rows + rest.rows] == by_date


def test_a_partners_merged_shipment_incident_and_alarm_pages_keep_to_its_network(
    store: tuple[Engine, FlowTruth],
) -> None:
    engine, truth = store
    delayed = sorted(
        (s,) for s, (sup, buy, late) in truth.shipments.items() if late and {sup, buy} <= NETWORK
    )
    incidents = sorted((q,) for q, (sup, buy) in truth.quality.items() if {sup, buy} <= NETWORK)
    alarms = sorted((a,) for a, e in truth.alarms.items() if e in NETWORK)
    assert delayed and incidents and alarms
    assert len(alarms) < len(truth.alarms) and len(incidents) < len(truth.quality)
    for first in (1, 5):
        assert _pages(rq.shipments, engine, first, delayed_only=True, allowed=NETWORK) == delayed
        assert _pages(rq.quality_incidents, engine, first, allowed=NETWORK) == incidents
        assert _pages(rq.equipment_alarms, engine, first, allowed=NETWORK) == alarms


def test_an_empty_network_sees_no_rows(store: tuple[Engine, FlowTruth]) -> None:
    engine, _ = store
    reads: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (rq.orders, {"as_of": AS_OF}),
        (rq.shipments, {}),
        (rq.equipment_alarms, {}),
    ]
    for read, extra in reads:
        page = read(engine, first=10, allowed=frozenset(), **extra)
        assert (page.rows, page.has_next) == ([], False)


def test_an_existing_store_gets_the_indexes_a_newer_release_declares(sql_engine: Engine) -> None:
    with sql_engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_order_supplier_sku"))
        conn.execute(text("DROP INDEX ix_shipment_supplier_delayed_buyer"))
        # the shipments' supplier index without the buyer, which ix_shipment_supplier_buyer replaced
        conn.execute(text("CREATE INDEX ix_shipment_supplier ON shipment_record (supplier_id, shipment_id)"))
        # an older release's index on (supplier_id, order_id), which ix_order_supplier_buyer replaced
        conn.execute(text("CREATE INDEX ix_order_supplier ON order_record (supplier_id, order_id)"))
        # and the order-date one without the buyer, which ix_order_supplier_ordered_on_buyer replaced
        conn.execute(text("DROP INDEX ix_order_supplier_ordered_on_buyer"))
        conn.execute(
            text(
                "CREATE INDEX ix_order_supplier_ordered_on"
                " ON order_record (supplier_id, ordered_on, order_id)"
            )
        )
    held = {i["name"] for i in inspect(sql_engine).get_indexes("order_record")}
    assert "ix_order_supplier_sku" not in held
    create_sql_tables(sql_engine)
    insp = inspect(sql_engine)
    held = {i["name"] for i in insp.get_indexes("order_record")}
    assert {"ix_order_supplier_sku", "ix_order_supplier_buyer", "ix_order_supplier_ordered_on_buyer"} <= held
    assert not {"ix_order_supplier", "ix_order_supplier_ordered_on"} & held
    shipments = {i["name"] for i in insp.get_indexes("shipment_record")}
    assert {"ix_shipment_supplier_delayed_buyer", "ix_shipment_supplier_buyer"} <= shipments
    assert "ix_shipment_supplier" not in shipments


def test_a_partners_week_is_read_from_the_index_alone_on_sqlite(sql_engine: Engine) -> None:
    """Each network supplier's range of an order-date page checks the buyer in the index: no table
    lookup per order of the range (which cost 30 ms at 10M events, docs/graphql.md)."""
    if sql_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL reads the same range through one LATERAL statement")
    from sqlalchemy import bindparam, select

    c = rq.ORDERS.c
    keys = (
        select(c.ordered_on, c.order_id)
        .where(
            c.supplier_id == bindparam("spread", "m-a"),
            c.ordered_on >= date(2026, 3, 1),
            c.ordered_on <= date(2026, 3, 7),
            rq._member(sql_engine, c.buyer_id, NETWORK),
        )
        .order_by(c.ordered_on, c.order_id)
        .limit(51)
    )
    sql = keys.compile(sql_engine, compile_kwargs={"literal_binds": True})
    with sql_engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "COVERING INDEX ix_order_supplier_ordered_on_buyer" in plan, plan
