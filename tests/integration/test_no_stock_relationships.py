"""The graph holds no stock: stock reports write records and the enterprise's days of cover (with the
batch's KPI row), a link reads its buyer's cover, and the migration turns older releases' ``STOCKS``
relationships into those properties before removing them."""

from __future__ import annotations

from datetime import UTC, datetime

import neo4j
import pytest
from sqlalchemy import Engine

from bench.workload import generate
from connectors.kafka import EventProducer
from connectors.record_store import RecordStore
from graph import kpis
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import NO_STOCK_RELATIONSHIPS, migrate
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from graph.writer import GraphWriter
from schema.validate import decode_event
from streams.projection import Projector
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.test_projection import incoming, project_all


async def test_stock_reports_leave_no_graph_rows_and_cover_reaches_enterprises_and_links(
    stack: Settings, run_id: str, sql_engine: Engine
) -> None:
    prefix = f"{run_id}-cover-"
    raw = generate(prefix=prefix, enterprises=20, events=1500, end=datetime(2026, 9, 1, tzinfo=UTC))
    events = [decode_event(e.value) for e in raw]
    stocked = [ev for ev in events if ev.type == "inventory.reported"]
    assert len(stocked) > 20
    driver: neo4j.AsyncDriver = bootstrap.async_driver(stack)
    dlq = EventProducer(stack.kafka.librdkafka(), "events.dlq")
    group = f"t4-{run_id}-cover"
    try:
        await migrate(driver)
        store = RecordStore(sql_engine)
        projector = Projector(writer=GraphWriter(driver), dlq_out=dlq, group=group, records=store)
        await project_all(projector, incoming(raw), 500)

        records, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise)-[s:STOCKS]->() WHERE e.id STARTS WITH $p RETURN count(s) AS n", p=prefix
        )
        assert records[0]["n"] == 0
        # The enterprises' cover: the newest report per (enterprise, sku, site), by definition.
        newest: dict[tuple[str, str, str], tuple[int, float, float]] = {}
        for ev in stocked:
            d = ev.data
            k = (d.enterprise_id, d.sku, d.facility_id or "")
            if k not in newest or ev.time_ms > newest[k][0]:
                newest[k] = (ev.time_ms, d.on_hand, d.daily_usage)
        by: dict[str, list[kpis.Stock]] = {}
        for (e, sku, _), (_, on_hand, usage) in sorted(newest.items()):
            by.setdefault(e, []).append(kpis.Stock(sku, on_hand, usage))
        records, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p "
            "RETURN e.id AS id, e.daysOfCover AS low, e.coverSkus AS skus, e.coverDays AS days",
            p=prefix,
        )
        graph = {r["id"]: r for r in records}
        for e, stock in by.items():
            want = kpis.cover_kpis(stock)
            assert graph[e]["skus"] == want["coverSkus"], e
            assert graph[e]["days"] == pytest.approx(want["coverDays"], rel=1e-12), e
            assert graph[e]["low"] == pytest.approx(want["daysOfCover"], rel=1e-12), e

        # A link's cover is its buyer's cover of the sku, as risk reads it.
        covered = {
            (e, s.sku): kpis.cover(x for x in stock if x.sku == s.sku)
            for e, stock in by.items()
            for s in stock
        }
        net = await RiskStore(driver, RiskSettings()).network(scope=prefix)
        assert net.links
        for link in net.links:
            assert link.days_of_cover == pytest.approx(covered.get((link.buyer, link.sku))), link
        assert sum(1 for link in net.links if link.days_of_cover is not None) > 3
    finally:
        dlq.close()
        await delete_by_prefix(driver, prefix)
        await delete_offsets(driver, group)
        await driver.close()


async def test_the_migration_turns_stocks_into_cover_and_removes_them(stack: Settings, run_id: str) -> None:
    driver: neo4j.AsyncDriver = bootstrap.async_driver(stack)
    p = f"{run_id}-stocks-"
    try:
        await migrate(driver)
        # What an older release left: STOCKS with their index, a link's own cover, refresh marks.
        await driver.execute_query("CREATE INDEX stocks_site IF NOT EXISTS FOR ()-[s:STOCKS]-() ON (s.site)")
        await driver.execute_query(
            """
            CREATE (b:Enterprise {id: $p + 'buyer', kpiDirty: true, kpiDirtyAt: 1})
            CREATE (s:Enterprise {id: $p + 'mill'})
            CREATE (h:Material {sku: $p + 'HRC'}), (c:Material {sku: $p + 'COIL'})
            CREATE (x:Material {sku: $p + 'X'})
            CREATE (b)-[:STOCKS {site: 'a', onHand: 30.0, dailyUsage: 10.0}]->(h)
            CREATE (b)-[:STOCKS {site: 'b', onHand: 10.0, dailyUsage: 10.0}]->(h)
            CREATE (b)-[:STOCKS {site: '', onHand: 50.0, dailyUsage: 5.0}]->(c)
            CREATE (b)-[:STOCKS {site: '', onHand: 50.0, dailyUsage: 0.0}]->(x)
            CREATE (s)-[:SUPPLIES {sku: $p + 'HRC', daysOfCover: 2.0}]->(b)
            """,
            p=p,
        )
        await driver.execute_query("MATCH (m:SchemaMigration {id: $id}) DELETE m", id=NO_STOCK_RELATIONSHIPS)

        await migrate(driver)

        records, _, _ = await driver.execute_query("MATCH ()-[s:STOCKS]->() RETURN count(s) AS n")
        assert records[0]["n"] == 0
        records, _, _ = await driver.execute_query(
            "SHOW INDEXES YIELD name, labelsOrTypes WHERE 'STOCKS' IN labelsOrTypes OR name STARTS WITH "
            "'enterprise_kpi_' RETURN name"
        )
        assert records == []
        records, _, _ = await driver.execute_query(
            "MATCH (s:Enterprise {id: $p + 'mill'})-[x:SUPPLIES]->(b:Enterprise) "
            f"RETURN b.coverSkus AS skus, b.coverDays AS days, b.kpiDirty AS dirty, x.daysOfCover AS own, "
            f"{kpis.link_cover('x', 'b')} AS cover",
            p=p,
        )
        r = records[0]
        assert r["skus"] == [p + "COIL", p + "HRC"] and r["days"] == [10.0, 2.0]
        assert r["dirty"] is None and r["own"] is None and r["cover"] == 2.0
    finally:
        await delete_by_prefix(driver, p)
        await driver.close()
