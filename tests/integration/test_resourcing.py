"""Re-sourcing by spare capacity on the real stack: ERP events through Kafka and the worker into Neo4j
(the network) and the record store (capacity reports, quality incidents; SQLite and PostgreSQL),
answers through GraphQL (``reSourcing``, ``candidatePartners``, ``whatIf`` alternatives), for an
analyst and for a partner that must not see past its network."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import neo4j
import pytest
from sqlalchemy import create_engine, make_url, text

from api.keys import create_key
from connectors.kafka import Record
from graph.mutations import to_mutations
from graph.writer import GraphWriter
from schema.tables import Role
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.samples import envelope
from supplynet.settings import Settings
from tests.integration.test_api import data, error
from tests.integration.worker_proc import own_topics, running_worker, spawn_api, stop

pytestmark = pytest.mark.timeout(300)

WUHAN, SHANGHAI, BEIJING, CHONGQING = (30.59, 114.31), (31.23, 121.47), (39.90, 116.40), (29.56, 106.55)

RESOURCING = """query($b: ID!, $sku: String!, $q: Float!, $lost: ID, $cert: String) {
  reSourcing(buyerId: $b, sku: $sku, quantityPerDay: $q, lostSupplierId: $lost, certification: $cert) {
    buyer { id name } sku quantityPerDay coveredPerDay residualShortfallPerDay
    allocations { quantityPerDay option { enterprise { id } } }
    options { enterprise { id name } spareCapacityPerDay capacityPerDay reportAgeDays stale distanceKm
      certified leadTimeDays coversPerDay coverShare score parts { name value weight } } } }"""

CANDIDATES = """query($sku: String, $q: Float, $near: ID) {
  candidatePartners(sku: $sku, quantityPerDay: $q, nearId: $near) {
    enterprise { id name } sourcing { spareCapacityPerDay coversPerDay stale } } }"""

WHAT_IF = """query($e: [ID!]) { whatIf(enterprises: $e, days: 30) {
  exposures(first: 10) { enterprise { id } alternatives { sku lostPerDay suppliers { id }
    options { enterprise { id } spareCapacityPerDay coversPerDay } } } } }"""

INCIDENTS = """query($s: ID!) { qualityIncidents(supplierId: $s) { edges { node { incidentId } } }
  supplierKpis(id: $s) { qualityIncidents90d } }"""


class SpareWorld:
    """Buyer B (Wuhan) buys sku S only from L (150/day). Spare capacity for S: C1 (Shanghai, 100/day,
    supplies B another sku), C2 (Beijing, 80/day, IATF 16949, supplies L), C4 (a 60-day-old report,
    supplies L); C3 (Chongqing, 500/day) and its buyer Z are outside B's network."""

    def __init__(self, run_id: str) -> None:
        p = f"{run_id}-rs-"
        self.B, self.L, self.C1, self.C2, self.C3, self.C4, self.Z = (
            p + x for x in ("b", "l", "c1", "c2", "c3", "c4", "z")
        )
        self.S, self.OTHER = p + "hrc", p + "coil"
        now = datetime.now(UTC) - timedelta(minutes=5)
        evs: list[dict[str, Any]] = []

        def add(t: str, subject: str, d: dict[str, Any], at: datetime = now) -> None:
            evs.append(
                envelope(eid=f"{p}{len(evs)}", type_=t, subject=subject, time=at, data=d, sequence=len(evs))
            )

        for eid, where in (
            (self.B, WUHAN),
            (self.L, WUHAN),
            (self.C1, SHANGHAI),
            (self.C2, BEIJING),
            (self.C3, CHONGQING),
            (self.C4, SHANGHAI),
            (self.Z, CHONGQING),
        ):
            add(
                "partner.registered",
                eid,
                {"enterprise_id": eid, "name": f"企业 {eid[-2:]}", "industry": "steel", "region": "华中"},
            )
            add(
                "facility.registered",
                eid,
                {
                    "facility_id": eid + "-site",
                    "enterprise_id": eid,
                    "name": "厂区",
                    "kind": "plant",
                    "region": "华中",
                    "latitude": where[0],
                    "longitude": where[1],
                },
            )

        def supply(s: str, b: str, sku: str, volume: float, lead: int) -> None:
            add(
                "supply.agreed",
                b,
                {
                    "supplier_id": s,
                    "buyer_id": b,
                    "sku": sku,
                    "share": 1.0,
                    "lead_time_days": lead,
                    "valid_from": "2025-01-01",
                    "annual_volume": volume,
                },
            )

        supply(self.L, self.B, self.S, 150 * 365, 10)
        supply(self.C1, self.B, self.OTHER, 1000, 7)
        supply(self.C2, self.L, self.S, 1000, 14)
        supply(self.C4, self.L, self.S, 1000, 14)
        supply(self.C3, self.Z, self.S, 1000, 5)

        def capacity(eid: str, cap: float, util: float, at: datetime = now) -> None:
            add(
                "capacity.reported",
                eid,
                {"enterprise_id": eid, "sku": self.S, "capacity_per_day": cap, "utilization": util},
                at,
            )

        capacity(self.C1, 120, 0.9, now - timedelta(days=2))  # an older report of the same site
        capacity(self.C1, 200, 0.5)
        capacity(self.C2, 100, 0.2)
        capacity(self.C3, 1000, 0.5)
        capacity(self.C4, 1000, 0.0, now - timedelta(days=60))
        capacity(self.L, 1000, 0.0)
        add(
            "certification.granted",
            self.C2,
            {
                "enterprise_id": self.C2,
                "certificate_id": self.C2 + "-iatf",
                "standard": "IATF 16949",
                "valid_until": "2030-01-01",
            },
        )
        # Flow that must not reach the graph: capacity of a whole enterprise and of a facility (no sku),
        # and a quality incident B reports against C1.
        add(
            "capacity.reported",
            self.C1,
            {"enterprise_id": self.C1, "capacity_per_day": 900.0, "utilization": 0.4},
        )
        add(
            "capacity.reported",
            self.C2,
            {
                "enterprise_id": self.C2,
                "facility_id": self.C2 + "-site",
                "capacity_per_day": 300.0,
                "utilization": 0.1,
            },
        )
        self.INCIDENT = p + "qi-1"
        add(
            "quality.incident",
            self.C1,
            {
                "incident_id": self.INCIDENT,
                "supplier_id": self.C1,
                "buyer_id": self.B,
                "sku": self.S,
                "severity": "high",
                "defect_ppm": 850.0,
            },
        )
        # An enterprise with no site at all (an ERP may register it long before its facilities): it
        # makes wire, a sku nothing else here makes, and is ranked with an unknown distance.
        self.NOSITE, self.WIRE = f"{run_id}-nosite", p + "wire"
        add(
            "partner.registered",
            self.NOSITE,
            {"enterprise_id": self.NOSITE, "name": "无厂区企业", "industry": "steel", "region": "华中"},
        )
        add(
            "capacity.reported",
            self.NOSITE,
            {"enterprise_id": self.NOSITE, "sku": self.WIRE, "capacity_per_day": 40.0, "utilization": 0.5},
        )
        self.events = evs


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def record_store(request: pytest.FixtureRequest, stack: Settings) -> Iterator[Settings]:
    """The stack's settings over a record store of the module's own: the session's SQLite file, or a
    fresh database on the local PostgreSQL."""
    if request.param == "sqlite":
        yield stack
        return
    base = make_url(request.getfixturevalue("postgres_url"))
    name = f"rs_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    s = stack.model_copy(update={"sql_url": base.set(database=name).render_as_string(hide_password=False)})
    bootstrap.create_sql_tables(bootstrap.sql_engine(s))
    yield s
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def spare_world(
    record_store: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SpareWorld, str, dict[str, str]]]:
    """The world's events sent to Kafka (topics of its own), one worker projecting them and one API
    serving, for the whole module (once per record store)."""
    run_id = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("resourcing")
    own = own_topics(record_store, f"rstest-{run_id}.")
    with running_worker(own, f"supplynet-test-rs-{run_id}", logs / "worker.log") as proc:
        server, url = spawn_api(own, logs / "api.log")
        try:
            yield from _loaded(own, run_id, proc, logs / "worker.log", url)
        finally:
            stop(server)


def _loaded(
    stack: Settings, run_id: str, proc: subprocess.Popen[bytes], log: Path, api: str
) -> Iterator[tuple[SpareWorld, str, dict[str, str]]]:
    w = SpareWorld(run_id)
    producer = bootstrap.producer(stack, bootstrap.topic_names(stack).raw)
    delivered = producer.send_many(
        [Record(key=e["subject"].encode(), value=msgspec.json.encode(e)) for e in w.events]
    )
    producer.close()
    assert len(delivered) == len(w.events)
    engine = bootstrap.sql_engine(stack)
    keys = {
        "analyst": create_key(engine, name=f"{run_id}-rs-analyst", role=Role.ANALYST)[1],
        "partner": create_key(engine, name=f"{run_id}-rs-p", role=Role.PARTNER, enterprise_id=w.B)[1],
    }
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = data(api, keys["analyst"], RESOURCING, {"b": w.B, "sku": w.S, "q": 150.0, "lost": w.L})
        ids = {o["enterprise"]["id"] for o in got["reSourcing"]["options"]}
        if {w.C1, w.C2, w.C3, w.C4} <= ids and all(
            o["certified"] is None for o in got["reSourcing"]["options"]
        ):
            found = {o["enterprise"]["id"]: o for o in got["reSourcing"]["options"]}
            flow = data(api, keys["analyst"], INCIDENTS, {"s": w.C1})
            incident_counted = (flow["supplierKpis"] or {}).get("qualityIncidents90d") == 1
            wire = data(api, keys["analyst"], CANDIDATES, {"sku": w.WIRE, "q": 10.0, "near": w.B})
            if (
                found[w.C2]["distanceKm"] is not None
                and found[w.C1]["spareCapacityPerDay"] > 0
                and incident_counted
                and [c["enterprise"]["id"] for c in wire["candidatePartners"]] == [w.NOSITE]
                and wire["candidatePartners"][0]["sourcing"]["spareCapacityPerDay"] > 0
            ):
                break
        if proc.poll() is not None:
            pytest.fail(f"the worker exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    else:
        pytest.fail(f"the world was never projected; worker log:\n{log.read_text()[-3000:]}")
    yield w, api, keys


def test_re_sourcing_plan_takes_spare_capacity_best_first_and_reports_the_residual_shortfall(
    spare_world: tuple[SpareWorld, str, dict[str, str]],
) -> None:
    w, url, keys = spare_world
    plan = data(url, keys["analyst"], RESOURCING, {"b": w.B, "sku": w.S, "q": 150.0, "lost": w.L})[
        "reSourcing"
    ]
    by = {o["enterprise"]["id"]: o for o in plan["options"]}
    assert w.L not in by and w.B not in by  # the lost supplier and the buyer itself are no options
    assert by[w.C1]["spareCapacityPerDay"] == pytest.approx(100.0)
    assert by[w.C2]["spareCapacityPerDay"] == pytest.approx(80.0)
    assert by[w.C3]["spareCapacityPerDay"] == pytest.approx(500.0)
    assert (by[w.C4]["stale"], by[w.C4]["spareCapacityPerDay"]) == (True, 0.0)
    assert by[w.C4]["reportAgeDays"] == pytest.approx(60.0, abs=0.1)
    assert by[w.C1]["reportAgeDays"] < 1.0
    assert by[w.C1]["distanceKm"] == pytest.approx(688, abs=10)  # Wuhan -> Shanghai
    assert by[w.C2]["leadTimeDays"] == 14.0
    assert (by[w.C1]["coversPerDay"], by[w.C1]["coverShare"]) == (pytest.approx(100.0), pytest.approx(2 / 3))
    # C3 covers everything; C1 is nearer than C2 with more spare; C4's report is too old
    assert [o["enterprise"]["id"] for o in plan["options"]] == [w.C3, w.C1, w.C2, w.C4]
    assert [(a["option"]["enterprise"]["id"], a["quantityPerDay"]) for a in plan["allocations"]] == [
        (w.C3, 150.0)
    ]
    assert plan["residualShortfallPerDay"] == 0.0
    assert plan["buyer"]["name"] == f"企业 {w.B[-2:]}"


def test_a_candidate_with_no_site_is_ranked_with_an_unknown_distance(
    spare_world: tuple[SpareWorld, str, dict[str, str]],
) -> None:
    """An enterprise without facilities has no coordinates: its distance is unknown (``null``, the
    distance part 0.5), not an error of the whole answer."""
    w, url, keys = spare_world
    plan = data(url, keys["analyst"], RESOURCING, {"b": w.B, "sku": w.WIRE, "q": 10.0})["reSourcing"]
    (only,) = plan["options"]
    assert (only["enterprise"]["id"], only["distanceKm"]) == (w.NOSITE, None)
    assert only["spareCapacityPerDay"] == pytest.approx(20.0)
    assert {p["name"]: p["value"] for p in only["parts"]}["distance"] == pytest.approx(0.5)
    assert [(a["option"]["enterprise"]["id"], a["quantityPerDay"]) for a in plan["allocations"]] == [
        (w.NOSITE, pytest.approx(10.0))
    ]
    near = data(url, keys["analyst"], CANDIDATES, {"sku": w.WIRE, "q": 10.0, "near": w.B})
    assert near["candidatePartners"] == [
        {
            "enterprise": {"id": w.NOSITE, "name": "无厂区企业"},
            "sourcing": {"spareCapacityPerDay": 20.0, "coversPerDay": 10.0, "stale": False},
        }
    ]


def test_a_required_certification_limits_the_plan_and_leaves_a_shortfall(
    spare_world: tuple[SpareWorld, str, dict[str, str]],
) -> None:
    w, url, keys = spare_world
    v = {"b": w.B, "sku": w.S, "q": 150.0, "lost": w.L, "cert": "IATF 16949"}
    plan = data(url, keys["analyst"], RESOURCING, v)["reSourcing"]
    assert [(a["option"]["enterprise"]["id"], a["quantityPerDay"]) for a in plan["allocations"]] == [
        (w.C2, pytest.approx(80.0))
    ]
    assert plan["residualShortfallPerDay"] == pytest.approx(70.0)
    assert [o["enterprise"]["id"] for o in plan["options"]] == [w.C2]  # the only one certified


def test_partner_re_sources_inside_its_network_only(
    spare_world: tuple[SpareWorld, str, dict[str, str]],
) -> None:
    w, url, keys = spare_world
    v = {"b": w.B, "sku": w.S, "q": 250.0, "lost": w.L}
    plan = data(url, keys["partner"], RESOURCING, v)["reSourcing"]
    assert [o["enterprise"]["id"] for o in plan["options"]] == [w.C1, w.C2, w.C4]  # never C3
    assert [(a["option"]["enterprise"]["id"], a["quantityPerDay"]) for a in plan["allocations"]] == [
        (w.C1, pytest.approx(100.0)),
        (w.C2, pytest.approx(80.0)),
    ]
    assert plan["residualShortfallPerDay"] == pytest.approx(70.0)
    assert w.C3 not in str(plan)
    outside = error(url, keys["partner"], RESOURCING, {"b": w.Z, "sku": w.S, "q": 10.0})
    assert outside == f"enterprise {w.Z} is outside your network (3 tiers around {w.B})"
    lost_outside = error(url, keys["partner"], RESOURCING, {"b": w.B, "sku": w.S, "q": 10.0, "lost": w.C3})
    assert "is outside your network" in lost_outside


def test_candidate_partners_rank_by_spare_capacity_and_stay_in_a_partners_network(
    spare_world: tuple[SpareWorld, str, dict[str, str]],
) -> None:
    w, url, keys = spare_world
    v = {"sku": w.S, "q": 150.0, "near": w.B}
    staff = data(url, keys["analyst"], CANDIDATES, v)["candidatePartners"]
    assert [c["enterprise"]["id"] for c in staff][:3] == [w.L, w.C3, w.C1]  # L is nearest, with most spare
    mine = data(url, keys["partner"], CANDIDATES, v)["candidatePartners"]
    assert [c["enterprise"]["id"] for c in mine] == [w.L, w.C1, w.C2, w.C4]
    assert mine[1]["sourcing"] == {"spareCapacityPerDay": 100.0, "coversPerDay": 100.0, "stale": False}
    assert "is outside your network" in error(url, keys["partner"], CANDIDATES, {**v, "near": w.Z})


def test_what_if_alternatives_say_how_much_of_the_lost_volume_each_covers(
    spare_world: tuple[SpareWorld, str, dict[str, str]],
) -> None:
    w, url, keys = spare_world
    for role, expected in (("analyst", [w.C3, w.C1, w.C2]), ("partner", [w.C1, w.C2, w.C4])):
        got = data(url, keys[role], WHAT_IF, {"e": [w.L]})["whatIf"]
        (b,) = [x for x in got["exposures"] if x["enterprise"]["id"] == w.B]
        (alt,) = [a for a in b["alternatives"] if a["sku"] == w.S]
        assert alt["lostPerDay"] == pytest.approx(150.0)
        assert [s["id"] for s in alt["suppliers"]] == expected, role
        covers = {o["enterprise"]["id"]: o["coversPerDay"] for o in alt["options"]}
        assert covers[w.C1] == pytest.approx(100.0)
        assert covers[w.C2] == pytest.approx(80.0)


def test_capacity_and_quality_incidents_are_records_and_the_graph_keeps_only_who_produces_what(
    spare_world: tuple[SpareWorld, str, dict[str, str]], record_store: Settings
) -> None:
    w, url, keys = spare_world
    flow = data(url, keys["analyst"], INCIDENTS, {"s": w.C1})
    assert [e["node"]["incidentId"] for e in flow["qualityIncidents"]["edges"]] == [w.INCIDENT]
    assert flow["supplierKpis"]["qualityIncidents90d"] == 1
    prefix = w.B[: -len("b")]

    async def read() -> dict[str, Any]:
        driver = bootstrap.async_driver(record_store)
        try:
            rec, _, _ = await driver.execute_query(
                """
                CALL () { MATCH (q:QualityIncident) WHERE q.id STARTS WITH $p RETURN count(q) AS incidents }
                CALL () { MATCH (:Enterprise)-[r:AGAINST]-() RETURN count(r) AS against }
                CALL () {
                  MATCH (x) WHERE (x:Enterprise OR x:Facility) AND x.id STARTS WITH $p
                    AND (x.capacityPerDay IS NOT NULL OR x.utilization IS NOT NULL OR x.capacityV IS NOT NULL)
                  RETURN count(x) AS nodes
                }
                CALL () {
                  MATCH (e:Enterprise)-[x:PRODUCES]->(m:Material) WHERE e.id STARTS WITH $p
                  RETURN collect([e.id, m.sku, x.site, keys(x)]) AS produces
                }
                RETURN incidents, against, nodes, produces
                """,
                p=prefix,
            )
            return dict(rec[0])
        finally:
            await driver.close()

    got = asyncio.run(read())
    assert (got["incidents"], got["against"], got["nodes"]) == (0, 0, 0)
    producers = {(e, sku, site): set(props) for e, sku, site, props in got["produces"]}
    assert set(producers) == {(x, w.S, "") for x in (w.C1, w.C2, w.C3, w.C4, w.L)}
    for props in producers.values():  # the structural fact and its provenance, no capacity figures
        assert props == {"site", "lastEventId", "lastSource", "lastEventAt", "lastVersion"}


async def test_a_later_capacity_report_writes_nothing_to_an_existing_produces(
    driver: neo4j.AsyncDriver, prefix: str
) -> None:
    def report(n: int, at: datetime, cap: float) -> Any:
        return decode_event(
            msgspec.json.encode(
                envelope(
                    eid=f"{prefix}cap-{n}",
                    type_="capacity.reported",
                    subject=prefix + "mill",
                    time=at,
                    data={
                        "enterprise_id": prefix + "mill",
                        "sku": prefix + "hrc",
                        "capacity_per_day": cap,
                        "utilization": 0.5,
                    },
                )
            )
        )

    t0 = datetime.now(UTC) - timedelta(hours=1)
    writer = GraphWriter(driver)
    await writer.write(to_mutations([report(1, t0, 100.0)]))
    await writer.write(to_mutations([report(2, t0 + timedelta(minutes=5), 300.0)]))
    rec, _, _ = await driver.execute_query(
        "MATCH (:Enterprise {id: $e})-[x:PRODUCES]->(:Material {sku: $s}) "
        "RETURN collect(properties(x)) AS xs",
        e=prefix + "mill",
        s=prefix + "hrc",
    )
    [only] = rec[0]["xs"]
    assert only["lastEventId"] == f"{prefix}cap-1"  # created once; the newer report wrote nothing
    assert not {"capacityPerDay", "utilization", "capacityReportedAt", "capacityV"} & set(only)
