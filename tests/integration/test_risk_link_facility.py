"""Supply-link and facility risk scores on the real stack: projected events are scored by the risk
service, written to the ``SUPPLIES`` relationships and ``Facility`` nodes, rewritten only when they move,
and refreshed after a facility disruption within one call."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import neo4j
import orjson
import pytest
from confluent_kafka.admin import AdminClient
from sqlmodel import create_engine

from api.keys import create_key
from connectors.kafka import EventProducer, TopicSpec, ensure_topics
from connectors.record_store import RecordStore
from graph.freshness import risk_computed_at
from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.mutations import to_mutations
from graph.risk.settings import RiskSettings
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.events import (
    DisruptionKind,
    DisruptionReported,
    EquipmentAlarm,
    FacilityKind,
    FacilityRegistered,
    Industry,
    PartnerRegistered,
    Severity,
    SupplyAgreed,
)
from schema.tables import Role
from streams.projection import Projector
from streams.risk import touched_by, touched_by_changes
from streams.stages import Incoming
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.risk_support import event as risk_event
from tests.integration.risk_support import service
from tests.integration.test_api import counting_server, data
from tests.integration.topic_reader import ends, read_from

PLANT = "MATCH (f:Facility {id: $id}) RETURN f.riskScore AS s, f.riskFactors AS f, f.riskComputedAt AS at"


def event(kind: str, subject: str, data: Any, at: int) -> ValidEvent:
    return risk_event(kind, subject, data, at, source="risk-link-test")


def _incoming(ev: ValidEvent, offset: int) -> Incoming:
    return Incoming(
        topic="test.events.valid", partition=0, offset=offset, key=ev.subject.encode(), value=ev.to_json()
    )


def network_events(p: str) -> list[ValidEvent]:
    """mill -> auto (sole source of HRC-Q235); mill2 and trader split COLD-ROLL to auto; mill runs plant."""
    r1, r2 = f"{p}湖北省 武汉市", f"{p}上海市"
    evs = [
        event(
            "partner.registered",
            p + e,
            PartnerRegistered(enterprise_id=p + e, name=e, industry=i, region=r),
            0,
        )
        for e, i, r in [
            ("mill", Industry.STEEL, r1),
            ("mill2", Industry.STEEL, r1),
            ("trader", Industry.LOGISTICS, r2),
            ("auto", Industry.AUTOMOTIVE, r2),
        ]
    ]
    evs.append(
        event(
            "facility.registered",
            p + "mill",
            FacilityRegistered(
                facility_id=p + "plant",
                enterprise_id=p + "mill",
                name="plant",
                kind=FacilityKind.PLANT,
                region=r1,
            ),
            1,
        )
    )
    evs.append(  # the trader (in r2) runs a depot in r1
        event(
            "facility.registered",
            p + "trader",
            FacilityRegistered(
                facility_id=p + "depot",
                enterprise_id=p + "trader",
                name="depot",
                kind=FacilityKind.WAREHOUSE,
                region=r1,
            ),
            1,
        )
    )
    for s, b, sku, share in [
        ("mill", "auto", "HRC-Q235", 1.0),
        ("mill2", "auto", "COLD-ROLL", 0.25),
        ("trader", "auto", "COLD-ROLL", 0.75),
    ]:
        evs.append(
            event(
                "supply.agreed",
                p + b,
                SupplyAgreed(supplier_id=p + s, buyer_id=p + b, sku=sku, share=share, lead_time_days=14),
                2,
            )
        )
    return evs


async def _link_props(driver: neo4j.AsyncDriver, p: str) -> dict[tuple[str, str], dict[str, Any]]:
    rec, _, _ = await driver.execute_query(
        "MATCH (s:Enterprise)-[x:SUPPLIES]->(b:Enterprise) WHERE s.id STARTS WITH $p "
        "RETURN s.id AS s, x.sku AS sku, x.riskScore AS score, x.riskFactors AS f, x.riskComputedAt AS at",
        p=p,
    )
    return {(r["s"].removeprefix(p), r["sku"]): dict(r) for r in rec}


async def test_link_and_facility_scores_are_written_back_kept_fresh_and_explained(
    stack: Settings, driver: neo4j.AsyncDriver, prefix: str, tmp_path: Path
) -> None:
    p = prefix
    writer = GraphWriter(driver)
    await writer.write(to_mutations(network_events(p)))
    topic, changes_topic = f"{p}risk.alerts", f"{p}graph.changes"
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topic, 1), TopicSpec(changes_topic, 1)])
    scratch = create_engine(f"sqlite:///{tmp_path / 'records.db'}")
    bootstrap.create_sql_tables(scratch)
    sql = bootstrap.sql_engine(stack)
    bootstrap.create_sql_tables(sql)
    s = RiskSettings()
    svc = service(stack, driver, p, topic, s, sql=sql)
    try:
        await svc.full()
        links = await _link_props(driver, p)
        assert set(links) == {("mill", "HRC-Q235"), ("mill2", "COLD-ROLL"), ("trader", "COLD-ROLL")}
        first_at = svc.engine.computed_at_ms
        for row in links.values():
            factors = orjson.loads(row["f"])
            assert row["score"] == pytest.approx(factors["score"], abs=1e-4)
            assert row["at"] == first_at
            assert 0.0 <= row["score"] <= 1.0
        sole = orjson.loads(links[("mill", "HRC-Q235")]["f"])
        assert sole["factors"]["dependency"] == 1.0
        assert sole["reasons"]["dependency"] == [f"sole source of HRC-Q235 for {p}auto"]
        assert orjson.loads(links[("mill2", "COLD-ROLL")]["f"])["factors"]["dependency"] == 0.25
        assert orjson.loads(links[("trader", "COLD-ROLL")]["f"])["reasons"]["dependency"] == [
            f"75% of {p}auto's COLD-ROLL supply"
        ]
        rec, _, _ = await driver.execute_query(
            PLANT,
            id=p + "plant",
        )
        assert rec[0]["s"] == 0.0 and rec[0]["at"] == first_at

        # a second full recompute with nothing changed rewrites nothing (riskComputedAt stays), not
        # even the enterprises the projector may be merging; the run's mark says the model is current
        await svc.full()
        assert {k: v["at"] for k, v in (await _link_props(driver, p)).items()} == {k: first_at for k in links}
        rec, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p RETURN collect(DISTINCT e.riskComputedAt) AS at",
            p=p,
        )
        assert rec[0]["at"] == [first_at]
        second_at = svc.engine.computed_at_ms
        assert second_at > first_at
        rec, _, _ = await driver.execute_query(
            "MATCH (r:RiskRun {id: $id}) RETURN r.at AS at", id=f"risk:{p}"
        )
        assert rec[0]["at"] == second_at
        assert ((await risk_computed_at(driver)) or 0) >= second_at

        # a fire at the plant and a critical alarm there: the plant, the mill and its link are rescored
        fire = event(
            "disruption.reported",
            p + "fire-1",
            DisruptionReported(
                disruption_id=p + "fire-1",
                kind=DisruptionKind.FIRE,
                severity=Severity.HIGH,
                expected_recovery_days=12,
                facility_id=p + "plant",
            ),
            3,
        )
        alarm = event(
            "equipment.alarm",
            p + "mill",
            EquipmentAlarm(
                alarm_id=p + "alarm-1",
                enterprise_id=p + "mill",
                equipment_id=p + "furnace-2",
                signal="vibration",
                severity=Severity.CRITICAL,
                facility_id=p + "plant",
            ),
            4,
        )
        # as the live path goes: the projector writes the alarm's record (no graph row) and the mill's KPI
        # row with its alarm counts; the risk process rescores what graph.changes names
        proj = Projector(
            writer=writer,
            dlq_out=EventProducer(stack.kafka.librdkafka(), changes_topic),
            group=f"{p}group",
            changes_out=EventProducer(stack.kafka.librdkafka(), changes_topic),
            records=RecordStore(scratch),
        )
        starts = ends(stack, changes_topic)
        await proj.project([_incoming(fire, 0), _incoming(alarm, 1)])
        await proj.flush()
        published = read_from(stack, changes_topic, starts, done=lambda got: len(got) >= 2, settle_s=1.0)
        touched = touched_by_changes(m.value() or b"" for m in published)
        assert p + "mill" in touched.enterprises and p + "plant" in touched.facilities
        rec, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise {id: $id}) RETURN e.alarmsHigh14d AS n, e.alarmsHighFacilities AS f, "
            "e.alarmsHighFacilityCounts14d AS c, COUNT { (e)<--(:EquipmentAlarm) } AS nodes",
            id=p + "mill",
        )
        assert dict(rec[0]) == {"n": 1, "f": [p + "plant"], "c": [1], "nodes": 0}
        await svc.touched(touched)
        at = svc.engine.computed_at_ms
        assert at > first_at
        rec, _, _ = await driver.execute_query(
            PLANT,
            id=p + "plant",
        )
        plant = orjson.loads(rec[0]["f"])
        assert rec[0]["at"] == at
        assert rec[0]["s"] > 0.5
        assert plant["reasons"]["events"] == [
            "open high fire disruption at the facility, recovery expected in 12 days",
            "1 equipment alarm(s) in the last 14 days",
        ]
        assert plant["reasons"]["operator"][0].startswith(f"operated by {p}mill: sole supplier of HRC-Q235")
        after = await _link_props(driver, p)
        assert after[("mill", "HRC-Q235")]["at"] == at
        assert after[("mill", "HRC-Q235")]["score"] > links[("mill", "HRC-Q235")]["score"]
        supplier = orjson.loads(after[("mill", "HRC-Q235")]["f"])["reasons"]["supplier"]
        assert "open high fire disruption at one of its facilities" in supplier[0]
        # the other suppliers' links did not move and were not rewritten
        assert after[("trader", "COLD-ROLL")]["at"] == first_at

        # a flood in r1 reaches the trader's depot there, although the trader itself is in r2
        flood = event(
            "disruption.reported",
            p + "flood-1",
            DisruptionReported(
                disruption_id=p + "flood-1",
                kind=DisruptionKind.FLOOD,
                severity=Severity.MEDIUM,
                expected_recovery_days=5,
                region=f"{p}湖北省 武汉市",
            ),
            5,
        )
        await writer.write(to_mutations([flood]))
        await svc.touched(touched_by([flood.to_json()]))
        rec, _, _ = await driver.execute_query(PLANT, id=p + "depot")
        assert rec[0]["at"] == svc.engine.computed_at_ms
        depot = orjson.loads(rec[0]["f"])
        operator = depot["factors"]["operator"]
        assert operator == pytest.approx(svc.engine.scores[p + "trader"].factors["structure"].value, abs=1e-4)
        assert rec[0]["s"] == pytest.approx(0.9 * 0.6 * 0.6 * (0.5 + 0.5 * operator), abs=1e-4)
        assert depot["reasons"]["events"] == [
            f"open medium flood disruption in its region {p}湖北省 武汉市, recovery expected in 5 days"
        ]
    finally:
        svc.close()
        scratch.dispose()
        AdminClient(stack.kafka.librdkafka()).delete_topics([topic, changes_topic])


SUPPLIERS = """query($id: ID!) { enterprise(id: $id) {
  suppliers { partner { id } sku share riskScore riskFactors riskComputedAt redacted } } }"""


def test_link_scores_through_graphql_with_the_dependency_hidden_from_other_partners(
    stack: Settings, run_id: str
) -> None:
    p = f"rl{run_id}{uuid.uuid4().hex[:4]}-"
    topic = f"{p}risk.alerts"
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topic, 1)])
    sql = bootstrap.sql_engine(stack)
    bootstrap.create_sql_tables(sql)

    async def load_and_score() -> int:
        d = bootstrap.async_driver(stack)
        try:
            await migrate(d)
            await GraphWriter(d).write(to_mutations(network_events(p)))
            s = RiskSettings()
            svc = service(stack, d, p, topic, s, sql=sql)
            try:
                await svc.full()
            finally:
                svc.close()
            return svc.engine.computed_at_ms
        finally:
            await d.close()

    async def clean() -> None:
        d = bootstrap.async_driver(stack)
        try:
            await delete_by_prefix(d, p)
            await d.execute_query("MATCH (r:Region) WHERE r.name STARTS WITH $p DETACH DELETE r", p=p)
        finally:
            await d.close()

    try:
        at = asyncio.run(load_and_score())
        analyst = create_key(sql, name=f"{p}analyst", role=Role.ANALYST)[1]
        trader = create_key(sql, name=f"{p}trader", role=Role.PARTNER, enterprise_id=p + "trader")[1]
        for server, _ in counting_server(stack):
            rows = data(server.url, analyst, SUPPLIERS, {"id": p + "auto"})["enterprise"]["suppliers"]
            by = {r["partner"]["id"].removeprefix(p): r for r in rows}
            assert set(by) == {"mill", "mill2", "trader"}
            assert all(r["riskComputedAt"] == at for r in rows)
            assert by["mill"]["riskFactors"]["factors"]["dependency"] == 1.0
            assert by["mill"]["riskScore"] == pytest.approx(by["mill"]["riskFactors"]["score"], abs=1e-4)
            assert by["mill2"]["riskFactors"]["reasons"]["dependency"] == [
                f"25% of {p}auto's COLD-ROLL supply"
            ]
            # the trader sees its own link into its customer with the breakdown; its customer's other
            # suppliers (mill, mill2: its competitors) are outside its network (docs/graphql.md, "A
            # partner's network"), so their links, terms and scores are left out altogether
            rows = data(server.url, trader, SUPPLIERS, {"id": p + "auto"})["enterprise"]["suppliers"]
            by = {r["partner"]["id"].removeprefix(p): r for r in rows}
            assert set(by) == {"trader"}
            assert by["trader"]["riskFactors"]["factors"]["dependency"] == 0.75
            assert by["trader"]["riskScore"] is not None
    finally:
        asyncio.run(clean())
        AdminClient(stack.kafka.librdkafka()).delete_topics([topic])
