"""Equipment alarms are records, never graph rows: an enterprise's and a facility's recent high/critical
alarms ride the enterprise's KPI row, equal to an independent count over the events (the window of
``ALARM_WINDOW_DAYS`` UTC days ending with the stream clock's day), and age out when the clock moves on
without a new alarm. The migration removes the alarm nodes of older releases and fills the counts from
the record store."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import neo4j
import pytest
from sqlalchemy import Engine

from connectors.kafka import EventProducer
from connectors.record_store import RecordStore
from graph.kpis import ALARM_PROPERTIES, ALARM_WINDOW_DAYS
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import NO_ALARM_NODES, migrate
from graph.mutations import to_mutations
from graph.registry import record_rows
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.events import EquipmentAlarm, Industry, InventoryReported, PartnerRegistered, Severity
from streams.projection import Projector
from streams.stages import Incoming
from supplynet import bootstrap
from supplynet.settings import Settings

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
COUNT, FACILITIES, COUNTS = ALARM_PROPERTIES


@pytest.fixture
async def driver(stack: Settings) -> AsyncIterator[neo4j.AsyncDriver]:
    d = bootstrap.async_driver(stack)
    await migrate(d)
    yield d
    await d.close()


def _valid(eid: str, data: Any, at: timedelta, seq: int = 0) -> ValidEvent:
    return ValidEvent(
        id=eid,
        source="mes",
        type=data.TYPE,
        time=T0 + at,
        subject=data.enterprise_id,
        sequence=seq,
        data=data,
    )


def _incoming(events: Sequence[ValidEvent]) -> list[Incoming]:
    return [
        Incoming(topic="test.events.valid", partition=0, offset=i, key=e.subject.encode(), value=e.to_json())
        for i, e in enumerate(events)
    ]


def alarm_events(p: str, seed: int = 11) -> tuple[list[ValidEvent], list[str]]:
    """Partners, then ~300 alarms over 40 days at 6 enterprises (3 facilities each, or none), every
    severity; a fifth re-sent as they were, a tenth sent again later with a new severity or site (a
    newer version), all shuffled within a few hours."""
    r = random.Random(seed)
    ents = [f"{p}e{i}" for i in range(6)]
    evs = [
        _valid(
            f"{p}reg-{e}",
            PartnerRegistered(enterprise_id=e, name=e, industry=Industry.STEEL),
            timedelta(0),
            0,
        )
        for e in ents
    ]
    alarms: list[ValidEvent] = []
    for n in range(300):
        e = r.choice(ents)
        at = timedelta(minutes=r.randint(60, 40 * 24 * 60))
        data = EquipmentAlarm(
            alarm_id=f"{p}a{n}",
            enterprise_id=e,
            equipment_id=f"{e}-press",
            signal="vibration",
            severity=r.choice(list(Severity)),
            facility_id=r.choice([None, f"{e}-f1", f"{e}-f2", f"{e}-f3"]),
        )
        alarms.append(_valid(f"{p}ev{n}", data, at))
        if r.random() < 0.2:
            alarms.append(alarms[-1])
        if r.random() < 0.1:
            newer = EquipmentAlarm(
                alarm_id=data.alarm_id,
                enterprise_id=r.choice(ents),
                equipment_id=data.equipment_id,
                signal=data.signal,
                severity=r.choice(list(Severity)),
                facility_id=r.choice([None, f"{e}-f1"]),
            )
            alarms.append(_valid(f"{p}ev{n}-v2", newer, at + timedelta(hours=r.randint(1, 30))))
    alarms.sort(key=lambda ev: ev.time + timedelta(minutes=r.randint(-300, 300)))
    return evs + alarms, ents


def expected(events: Sequence[ValidEvent], clock_ms: int) -> dict[str, dict[str, Any]]:
    """Each enterprise's alarm properties by their definition, straight from the events: the newest
    version of each alarm (time, sequence, id), high or critical, raised on one of the 14 UTC days
    ending with the clock's day."""
    newest: dict[str, ValidEvent] = {}
    for ev in events:
        if isinstance(ev.data, EquipmentAlarm):
            held = newest.get(ev.data.alarm_id)
            if held is None or (ev.time, ev.sequence, ev.id) > (held.time, held.sequence, held.id):
                newest[ev.data.alarm_id] = ev
    last = datetime.fromtimestamp(clock_ms / 1000, UTC).date()
    first: date = last - timedelta(days=ALARM_WINDOW_DAYS - 1)
    total: dict[str, int] = defaultdict(int)
    sites: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for ev in newest.values():
        a = ev.data
        assert isinstance(a, EquipmentAlarm)
        if a.severity.value in ("high", "critical") and first <= ev.time.astimezone(UTC).date() <= last:
            total[a.enterprise_id] += 1
            if a.facility_id:
                sites[a.enterprise_id][a.facility_id] += 1
    ents = {ev.data.enterprise_id for ev in events if isinstance(ev.data, EquipmentAlarm)}
    return {
        e: {
            COUNT: total.get(e, 0),
            FACILITIES: sorted(sites[e]),
            COUNTS: [sites[e][f] for f in sorted(sites[e])],
        }
        for e in ents
    }


async def _graph_alarms(driver: neo4j.AsyncDriver, ents: Sequence[str]) -> dict[str, dict[str, Any]]:
    rec, _, _ = await driver.execute_query(
        f"UNWIND $ids AS id MATCH (e:Enterprise {{id: id}}) "
        f"RETURN id, coalesce(e.{COUNT}, 0) AS n, coalesce(e.{FACILITIES}, []) AS f, "
        f"coalesce(e.{COUNTS}, []) AS c",
        ids=list(ents),
    )
    return {r["id"]: {COUNT: r["n"], FACILITIES: r["f"], COUNTS: r["c"]} for r in rec}


async def test_alarms_write_no_graph_rows_and_their_counts_equal_the_events_and_age_out(
    driver: neo4j.AsyncDriver, stack: Settings, run_id: str, sql_engine: Engine
) -> None:
    p = f"{run_id}-al{sql_engine.dialect.name[:2]}-"
    events, ents = alarm_events(p)
    group = f"{p}group"
    dlq = EventProducer(stack.kafka.librdkafka(), "events.dlq")
    projector = Projector(
        writer=GraphWriter(driver), dlq_out=dlq, group=group, records=RecordStore(sql_engine)
    )
    try:
        msgs = _incoming(events)
        for i in range(0, len(msgs), 40):
            await projector.project(msgs[i : i + 40])
        rec, _, _ = await driver.execute_query(
            "CALL () { MATCH (a:EquipmentAlarm) RETURN count(a) AS nodes } "
            "CALL () { MATCH ()-[x:RAISED_AT]->() RETURN count(x) AS links } "
            "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p "
            "RETURN nodes, links, sum(COUNT { (e)--() }) AS attached",
            p=p,
        )
        assert dict(rec[0]) == {"nodes": 0, "links": 0, "attached": 0}  # no alarm node, no link at all

        clock = max(int(ev.time.timestamp() * 1000) for ev in events if isinstance(ev.data, EquipmentAlarm))
        want = expected(events, clock)
        assert sum(v[COUNT] for v in want.values()) > 20  # the window holds alarms
        assert any(v[FACILITIES] for v in want.values())
        assert await _graph_alarms(driver, ents) == want
        assert RecordStore(sql_engine).clock() == clock

        # The clock moves 6 days on with a stock report of another enterprise: alarms that left the
        # window leave the counts of enterprises that raised nothing since.
        later = clock + 6 * 86_400_000
        stock = _valid(
            f"{p}stock",
            InventoryReported(enterprise_id=f"{p}depot", sku="HRC", on_hand=10.0, daily_usage=1.0),
            timedelta(milliseconds=later - int(T0.timestamp() * 1000)),
        )
        await projector.project(_incoming([stock]))
        aged = expected(events, later)
        assert sum(v[COUNT] for v in aged.values()) < sum(v[COUNT] for v in want.values())
        assert await _graph_alarms(driver, ents) == aged
    finally:
        dlq.close()
        await delete_by_prefix(driver, p)
        await delete_offsets(driver, group)


async def test_the_migration_removes_alarm_nodes_and_fills_the_counts_from_the_record_store(
    driver: neo4j.AsyncDriver, run_id: str, sql_engine: Engine
) -> None:
    p = f"{run_id}-alm{sql_engine.dialect.name[:2]}-"
    events, ents = alarm_events(p, seed=5)
    # What an older release left: the alarm records in the store, and an alarm node per alarm in the graph.
    store = RecordStore(sql_engine)
    store.apply(record_rows(events))
    await GraphWriter(driver).write(
        to_mutations([ev for ev in events if not isinstance(ev.data, EquipmentAlarm)])
    )
    await driver.execute_query(
        "CREATE CONSTRAINT equipment_alarm_id IF NOT EXISTS FOR (n:EquipmentAlarm) REQUIRE n.id IS UNIQUE"
    )
    await driver.execute_query(
        """
        UNWIND $rows AS r
        MATCH (e:Enterprise {id: r.enterprise})
        MERGE (a:EquipmentAlarm {id: r.id})
        SET a.severity = r.severity, a.facilityId = r.facility, a.raisedAt = r.at
        MERGE (a)-[:RAISED_AT]->(e)
        """,
        rows=[
            {
                "id": ev.data.alarm_id,
                "enterprise": ev.data.enterprise_id,
                "severity": ev.data.severity.value,
                "facility": ev.data.facility_id,
                "at": int(ev.time.timestamp() * 1000),
            }
            for ev in events
            if isinstance(ev.data, EquipmentAlarm)
        ],
    )
    await driver.execute_query("MATCH (m:SchemaMigration {id: $id}) DELETE m", id=NO_ALARM_NODES)
    try:
        await migrate(driver, records=store)

        rec, _, _ = await driver.execute_query(
            "CALL () { MATCH (a:EquipmentAlarm) RETURN count(a) AS nodes } "
            "CALL () { MATCH ()-[x:RAISED_AT]->() RETURN count(x) AS links } RETURN nodes, links"
        )
        assert dict(rec[0]) == {"nodes": 0, "links": 0}
        rec, _, _ = await driver.execute_query(
            "SHOW CONSTRAINTS YIELD name, labelsOrTypes WHERE 'EquipmentAlarm' IN labelsOrTypes RETURN name"
        )
        assert rec == []
        clock = store.clock()
        assert clock is not None
        want = expected(events, clock)
        assert sum(v[COUNT] for v in want.values()) > 20
        assert await _graph_alarms(driver, ents) == want
        await migrate(driver, records=store)  # done once: a second run changes nothing
        assert await _graph_alarms(driver, ents) == want
    finally:
        await delete_by_prefix(driver, p)
