"""The project stage writes the flow's records to the SQL store (SQLite and PostgreSQL) before each graph
batch: the records equal an independent computation from the events, in order, shuffled with duplicates,
and across a worker killed with SIGKILL mid-stream and restarted."""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import neo4j
import orjson
import pytest
from sqlalchemy import Engine, Table, select

from bench.workload import Event, generate
from connectors import flow_store
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from connectors.record_store import RecordStore
from graph import kpis
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.registry import record_rows
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.events import InventoryReported, QualityIncident, Severity
from schema.records import (
    CapacityRecord,
    EquipmentAlarmRecord,
    OrderRecord,
    QualityIncidentRecord,
    ShipmentRecord,
    StockRecord,
)
from streams.projection import Projector
from streams.stages import Incoming
from supplynet.settings import Settings
from tests.integration.test_projection import incoming, project_all
from tests.integration.topic_reader import read_from
from tests.integration.worker_proc import own_topics, spawn_worker, stop

pytestmark = pytest.mark.timeout(420)

END = datetime(2026, 9, 1, tzinfo=UTC)

# -- the reference: records computed from the events alone --------------------------------------------

Fields = dict[str, Callable[[dict[str, Any], date], Any]]


def _f(name: str) -> Callable[[dict[str, Any], date], Any]:
    return lambda d, _: d.get(name)


def _day(name: str) -> Callable[[dict[str, Any], date], Any]:
    return lambda d, _: date.fromisoformat(d[name]) if d.get(name) else None


def _event_day(_: dict[str, Any], on: date) -> date:
    return on


def _or_blank(name: str) -> Callable[[dict[str, Any], date], Any]:
    return lambda d, _: d.get(name) or ""


_PARTIES: Fields = {"supplier_id": _f("supplier_id"), "buyer_id": _f("buyer_id")}

# event type -> [(table, key columns, group, columns written)]
WRITES: dict[str, list[tuple[str, tuple[str, ...], str, Fields]]] = {
    "order.placed": [
        (
            "order_record",
            ("order_id",),
            "placed",
            {
                **_PARTIES,
                "sku": _f("sku"),
                "quantity": _f("quantity"),
                "requested_date": _day("requested_date"),
                "ordered_on": _event_day,
                "unit_price": _f("unit_price"),
                "currency": _f("currency"),
            },
        )
    ],
    "order.confirmed": [
        (
            "order_record",
            ("order_id",),
            "confirmed",
            {
                **_PARTIES,
                "confirmed_quantity": _f("confirmed_quantity"),
                "promised_date": _day("promised_date"),
            },
        )
    ],
    "order.shipped": [
        (
            "order_record",
            ("order_id",),
            "shipped",
            {
                **_PARTIES,
                "shipped_quantity": _f("quantity"),
                "shipped_on": _day("shipped_on"),
                "expected_delivery": _day("expected_delivery"),
            },
        ),
        (
            "shipment_record",
            ("shipment_id",),
            "shipped",
            {
                **_PARTIES,
                "order_id": _f("order_id"),
                "quantity": _f("quantity"),
                "shipped_on": _day("shipped_on"),
                "expected_delivery": _day("expected_delivery"),
                "carrier_id": _f("carrier_id"),
            },
        ),
    ],
    "shipment.delayed": [
        (
            "shipment_record",
            ("shipment_id",),
            "delayed",
            {
                **_PARTIES,
                "order_id": _f("order_id"),
                "new_expected_delivery": _day("new_expected_delivery"),
                "delay_days": _f("delay_days"),
                "delay_reason": _f("reason"),
            },
        )
    ],
    "order.delivered": [
        (
            "order_record",
            ("order_id",),
            "delivered",
            {
                **_PARTIES,
                "quantity_delivered": _f("quantity_delivered"),
                "delivered_on": _day("delivered_on"),
                "due_date": _day("promised_date"),
                "delivered_quantity_ordered": _f("quantity_ordered"),
                "delivered_ordered_on": _day("ordered_on"),
            },
        )
    ],
    "order.cancelled": [
        (
            "order_record",
            ("order_id",),
            "cancelled",
            {**_PARTIES, "cancelled_on": _event_day, "cancel_reason": _f("reason")},
        )
    ],
    "inventory.reported": [
        (
            "stock_record",
            ("enterprise_id", "sku", "facility_id"),
            "report",
            {"on_hand": _f("on_hand"), "daily_usage": _f("daily_usage"), "reported_on": _event_day},
        )
    ],
    "capacity.reported": [
        (
            "capacity_record",
            ("enterprise_id", "sku", "facility_id"),
            "report",
            {
                "capacity_per_day": _f("capacity_per_day"),
                "utilization": _f("utilization"),
                "reported_on": _event_day,
            },
        )
    ],
    "quality.incident": [
        (
            "quality_incident_record",
            ("incident_id",),
            "report",
            {
                **_PARTIES,
                "sku": _f("sku"),
                "severity": _f("severity"),
                "defect_ppm": _f("defect_ppm"),
                "description": _f("description"),
                "reported_on": _event_day,
            },
        )
    ],
    "equipment.alarm": [
        (
            "equipment_alarm_record",
            ("alarm_id",),
            "report",
            {
                "enterprise_id": _f("enterprise_id"),
                "equipment_id": _f("equipment_id"),
                "facility_id": _f("facility_id"),
                "signal": _f("signal"),
                "severity": _f("severity"),
                "predicted_failure_days": _f("predicted_failure_days"),
                "raised_on": _event_day,
            },
        )
    ],
}

KEY_OR_BLANK = {"sku", "facility_id"}
"""Key columns of stock and capacity where an absent value is stored as ``""``."""

TABLES: dict[str, Table] = {
    m.__tablename__: m.__table__  # type: ignore[attr-defined]
    for m in (
        OrderRecord,
        ShipmentRecord,
        StockRecord,
        CapacityRecord,
        QualityIncidentRecord,
        EquipmentAlarmRecord,
    )
}


def expected_records(events: Iterable[Event]) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """table -> key -> columns: every event applied in (time, sequence, id) order, each group's fields
    overwritten by the later event (so duplicates and delivery order cannot matter)."""
    docs = {e.id: orjson.loads(e.value) for e in events}  # a re-sent copy is the same event
    ordered = sorted(docs.values(), key=lambda d: (_ms(d["time"]), d.get("sequence", 0), d["id"]))
    out: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t: {} for t in TABLES}
    for doc in ordered:
        data, t = doc["data"], _ms(doc["time"])
        on = datetime.fromtimestamp(t / 1000, UTC).date()
        for table, key, group, fields in WRITES.get(doc["type"], []):
            k = tuple((data.get(c) or "") if c in KEY_OR_BLANK else data[c] for c in key)
            row = out[table].setdefault(k, dict(zip(key, k, strict=True)))
            row.update({c: fn(data, on) for c, fn in fields.items()})
            row.update({f"{group}_t": t, f"{group}_seq": doc.get("sequence", 0), f"{group}_eid": doc["id"]})
    return out


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def stored_records(engine: Engine, prefix: str) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """table -> key -> its non-null columns, for the rows whose first key column starts with ``prefix``."""
    out: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, table in TABLES.items():
            key = [c.name for c in table.primary_key.columns]
            rows = conn.execute(select(table).where(table.c[key[0]].startswith(prefix))).mappings()
            out[name] = {
                tuple(r[c] for c in key): {c: v for c, v in r.items() if v is not None} for r in rows
            }
    return out


def assert_records_match(engine: Engine, prefix: str, events: Sequence[Event]) -> None:
    want = expected_records(events)
    got = stored_records(engine, prefix)
    for table in TABLES:
        expected = {k: {c: v for c, v in row.items() if v is not None} for k, row in want[table].items()}
        assert got[table].keys() == expected.keys(), table
        for k, row in expected.items():
            assert got[table][k] == pytest.approx(row), (table, k)
    assert sum(len(t) for t in want.values()) > 500
    assert want["order_record"] and want["shipment_record"] and want["stock_record"]
    assert_aggregates_match(engine, prefix, want)


def stored_buckets(engine: Engine, prefix: str) -> dict[kpis.Cell, int]:
    """The flow's bucket cells of the suppliers whose id starts with ``prefix`` (zero cells left out)."""
    out: dict[kpis.Cell, int] = {}
    with engine.connect() as conn:
        t = flow_store.LINK_DAY
        for r in conn.execute(select(t).where(t.c.supplier_id.startswith(prefix))).mappings():
            link = (r["supplier_id"], r["buyer_id"], r["sku"])
            for f in kpis.DAY_FIELDS:
                if r[f]:
                    out[("day", link, r["day"], f)] = r[f]
        t = flow_store.LINK_LEAD
        for r in conn.execute(select(t).where(t.c.supplier_id.startswith(prefix))).mappings():
            if r["deliveries"]:
                link = (r["supplier_id"], r["buyer_id"], r["sku"])
                out[("lead", link, r["day"], r["lead_days"])] = r["deliveries"]
        t = flow_store.LINK_OPEN
        for r in conn.execute(select(t).where(t.c.supplier_id.startswith(prefix))).mappings():
            if r["open_orders"]:
                out[("open", (r["supplier_id"], r["buyer_id"], r["sku"]))] = r["open_orders"]
    return out


def assert_aggregates_match(
    engine: Engine, prefix: str, want: dict[str, dict[tuple[Any, ...], dict[str, Any]]]
) -> None:
    """The incrementally kept buckets equal a fresh aggregation of the records the events should leave."""
    expected: dict[kpis.Cell, int] = {}
    for table, cells in (
        ("order_record", kpis.order_cells),
        ("quality_incident_record", kpis.incident_cells),
    ):
        for row in want[table].values():
            for cell, n in cells(defaultdict(lambda: None, row)).items():
                expected[cell] = expected.get(cell, 0) + n
    expected = {c: n for c, n in expected.items() if n}
    assert any(c[0] == "day" for c in expected) and any(c[0] == "open" for c in expected)
    assert stored_buckets(engine, prefix) == expected


# -- in process: one projector, any order, duplicates ---------------------------------------------------


@pytest.fixture
def dlq(stack: Settings, run_id: str) -> tuple[str, EventProducer]:
    topic = f"t13-{run_id}-{uuid.uuid4().hex[:6]}.events.dlq"
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topic, 1)])
    return topic, EventProducer(stack.kafka.librdkafka(), topic)


async def test_records_equal_the_events_in_order_and_shuffled_with_duplicates(
    driver: neo4j.AsyncDriver, sql_engine: Engine, run_id: str, dlq: tuple[str, EventProducer]
) -> None:
    writer, store = GraphWriter(driver), RecordStore(sql_engine)
    in_order, shuffled = f"rc{run_id}-io-", f"rc{run_id}-sh-"
    events = generate(prefix=in_order, enterprises=30, events=2500, end=END)
    other = generate(prefix=shuffled, enterprises=30, events=2500, end=END)
    rnd = random.Random(13)
    scrambled = other + rnd.sample(other, len(other) // 5)  # 20% re-sent (same id, new offset)
    rnd.shuffle(scrambled)
    try:
        for prefix, evs, size in ((in_order, events, 500), (shuffled, scrambled, 170)):
            proj = Projector(writer=writer, dlq_out=dlq[1], group=f"t13-{prefix}", records=store)
            await project_all(proj, incoming(evs), size)
        assert_records_match(sql_engine, in_order, events)
        assert_records_match(sql_engine, shuffled, scrambled)
    finally:
        dlq[1].close()
        for prefix in (in_order, shuffled):
            await delete_by_prefix(driver, prefix)
            await delete_offsets(driver, f"t13-{prefix}")


async def test_an_event_the_record_store_refuses_is_dead_lettered_and_not_projected(
    driver: neo4j.AsyncDriver,
    sql_engine: Engine,
    run_id: str,
    dlq: tuple[str, EventProducer],
    stack: Settings,
) -> None:
    """PostgreSQL refuses a NUL character in text, which the event contract lets through; SQLite keeps it."""
    topic, dlq_out = dlq
    p = f"rc{run_id}-nul-"
    proj = Projector(
        writer=GraphWriter(driver), dlq_out=dlq_out, group=f"t13-{p}", records=RecordStore(sql_engine)
    )
    incidents = [
        ValidEvent(
            id=f"{p}q{i}",
            source="qms",
            type=QualityIncident.TYPE,
            time=END + timedelta(seconds=i),
            subject=f"{p}mill",
            sequence=0,
            data=QualityIncident(
                incident_id=f"{p}inc{i}",
                supplier_id=f"{p}mill",
                sku="HRC",
                severity=Severity.HIGH,
                defect_ppm=120.0,
                description="burr\x00edge" if i == 3 else "burr",
            ),
        )
        for i in range(8)
    ]
    msgs = [
        Incoming(
            topic="test.events.valid", partition=0, offset=i, key=ev.subject.encode(), value=ev.to_json()
        )
        for i, ev in enumerate(incidents)
    ]
    postgres = sql_engine.dialect.name == "postgresql"
    try:
        done = await proj.project(msgs)
        assert (done.applied, done.dead_lettered) == ((7, 1) if postgres else (8, 0))
        with sql_engine.connect() as conn:
            t = TABLES["quality_incident_record"]
            stored: set[str] = set(
                conn.execute(select(t.c.incident_id).where(t.c.incident_id.startswith(p))).scalars()
            )
        rec, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise {id: $id}) RETURN e.qualityIncidents90d AS n", id=f"{p}mill"
        )
        assert rec[0]["n"] == len(stored)  # what the store refused, the supplier's KPIs never counted
        assert (f"{p}inc3" in stored) is not postgres
        assert len(stored) == (7 if postgres else 8)
        if postgres:
            [dead] = read_from(stack, topic, {0: 0}, done=lambda got: len(got) >= 1, settle_s=1.0)
            headers = {k: v for k, v in dead.headers() or [] if isinstance(v, bytes)}
            assert headers["supplynet.stage"] == b"project"
            assert headers["supplynet.event.id"] == f"{p}q3".encode()
            assert b"record store refused" in headers["supplynet.reason"]
    finally:
        dlq_out.close()
        await delete_by_prefix(driver, p)
        await delete_offsets(driver, f"t13-{p}")


async def test_kpi_rows_a_killed_workers_new_day_named_are_written_by_the_next_projector(
    driver: neo4j.AsyncDriver, sql_engine: Engine, run_id: str, dlq: tuple[str, EventProducer]
) -> None:
    """A worker killed after its record transaction moved the clock into a new day and before its graph
    transaction: the rows that day moved (of enterprises its batch did not name) wait in ``clock_due``,
    and the next projector of the store writes them (here between batches), equal to a fresh read at
    the clock, and forgets them."""
    p = f"rc{run_id}-due-"
    writer, store = GraphWriter(driver), RecordStore(sql_engine)
    events = generate(prefix=p, enterprises=20, events=1500, end=END)
    try:
        first = Projector(writer=writer, dlq_out=dlq[1], group=f"t13-{p}", records=store)
        await project_all(first, incoming(events), 500)
        assert store.due(1000).entries == []  # each batch's own rollovers were written with it
        # The killed worker's last batch: a stock report 40 days on, its records committed, no graph.
        report = ValidEvent(
            id=f"{p}late-stock",
            source="erp",
            type=InventoryReported.TYPE,
            time=END + timedelta(days=40),
            subject=f"{p}ent0",
            sequence=0,
            data=InventoryReported(enterprise_id=f"{p}ent0", sku="HRC", on_hand=10.0, daily_usage=1.0),
        )
        store.apply(record_rows([report]))
        moved = sorted({e["supplier_id"] for e in store.due(1000).entries})
        assert len(moved) >= 5 and f"{p}ent0" not in moved

        async def deliveries30d() -> dict[str, int]:
            rec, _, _ = await driver.execute_query(
                "MATCH (e:Enterprise) WHERE e.id IN $ids RETURN e.id AS id, e.deliveries30d AS n", ids=moved
            )
            return {r["id"]: r["n"] for r in rec}

        assert any((await deliveries30d()).values())  # the graph still shows the old window
        successor = Projector(writer=writer, dlq_out=dlq[1], group=f"t13-{p}", records=store)
        await successor.idle()
        assert store.due(1000).entries == []
        assert await deliveries30d() == dict.fromkeys(moved, 0)
        fresh = store.kpis(moved).suppliers
        rec, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise) WHERE e.id IN $ids RETURN e.id AS id, properties(e) AS props", ids=moved
        )
        held = {r["id"]: r["props"] for r in rec}
        for row in fresh:
            assert {k: held[row["id"]].get(k) for k in row["props"]} == row["props"]
    finally:
        dlq[1].close()
        await delete_by_prefix(driver, p)
        await delete_offsets(driver, f"t13-{p}")


# -- a real worker, killed with SIGKILL mid-stream ------------------------------------------------------


async def test_records_survive_a_worker_killed_mid_stream(
    stack: Settings, driver: neo4j.AsyncDriver, sql_engine: Engine, run_id: str, tmp_path: Path
) -> None:
    tag = f"rc{run_id}k{uuid.uuid4().hex[:4]}"
    own = own_topics(stack, f"t13-{tag}.")
    ids, group = f"{tag}-", f"t13-{tag}"
    events = generate(prefix=ids, enterprises=60, events=6000, end=END)
    rnd = random.Random(5)
    sent = events + rnd.sample(events, len(events) // 10)  # 10% duplicates, later in the log
    producer = EventProducer(own.kafka.librdkafka(), own.stream.topic_prefix + "events.valid")
    ends: dict[int, int] = {}
    for d in producer.send_many(Record(key=e.key, value=e.value) for e in sent):
        ends[d.partition] = max(ends.get(d.partition, 0), d.offset + 1)
    producer.close()
    topic = own.stream.topic_prefix + "events.valid"
    url = sql_engine.url.render_as_string(hide_password=False)
    log = tmp_path / "worker.log"
    env = {
        "SUPPLYNET_SQL_URL": url,
        "SUPPLYNET_STREAM__BATCH_SIZE": "100",
        "SUPPLYNET_STREAM__INSTANCE_ID": group,
    }
    writer = GraphWriter(driver)
    proc = spawn_worker(own, group, log, **env)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and sum((await writer.stored_offsets(group, topic)).values()) == 0:
            assert proc.poll() is None, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        stop(proc, signal.SIGKILL)
        progress = sum((await writer.stored_offsets(group, topic)).values())
        assert 0 < progress < sum(ends.values()), "the kill did not land mid-stream"
        proc = spawn_worker(own, group, log, **env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            stored = await writer.stored_offsets(group, topic)
            if all(stored.get(p, 0) >= o for p, o in ends.items()):
                break
            assert proc.poll() is None, log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        assert await writer.stored_offsets(group, topic) == ends
        assert_records_match(sql_engine, ids, sent)
        assert "starts at graph offset" in log.read_text()
    finally:
        stop(proc)
        await delete_by_prefix(driver, ids)
        await delete_offsets(driver, group)
