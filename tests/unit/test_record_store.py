"""The record store: writes converge whatever the delivery order (which types write records: test_registry).

Runs against SQLite and the local PostgreSQL (``sql_engine`` in tests/conftest.py).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from connectors.record_store import RecordStore
from graph import kpis
from graph.registry import record_rows
from schema.envelope import ValidEvent
from schema.events import CATALOG
from schema.examples import example_event
from schema.records import OrderRecord, ShipmentRecord, StockRecord
from schema.validate import decode_event

T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)


def _bytes(doc: dict[str, Any]) -> bytes:
    import orjson

    return orjson.dumps(doc)


def _event(event_type: str, eid: str, at: int, data: dict[str, Any], sequence: int = 0) -> ValidEvent:
    doc = example_event(event_type, event_id=eid)
    doc["time"] = (T0 + timedelta(minutes=at)).isoformat()
    doc["sequence"] = sequence
    doc["data"] = data
    doc["subject"] = data[CATALOG[event_type].SUBJECT]
    return decode_event(_bytes(doc))


def _lifecycle(n: int) -> list[ValidEvent]:
    """n orders with their whole lifecycle, a correction of each confirmation, stock reports."""
    out: list[ValidEvent] = []
    for i in range(n):
        ref = {"order_id": f"po-{i}", "buyer_id": "dongfeng", "supplier_id": f"mill-{i % 3}"}
        out += [
            _event(
                "order.placed",
                f"p{i}",
                0,
                {**ref, "sku": "HRC", "quantity": 100 + i, "requested_date": "2026-07-01"},
            ),
            _event(
                "order.confirmed",
                f"c{i}",
                5,
                {**ref, "confirmed_quantity": 90, "promised_date": "2026-07-03"},
            ),
            _event(
                "order.confirmed",
                f"c{i}b",
                6,
                {**ref, "confirmed_quantity": 95, "promised_date": "2026-07-04"},
            ),
            _event(
                "order.shipped",
                f"s{i}",
                10,
                {
                    **ref,
                    "shipment_id": f"sh-{i}",
                    "quantity": 95,
                    "shipped_on": "2026-07-01",
                    "expected_delivery": "2026-07-03",
                },
            ),
            _event(
                "shipment.delayed",
                f"d{i}",
                12,
                {**ref, "shipment_id": f"sh-{i}", "new_expected_delivery": "2026-07-06", "delay_days": 3},
            ),
            _event(
                "order.delivered",
                f"v{i}",
                20,
                {
                    **ref,
                    "quantity_ordered": 100 + i,
                    "quantity_delivered": 95,
                    "promised_date": "2026-07-04",
                    "delivered_on": "2026-07-06",
                },
            ),
            _event(
                "inventory.reported",
                f"i{i}",
                i,
                {"enterprise_id": "dongfeng", "sku": "HRC", "on_hand": float(i), "daily_usage": 10.0},
            ),
        ]
    return out


def _dump(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as s:
        rows: list[tuple[Any, ...]] = []
        for model in (OrderRecord, ShipmentRecord, StockRecord):
            for r in s.exec(select(model)).scalars():  # type: ignore[call-overload]
                rows.append((model.__name__, *sorted(r.model_dump().items())))
    return sorted(rows, key=repr)


def test_replayed_shuffled_and_duplicated_batches_give_the_rows_of_one_ordered_pass(
    sql_engine: Engine,
) -> None:
    events = _lifecycle(30)
    store = RecordStore(sql_engine)
    store.write(record_rows(events))
    reference = _dump(sql_engine)
    again = [*events, *events]
    random.Random(7).shuffle(again)
    for i in range(0, len(again), 37):
        store.write(record_rows(again[i : i + 37]))
    assert _dump(sql_engine) == reference

    with Session(sql_engine) as s:
        po = s.get(OrderRecord, "po-4")
        assert po is not None
        assert po.quantity == 104
        assert (po.confirmed_quantity, po.promised_date) == (95, date(2026, 7, 4))  # the correction won
        assert (po.quantity_delivered, po.delivered_on, po.due_date) == (
            95,
            date(2026, 7, 6),
            date(2026, 7, 4),
        )
        sh = s.get(ShipmentRecord, "sh-4")
        assert sh is not None
        assert (sh.new_expected_delivery, sh.delay_days) == (date(2026, 7, 6), 3)
        stock = s.get(StockRecord, ("dongfeng", "HRC", ""))
        assert stock is not None
        assert stock.on_hand == 29.0  # the newest report of 30, whatever order they came in


def test_a_fresh_store_fed_in_reverse_converges_too(sql_engine: Engine, tmp_path: Any) -> None:
    events = _lifecycle(10)
    store = RecordStore(sql_engine)
    for ev in reversed(events):
        store.write(record_rows([ev]))
    with Session(sql_engine) as s:
        po = s.get(OrderRecord, "po-9")
        assert po is not None
        assert (po.sku, po.confirmed_quantity, po.delivered_on) == ("HRC", 95, date(2026, 7, 6))


def test_a_larger_sequence_wins_at_equal_time_beyond_ten_digits(sql_engine: Engine) -> None:
    ref = {"enterprise_id": "wisco", "sku": "ORE"}
    small = _event(
        "inventory.reported", "a", 0, {**ref, "on_hand": 1.0, "daily_usage": 1.0}, sequence=9_999_999_999
    )
    large = _event(
        "inventory.reported", "b", 0, {**ref, "on_hand": 2.0, "daily_usage": 1.0}, sequence=10_000_000_000
    )
    store = RecordStore(sql_engine)
    store.write(record_rows([large]))
    store.write(record_rows([small]))
    with Session(sql_engine) as s:
        stock = s.get(StockRecord, ("wisco", "ORE", ""))
        assert stock is not None
        assert stock.on_hand == 2.0


def test_kpis_read_while_a_batch_commits_never_tag_old_figures_with_the_new_revision(
    sql_engine: Engine, monkeypatch: Any
) -> None:
    """A KPI refresh reads revisions and buckets in separate statements while batches commit. A row
    tagged with a revision must show at least that revision's figures: the graph applies a row whose
    revision is not older than the stored one, so old figures under a new revision would overwrite the
    batch's own newer row and stay (a delivery missing from the supplier's KPIs)."""
    from connectors import flow_store

    events = _lifecycle(1)
    placed = [ev for ev in events if ev.type != "order.delivered"]
    delivered = [ev for ev in events if ev.type == "order.delivered"]
    store = RecordStore(sql_engine)
    store.write(record_rows(placed))
    revisions = flow_store._revisions
    committed: list[int] = []

    def a_batch_commits_meanwhile(conn: Any, suppliers: Any) -> dict[str, int]:
        if not committed:  # once (the batch's own transaction reads revisions too)
            committed.append(0)
            committed[0] = store.write(record_rows(delivered))
        return revisions(conn, suppliers)

    monkeypatch.setattr(flow_store, "_revisions", a_batch_commits_meanwhile)
    raced = store.kpis(["mill-0"]).suppliers[0]
    monkeypatch.setattr(flow_store, "_revisions", revisions)
    now = store.kpis(["mill-0"]).suppliers[0]
    assert committed == [1]
    assert now["props"]["deliveries90d"] == 1
    assert raced["rev"] < now["rev"] or raced["props"] == now["props"], (raced, now)


def _stock_reports() -> list[ValidEvent]:
    """Stock of three enterprises, two skus at two sites each, reported four times per key (the newest
    wins), plus a sku nobody uses (no cover)."""
    rnd = random.Random(11)
    out: list[ValidEvent] = []
    for e in ("dongfeng", "wisco", "byd"):
        for sku in ("HRC", "COIL"):
            for site in ("", "wuhan-1"):
                for n in range(4):
                    data = {
                        "enterprise_id": e,
                        "sku": sku,
                        "facility_id": site or None,
                        "on_hand": float(rnd.randint(0, 500)),
                        "daily_usage": float(rnd.randint(1, 40)),
                    }
                    out.append(_event("inventory.reported", f"{e}-{sku}-{site}-{n}", n * 10, data))
        idle = {"enterprise_id": e, "sku": "SPARE", "on_hand": 5.0, "daily_usage": 0.0}
        out.append(_event("inventory.reported", f"{e}-spare", 1, idle))
    return out


def _fresh_cover(events: list[ValidEvent]) -> dict[str, dict[str, Any]]:
    """Days of cover straight from the newest report per (enterprise, sku, site), by definition."""
    newest: dict[tuple[str, str, str], ValidEvent] = {}
    for ev in events:
        d = ev.data
        k = (d.enterprise_id, d.sku, d.facility_id or "")
        if k not in newest or ev.time_ms > newest[k].time_ms:
            newest[k] = ev
    by: dict[str, list[kpis.Stock]] = {}
    for (e, sku, _), ev in sorted(newest.items()):
        by.setdefault(e, []).append(kpis.Stock(sku, ev.data.on_hand, ev.data.daily_usage))
    return {e: kpis.cover_kpis(v) for e, v in by.items()}


def _same_cover(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["coverSkus"] == want["coverSkus"]
    assert got["coverDays"] == pytest.approx(want["coverDays"], rel=1e-12)
    assert got["daysOfCover"] == pytest.approx(want["daysOfCover"], rel=1e-12)


def test_days_of_cover_ride_each_batch_and_equal_a_fresh_computation_whatever_the_order(
    sql_engine: Engine,
) -> None:
    """Every batch with stock returns its enterprises' KPI rows with the cover of the stored stock; the
    row the graph keeps (highest revision, ``graph.writer``) equals a fresh computation, for shuffled,
    duplicated and replayed batches alike."""
    events = _stock_reports()
    want = _fresh_cover(events)
    assert want["dongfeng"]["coverSkus"] == ["COIL", "HRC"]  # SPARE is stocked but never used
    store = RecordStore(sql_engine)
    kept: dict[str, dict[str, Any]] = {}
    again = [*events, *events[::3]]
    random.Random(5).shuffle(again)
    for i in range(0, len(again), 7):
        batch = again[i : i + 7]
        rows = store.apply(record_rows(batch)).kpis.suppliers
        assert {r["id"] for r in rows} == {ev.data.enterprise_id for ev in batch}
        for r in rows:
            if r["id"] not in kept or kept[r["id"]]["rev"] <= r["rev"]:
                kept[r["id"]] = r
    assert kept.keys() == want.keys()
    for e, w in want.items():
        _same_cover(kept[e]["props"], w)
    # A replay of everything changes no record: the rows it returns show the same figures.
    for r in store.apply(record_rows(events)).kpis.suppliers:
        assert r["rev"] > kept[r["id"]]["rev"]
        _same_cover(r["props"], want[r["id"]])


def test_an_agreed_link_gets_its_kpi_row_with_the_batch_even_without_flow(sql_engine: Engine) -> None:
    """A new supply link starts with empty windows (and its supplier's row), no refresh needed."""
    store = RecordStore(sql_engine)
    written = store.apply({}, [("mill-1", "dongfeng", "HRC")])
    assert [(r["supplier"], r["buyer"], r["sku"]) for r in written.kpis.links] == [
        ("mill-1", "dongfeng", "HRC")
    ]
    props = written.kpis.links[0]["props"]
    assert props["openOrders"] == 0 and props["deliveries90d"] == 0 and props["otifRate90d"] is None
    assert [r["id"] for r in written.kpis.suppliers] == ["mill-1"]
    # Agreed in a batch whose orders move other links: its row is written all the same.
    written = store.apply(record_rows(_lifecycle(2)), [("mill-9", "dongfeng", "HRC")])
    agreed = {(r["supplier"], r["buyer"], r["sku"]) for r in written.kpis.links}
    assert {("mill-9", "dongfeng", "HRC"), ("mill-0", "dongfeng", "HRC")} <= agreed


def test_window_sums_folded_in_sql_give_the_kpis_of_the_day_buckets_on_every_window_edge(
    sql_engine: Engine,
) -> None:
    """The KPI reads add the day buckets up in SQL per window segment (``flow_store._window_sums``); the
    figures must be those of the day buckets themselves, for links and suppliers, on each edge day."""
    from connectors import flow_store

    at = int(datetime(2026, 6, 30, 15, tzinfo=UTC).timestamp() * 1000)
    end = kpis.day_of(at)
    edges = [
        end + timedelta(days=1),
        end,
        kpis.window_start(at, 30),
        kpis.window_start(at, 30) - timedelta(1),
    ]
    edges += [kpis.window_start(at, 90), kpis.window_start(at, 90) - timedelta(days=1), end - timedelta(45)]
    rnd = random.Random(5)
    truth: dict[tuple[str, str, str], kpis.Buckets] = {}
    day_rows, lead_rows = [], []
    for link in (("mill-0", "dongfeng", "HRC"), ("mill-0", "geely", "CRC"), ("mill-1", "dongfeng", "HRC")):
        b = truth.setdefault(link, kpis.Buckets.empty())
        for day in edges:
            counts = {f: rnd.randint(1, 9) for f in kpis.DAY_FIELDS}
            day_rows.append(
                dict(zip(("supplier_id", "buyer_id", "sku"), link, strict=True), day=day, **counts)
            )
            b.add_day(day, counts)
            for lead in rnd.sample(range(1, 40), 3):
                n = rnd.randint(1, 5)
                lead_rows.append(
                    dict(
                        zip(("supplier_id", "buyer_id", "sku"), link, strict=True),
                        day=day,
                        lead_days=lead,
                        deliveries=n,
                    )
                )
                b.add_lead(day, lead, n)
    with sql_engine.begin() as conn:
        conn.execute(flow_store.LINK_DAY.insert(), day_rows)
        conn.execute(flow_store.LINK_LEAD.insert(), lead_rows)
    with sql_engine.connect() as conn:
        got = flow_store.read_kpis(conn, ["mill-0", "mill-1"], at)
        network = flow_store.supplier_buckets(conn, at)
    for row in got.links:
        assert row["props"] == kpis.bucket_kpis(truth[(row["supplier"], row["buyer"], row["sku"])], at)
    for row in got.suppliers:
        want = kpis.bucket_kpis(flow_store.merged(b for k, b in truth.items() if k[0] == row["id"]), at)
        assert {k: row["props"][k] for k in want} == want
        assert kpis.bucket_kpis(network[row["id"]], at) == want
    assert len(got.links) == 3 and len(got.suppliers) == 2
    assert got.suppliers[0]["props"]["deliveries30d"] > 0 and got.suppliers[0]["props"]["leadTimeP90Days90d"]


def test_a_new_day_names_the_rows_it_moves_due_and_they_are_read_at_the_clock_until_done(
    sql_engine: Engine,
) -> None:
    """A batch that moves the clock into a new day returns the rows of the enterprises it touched only;
    those of the enterprises whose deliveries left a window are named in ``clock_due``, read at the clock
    in bounded reads, and forgotten once done — unless a later day named them again."""
    store = RecordStore(sql_engine)
    store.apply(record_rows(_lifecycle(6)))  # mill-0..2 deliver to dongfeng on T0's day
    mills = ["mill-0", "mill-1", "mill-2"]
    assert store.due(10).entries == []

    def stock(eid: str, days: int) -> ValidEvent:
        data = {"enterprise_id": "depot", "sku": "HRC", "on_hand": 5.0, "daily_usage": 1.0}
        return _event("inventory.reported", eid, days * 1440, data)

    # 31 days on: the deliveries leave the 30-day window; the batch names the depot only.
    written = store.apply(record_rows([stock("st31", 31)]))
    assert [r["id"] for r in written.kpis.suppliers] == ["depot"] and written.kpis.links == []
    first = store.due(2)  # at most two enterprises per read
    assert sorted({e["supplier_id"] for e in first.entries}) == mills[:2]
    assert sorted(r["id"] for r in first.kpis.suppliers) == mills[:2]
    assert {(r["supplier"], r["buyer"], r["sku"]) for r in first.kpis.links} == {
        (m, "dongfeng", "HRC") for m in mills[:2]
    }
    fresh = {r["id"]: r for r in store.kpis(mills[:2]).suppliers}
    for r in first.kpis.suppliers:  # the figures at the clock, under a revision at least as new
        assert r["props"] == fresh[r["id"]]["props"] and r["rev"] == fresh[r["id"]]["rev"]
        assert r["props"]["deliveries30d"] == 0 and r["props"]["deliveries90d"] == 2
    store.done(first.entries)
    assert sorted({e["supplier_id"] for e in store.due(10).entries}) == ["mill-2"]

    # 95 days on, before mill-2's entry is done: the 90-day window loses them too. Entries read before
    # that day are not forgotten by their ``done``.
    stale = store.due(10)
    store.apply(record_rows([stock("st95", 95)]))
    store.done(stale.entries)
    again = store.due(10)
    assert sorted({e["supplier_id"] for e in again.entries}) == mills
    assert all(r["props"]["deliveries90d"] == 0 for r in again.kpis.suppliers)
    store.done(again.entries)
    assert store.due(10).entries == []
