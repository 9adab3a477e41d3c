"""Risk on the real stack: events projected into Neo4j are scored, written back, rescored after a
disruption within one call, and an alert reaches risk.alerts (Kafka) and a risk incident (SQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import neo4j
import orjson
import pytest
from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from connectors.kafka import TopicSpec, ensure_topics
from connectors.record_store import RecordStore
from graph.mutations import to_mutations
from graph.registry import agreed_links, record_rows
from graph.risk.incidents import list_incidents
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from graph.risk.whatif import disrupted_set, what_if
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.events import (
    DisruptionKind,
    DisruptionReported,
    Industry,
    InventoryReported,
    PartnerRegistered,
    Severity,
    SupplyAgreed,
)
from schema.tables import IncidentState
from streams.risk import touched_by
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.risk_support import event, fire_at, service
from tests.integration.topic_reader import ends, read_from


@pytest.fixture
def alerts_topic(stack: Settings, prefix: str) -> Iterator[str]:
    name = f"{prefix}risk.alerts"
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(name, 1)])
    yield name
    AdminClient(stack.kafka.librdkafka()).delete_topics([name])


def network_events(p: str) -> list[ValidEvent]:
    """Mill (sole source of HRC to two carmakers, region R1) -> auto1 -> oem; auto2 multi-sourced."""
    r1, r2 = f"{p}湖北省 武汉市", f"{p}上海市"
    partners = [
        ("mill", Industry.STEEL, r1),
        ("mill2", Industry.STEEL, r1),
        ("trader", Industry.LOGISTICS, r2),
        ("auto1", Industry.AUTOMOTIVE, r2),
        ("auto2", Industry.AUTOMOTIVE, r2),
        ("oem", Industry.AUTOMOTIVE, r2),
    ]
    evs = [
        event(
            "partner.registered",
            p + e,
            PartnerRegistered(enterprise_id=p + e, name=e, industry=i, region=r),
            0,
        )
        for e, i, r in partners
    ]
    for s, b, sku, share in [
        ("mill", "auto1", "HRC-Q235", 1.0),
        ("mill", "auto2", "HRC-Q235", 1.0),
        ("mill2", "auto2", "COLD-ROLL", 0.5),
        ("trader", "auto2", "COLD-ROLL", 0.5),
        ("auto1", "oem", "AXLE", 1.0),
    ]:
        evs.append(
            event(
                "supply.agreed",
                p + b,
                SupplyAgreed(supplier_id=p + s, buyer_id=p + b, sku=sku, share=share, lead_time_days=14),
                1,
            )
        )
    evs.append(
        event(
            "inventory.reported",
            p + "auto1",
            InventoryReported(enterprise_id=p + "auto1", sku="HRC-Q235", on_hand=30, daily_usage=10),
            2,
        )
    )
    return evs


async def projected(driver: neo4j.AsyncDriver, p: str) -> GraphWriter:
    """``network_events`` projected into Neo4j as the project stage does: records first (a scratch
    store), their KPI rows (days of cover from the stock records) with the graph write."""
    writer = GraphWriter(driver)
    evs = network_events(p)
    engine = create_engine("sqlite://", poolclass=StaticPool)
    bootstrap.create_sql_tables(engine)
    try:
        recorded = RecordStore(engine).apply(record_rows(evs), agreed_links(evs))
    finally:
        engine.dispose()
    await writer.write(to_mutations(evs), kpis=recorded.kpis)
    return writer


async def test_scores_are_explained_written_back_and_a_disruption_raises_an_alert_and_incident(
    stack: Settings, driver: neo4j.AsyncDriver, prefix: str, alerts_topic: str
) -> None:
    p = prefix
    writer = await projected(driver, p)
    s = RiskSettings(alert_threshold=0.9)
    svc = service(stack, driver, p, alerts_topic, s)
    try:
        run = await svc.full()
        assert run.scored == 6
        assert run.alerts == []
        mill = svc.engine.scores[p + "mill"]
        reasons = mill.as_dict()["reasons"]
        assert "sole supplier of HRC-Q235 to 2 automotive buyer(s)" in reasons["structure"]
        assert f"region {p}湖北省 武汉市 holds 100% of HRC-Q235 supply (HHI 1.00)" in reasons["concentration"]
        assert mill.score < 0.9
        oem = svc.engine.scores[p + "oem"]
        assert oem.factors["inherited"].value > 0

        rec, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise {id: $id}) "
            "RETURN e.riskScore AS s, e.riskFactors AS f, e.riskComputedAt AS at",
            id=p + "mill",
        )
        assert rec[0]["s"] == pytest.approx(mill.score)
        assert orjson.loads(rec[0]["f"])["factors"]["structure"] == pytest.approx(
            mill.factors["structure"].value, abs=1e-4
        )
        assert rec[0]["at"] == svc.engine.computed_at_ms
        top = await svc.store.risky(scope=p, limit=3)
        expected = sorted(svc.engine.scores.values(), key=lambda x: (-x.score, x.enterprise))[:3]
        assert [r["id"] for r in top] == [x.enterprise for x in expected]
        assert p + "mill" in [r["id"] for r in top]
        assert all(r["factors"]["reasons"]["structure"] for r in top)

        # what-if on the projection read back from Neo4j: auto1 holds 3 days of HRC-Q235
        net = await svc.store.network(scope=p)
        w = what_if(net, disrupted_set(net, region=f"{p}湖北省 武汉市"), 10.0, s)
        by = {e.enterprise: e for e in w.exposures}
        assert (by[p + "auto1"].tier, by[p + "auto1"].time_to_survive, by[p + "auto1"].shortfall_days) == (
            1,
            3.0,
            7.0,
        )
        assert by[p + "auto1"].stops_supplying
        assert (by[p + "oem"].tier, by[p + "oem"].gap_starts_day, by[p + "oem"].time_to_recover) == (
            2,
            3.0,
            7.0,
        )
        assert by[p + "auto2"].lost_share == {"COLD-ROLL": 0.5, "HRC-Q235": 1.0}
        assert by[p + "auto2"].alternatives["COLD-ROLL"] == [p + "trader"]

        # a critical fire at the mill: rescored within the call, alert to Kafka, incident in SQL
        starts = ends(stack, alerts_topic)
        fire = fire_at(p, "mill", 1)
        await writer.write(to_mutations([fire]))
        run = await svc.touched(touched_by([fire.to_json()]))
        new = svc.engine.scores[p + "mill"]
        assert new.score >= 0.9 > mill.score
        assert (
            "open critical fire disruption at the enterprise, recovery expected in 21 days"
            in new.explanation()
        )
        assert {a.enterprise for a in run.alerts} == {p + "mill"}
        alert = run.alerts[0]
        assert alert.reason == "threshold"
        assert alert.severity == "critical"
        assert set(alert.affected) == {p + "auto1", p + "auto2", p + "oem"}
        assert run.scored >= 3  # the mill and the buyers that inherit from it

        msgs = read_from(stack, alerts_topic, starts, done=lambda m: len(m) >= 1, settle_s=1.0)
        assert len(msgs) == 1
        body = orjson.loads(msgs[0].value())
        assert (body["enterprise"], body["severity"], body["affectedCount"]) == (p + "mill", "critical", 3)
        assert body["computedAt"] == svc.engine.computed_at_ms
        assert msgs[0].key() == (p + "mill").encode()

        with Session(svc.sql) as session:
            incidents = list_incidents(session, enterprise_id=p + "mill")
        assert [(i.state, i.alert_id, i.severity) for i in incidents] == [
            (IncidentState.POTENTIAL, alert.id, "critical")
        ]

        # a region-wide flood reaches the trader through its region
        flood = event(
            "disruption.reported",
            p + "flood-1",
            DisruptionReported(
                disruption_id=p + "flood-1",
                kind=DisruptionKind.FLOOD,
                severity=Severity.HIGH,
                expected_recovery_days=10,
                region=f"{p}上海市",
            ),
            4,
        )
        await writer.write(to_mutations([flood]))
        run = await svc.touched(touched_by([flood.to_json()]))
        trader = svc.engine.scores[p + "trader"]
        assert (
            "open high flood disruption in its region, recovery expected in 10 days" in trader.explanation()
        )
        # everything in the region is hit; only those with dependants alert (auto2 and oem have none)
        assert {a.enterprise for a in run.alerts} == {p + "trader", p + "auto1"}
        assert all(a.reason == "disruption" for a in run.alerts)
    finally:
        svc.close()


async def test_a_disruption_a_threshold_alert_named_is_not_alerted_again_by_a_process_that_saw_it_later(
    stack: Settings, driver: neo4j.AsyncDriver, prefix: str, alerts_topic: str, tmp_path: Path
) -> None:
    """Two risk processes, one store: A's full recompute reads the fire first and sends the mill's
    threshold alert, which names the fire; B, whose model predates the fire, then rescores the fire's
    change. B finds the threshold raised and must not send the fire as an alert of its own (CI saw the
    mill alerted twice when a loaded machine let A's reload overtake B's rescoring)."""
    p = prefix
    writer = await projected(driver, p)
    s = RiskSettings(alert_threshold=0.9)
    sql = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    bootstrap.create_sql_tables(sql)
    a = service(stack, driver, p, alerts_topic, s, sql=sql)
    b = service(stack, driver, p, alerts_topic, s, sql=sql)
    try:
        assert ((await a.full()).alerts, (await b.full()).alerts) == ([], [])
        starts = ends(stack, alerts_topic)
        fire = fire_at(p, "mill", 2)
        await writer.write(to_mutations([fire]))
        first = await a.full(reload=True)
        assert [(x.enterprise, x.reason) for x in first.alerts] == [(p + "mill", "threshold")]
        assert "open critical fire disruption at the enterprise" in first.alerts[0].summary
        later = await b.touched(touched_by([fire.to_json()]))
        assert b.engine.scores[p + "mill"].score >= 0.9  # B saw the fire: only the claims keep it quiet
        assert later.alerts == []
        msgs = read_from(stack, alerts_topic, starts, done=lambda m: len(m) >= 1, timeout_s=30, settle_s=2.0)
        assert [orjson.loads(m.value())["id"] for m in msgs] == [first.alerts[0].id]
        with Session(sql) as session:
            incidents = list_incidents(session, enterprise_id=p + "mill")
        assert [i.alert_id for i in incidents] == [first.alerts[0].id]
    finally:
        a.close()
        b.close()
        sql.dispose()


async def test_the_whole_projection_reads_back_field_for_field_across_chunks(
    driver: neo4j.AsyncDriver, prefix: str
) -> None:
    """``RiskStore.network`` (grouped per supplier, several rows per record) returns exactly what is in
    the graph: every current link with its KPIs, every enterprise's facts, every facility."""
    from bench.risk_full import buyer_cover, load
    from graph.risk import synthetic
    from graph.risk.facts import Facility
    from graph.risk.store import CHUNK_ROWS

    n = CHUNK_ROWS + 500  # more enterprises, suppliers and facilities than one record holds
    net = synthetic.network("cyclic", n, seed=3, links_per_node=3, skus=40, kpis=True, prefix=prefix + "E")
    await load(driver, net)
    got = await RiskStore(driver, RiskSettings()).network(scope=prefix)

    def key(lk: Any) -> tuple[str, str, str]:
        return (lk.supplier, lk.buyer, lk.sku)

    # A link's cover is its buyer's cover of the sku (the graph keeps it on the buyer).
    cover = buyer_cover(net)
    want = [replace(lk, days_of_cover=cover.get(lk.buyer, {}).get(lk.sku)) for lk in net.links]
    assert sum(1 for lk in want if lk.days_of_cover is not None) > n
    assert len(got.links) == len(net.links) > 2 * n
    assert sorted(got.links, key=key) == sorted(want, key=key)
    assert got.enterprises == net.enterprises  # names, industries, regions, cover, disruptions, alarms
    assert any(e.disruptions for e in got.enterprises.values())
    assert any(e.recent_alarms for e in got.enterprises.values())
    assert got.facilities == {
        f"{e.id}-f1": Facility(f"{e.id}-f1", e.id, e.region, (), e.recent_alarms)
        for e in net.enterprises.values()
    }


async def test_full_recomputes_reread_the_projection_every_nth_run_and_otherwise_use_the_held_network(
    stack: Settings, driver: neo4j.AsyncDriver, prefix: str, alerts_topic: str
) -> None:
    p = prefix
    await projected(driver, p)
    svc = service(stack, driver, p, alerts_topic, RiskSettings(alert_threshold=0.99, full_reload_every=2))
    reads = 0
    network = svc.store.network

    async def counted(**kw: Any) -> Any:
        nonlocal reads
        reads += 1
        return await network(**kw)

    svc.store.network = counted  # type: ignore[method-assign]
    try:
        await svc.full()  # first run: reads
        before = svc.engine.scores[p + "mill"]
        # a fact no event announced (as when an alarm window or a KPI refresh moves it): a fire at the mill
        await driver.execute_query(
            "MATCH (e:Enterprise {id: $id}) CREATE (:Disruption {id: $d, status: 'open', "
            "severity: 'critical', kind: 'fire', expectedRecoveryDays: 30.0})-[:AFFECTS]->(e)",
            id=p + "mill",
            d=p + "silent-fire",
        )
        await svc.full()  # second run: from the held network, the fire is not seen yet
        assert reads == 1
        assert svc.engine.scores[p + "mill"].score == pytest.approx(before.score)
        assert svc.engine.scores[p + "mill"].factors["events"].value == before.factors["events"].value
        await svc.full()  # third run: re-reads, and the fire counts
        assert reads == 2
        after = svc.engine.scores[p + "mill"]
        assert after.factors["events"].value > before.factors["events"].value
        assert after.score > before.score
        assert any("fire" in r for r in after.factors["events"].reasons)
        await svc.full(reload=True)  # forced
        assert reads == 3
    finally:
        svc.close()
