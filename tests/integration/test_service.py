"""Service-oriented manufacturing end to end: a generated installed base with planted degrading
equipment -> Kafka (events.raw) -> the pipeline worker (validate, project) and the service job
(``supplynet worker --role service``) -> Neo4j -> GraphQL.

The service alert fires before each planted failure day and never for healthy equipment; telemetry
leaves no node or relationship of its own in the graph (one ``Equipment`` per serial, its health row
written by the job).
"""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from api.keys import create_key
from connectors.kafka import EventProducer, Record
from connectors.world.installed_base import InstalledBase, generate_installed_base
from graph.migrations import migrate
from schema.tables import Role
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.test_api import Server, counting_server, data
from tests.integration.topic_reader import ends, read_from
from tests.integration.worker_proc import own_topics, spawn_worker, stop, subprocess_env

pytestmark = pytest.mark.timeout(600)


def spawn_service_job(settings: Settings, group: str, log: Path) -> subprocess.Popen[bytes]:
    """``supplynet worker --role service`` in app id ``group`` on ``settings``' topics."""
    return subprocess.Popen(
        [sys.executable, "-m", "supplynet", "worker", "--role", "service"],
        env=subprocess_env(
            settings,
            SUPPLYNET_STREAM__APP_ID=group,
            SUPPLYNET_STREAM__TOPIC_PREFIX=settings.stream.topic_prefix,
            SUPPLYNET_STREAM__BATCH_SECONDS="0.2",
            SUPPLYNET_SERVICE__FLUSH_SECONDS="0.5",
        ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class Run:
    def __init__(self, settings: Settings, base: InstalledBase, readings: dict[str, int], group: str) -> None:
        self.settings, self.base, self.readings, self.group = settings, base, readings, group
        self.alert_starts: dict[int, int] = {}


async def _graph(settings: Settings, query: str, **params: Any) -> list[dict[str, Any]]:
    driver = bootstrap.async_driver(settings)
    try:
        result = await driver.execute_query(query, params, database_=settings.neo4j.database)
        return [dict(r) for r in result.records]
    finally:
        await driver.close()


def _absorbed(settings: Settings, prefix: str) -> dict[str, int]:
    rows = asyncio.run(
        _graph(
            settings,
            "MATCH (q:Equipment) WHERE q.id STARTS WITH $p RETURN q.id AS id, q.readings AS n",
            p=prefix,
        )
    )
    return {r["id"]: int(r["n"] or 0) for r in rows}


async def _projected(settings: Settings, group: str, topic: str) -> int:
    """Offsets of ``topic`` the project stage (app id ``group``) committed with the graph, summed."""
    rows = await _graph(
        settings,
        "MATCH (k:KafkaOffset) WHERE k.group = $g AND k.topic = $t RETURN sum(k.offset) AS n",
        g=group,
        t=topic,
    )
    return int(rows[0]["n"] or 0)


@pytest.fixture(scope="module")
def run(stack: Settings, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    settings = own_topics(stack, f"svc-{run_id}.")
    names = bootstrap.topic_names(settings)

    async def schema() -> None:
        driver = bootstrap.async_driver(settings)
        try:
            await migrate(driver, database=settings.neo4j.database)
        finally:
            await driver.close()

    asyncio.run(schema())
    prefix = f"{run_id}-svc-"
    base, events = generate_installed_base(prefix=prefix)
    records, readings = [], collections.Counter[str]()
    for e in events:
        records.append(Record(key=e.subject.encode(), value=e.value))
        doc = orjson.loads(e.value)
        if doc["type"] == "equipment.telemetry":
            readings[doc["data"]["equipment_id"]] += 1
    tmp = tmp_path_factory.mktemp("service")
    group = f"supplynet-test-svc-{run_id}"
    worker = spawn_worker(settings, group, tmp / "worker.log", web_port=free_port())
    job = spawn_service_job(settings, group, tmp / "service.log")
    r = Run(settings, base, dict(readings), group)
    r.alert_starts = ends(settings, names.service_alerts)
    try:
        EventProducer(settings.kafka.librdkafka(), names.raw).send_many(records)
        deadline = time.monotonic() + 300
        while _absorbed(settings, prefix) != r.readings:
            assert time.monotonic() < deadline, (
                f"not absorbed in 300 s: {_absorbed(settings, prefix)} of {r.readings}; "
                f"service log: {(tmp / 'service.log').read_text()[-3000:]}"
            )
            assert job.poll() is None, (tmp / "service.log").read_text()[-3000:]
            time.sleep(1)
        # the service job has read every valid event; wait for the project stage to have stored them too
        valid_end = sum(ends(settings, names.valid).values())
        while asyncio.run(_projected(settings, group, names.valid)) < valid_end:
            assert time.monotonic() < deadline, "the project stage did not catch up in 300 s"
            time.sleep(1)
        yield r
    finally:
        stop(job)
        stop(worker)


def _alerts(r: Run, *, at_least: int) -> list[dict[str, Any]]:
    msgs = read_from(
        r.settings,
        bootstrap.topic_names(r.settings).service_alerts,
        r.alert_starts,
        done=lambda out: len(out) >= at_least,
        timeout_s=60,
        settle_s=3,
    )
    return [orjson.loads(m.value() or b"") for m in msgs]


def _day_ms(d: Any) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000


def test_the_service_alert_fires_before_each_planted_failure_and_never_for_healthy_equipment(
    run: Run,
) -> None:
    alerts = _alerts(run, at_least=len(run.base.failures))
    by_equipment = collections.defaultdict(list)
    for a in alerts:
        by_equipment[a["equipmentId"]].append(a)
    assert set(by_equipment) == set(run.base.failures), (by_equipment, run.base.failures)
    for eq, fails in run.base.failures.items():
        (a,) = by_equipment[eq]
        assert a["raisedAt"] < _day_ms(fails), (eq, fails, a)
        maker, customer = run.base.equipment[eq]
        assert (a["id"], a["makerId"], a["customerId"]) == (f"{eq}:1", maker, customer)
        assert a["health"] < 0.3 and a["reason"]


def test_telemetry_writes_no_node_or_relationship_of_its_own(run: Run) -> None:
    prefix = run.base.prefix
    labels = asyncio.run(
        _graph(
            run.settings,
            "MATCH (n) WHERE n.id STARTS WITH $p UNWIND labels(n) AS label RETURN label, count(*) AS n",
            p=prefix,
        )
    )
    counts = {r["label"]: r["n"] for r in labels}
    work_orders = len(run.base.healthy()) + len(run.base.failures)
    assert counts == {  # alarms are records, never graph nodes
        "Enterprise": len(run.base.makers) + len(run.base.customers),
        "Facility": len(run.base.customers),
        "Equipment": len(run.base.equipment),
        "WorkOrder": work_orders,
    }
    rels = asyncio.run(
        _graph(
            run.settings,
            "MATCH (q:Equipment)-[x]-() WHERE q.id STARTS WITH $p RETURN type(x) AS t, count(*) AS n",
            p=prefix,
        )
    )
    per_equipment = len(run.base.equipment)
    assert {r["t"]: r["n"] for r in rels} == {
        "MADE_BY": per_equipment,
        "OWNED_BY": per_equipment,
        "INSTALLED_AT": per_equipment,
        "INSTANCE_OF": per_equipment,
        "SERVICES": work_orders,
    }
    assert sum(run.readings.values()) > 10 * (per_equipment + work_orders)


@pytest.fixture(scope="module")
def served(run: Run) -> Iterator[tuple[Server, str]]:
    engine = bootstrap.sql_engine(run.settings)
    bootstrap.create_sql_tables(engine)
    token = create_key(engine, name=f"{run.group}-admin", role=Role.ADMIN)[1]
    for srv, _ in counting_server(run.settings):
        yield srv, token


def test_a_makers_installed_base_shows_health_and_open_service_work(
    run: Run, served: tuple[Server, str]
) -> None:
    (srv, token), base = served, run.base
    maker = base.makers[0]
    q = """query($m: ID!) { installedBase(makerId: $m) {
        id health healthStatus healthReason readings openWorkOrders { id status reason } } }"""
    rows = data(srv.url, token, q, {"m": maker})["installedBase"]
    mine = {eq for eq, (m, _) in base.equipment.items() if m == maker}
    assert {r["id"] for r in rows} == mine
    healths = [r["health"] for r in rows]
    assert healths == sorted(healths), "least healthy first"
    for r in rows:
        assert r["readings"] == run.readings[r["id"]]
        if r["id"] in base.failures:
            assert r["healthStatus"] == "alert" and "outside its band" in r["healthReason"]
            assert [w["status"] for w in r["openWorkOrders"]] == ["requested"]
        else:
            assert r["healthStatus"] == "ok" and r["health"] > 0.6
            assert r["openWorkOrders"] == []


def test_a_customers_equipment_carries_its_maintenance_history(run: Run, served: tuple[Server, str]) -> None:
    (srv, token), base = served, run.base
    customer = base.customers[0]
    q = """query($c: ID!) { customerEquipment(customerId: $c) {
        id makerId maintenanceHistory { id status findings completedOn } } }"""
    rows = data(srv.url, token, q, {"c": customer})["customerEquipment"]
    assert {r["id"] for r in rows} == {eq for eq, (_, c) in base.equipment.items() if c == customer}
    for r in rows:
        if r["id"] in base.failures:
            assert [w["status"] for w in r["maintenanceHistory"]] == ["requested"]
        else:
            (w,) = r["maintenanceHistory"]
            assert (w["status"], w["findings"]) == ("completed", "all within limits")


def test_equipment_in_service_alert_reaches_the_risk_facts_of_its_customer_and_facility(run: Run) -> None:
    from graph.risk.settings import RiskSettings
    from graph.risk.store import RiskStore

    failing_at = collections.Counter(run.base.equipment[eq][1] for eq in run.base.failures)

    async def read() -> tuple[Any, Any, Any]:
        store = RiskStore(
            bootstrap.async_driver(run.settings), RiskSettings(), database=run.settings.neo4j.database
        )
        try:
            ents, _ = await store.facts_of(run.base.customers)
            facs = await store.facilities_of(run.base.customers)
            network = await store.network(scope=run.base.prefix)
            return ents, facs, network
        finally:
            await store.driver.close()

    ents, facs, network = asyncio.run(read())
    expected = {c: failing_at.get(c, 0) for c in run.base.customers}
    assert {e.id: e.failing_equipment for e in ents} == expected
    assert {f.id: f.failing_equipment for f in facs} == {f"{c}-site": n for c, n in expected.items()}
    assert {c: network.enterprises[c].failing_equipment for c in run.base.customers} == expected
    assert any(expected.values())


def test_a_killed_service_job_resumes_from_its_checkpoint_without_counting_a_reading_twice(
    stack: Settings, run_id: str, tmp_path: Path
) -> None:
    import os
    import signal

    settings = own_topics(stack, f"svc2-{run_id}.")
    names = bootstrap.topic_names(settings)
    prefix = f"{run_id}-svk-"
    base, events = generate_installed_base(
        prefix=prefix, equipment=4, degrading=1, days=30, readings_per_day=96
    )
    records, total = [], 0
    for e in events:
        doc = orjson.loads(e.value)
        if doc["type"] not in ("equipment.installed", "equipment.telemetry", "equipment.alarm"):
            continue
        total += doc["type"] == "equipment.telemetry"
        # as the validate stage forwards it: keyed by subject, the type in a header
        records.append(Record(e.subject.encode(), e.value, [("supplynet.event.type", doc["type"].encode())]))
    starts = ends(settings, names.service_alerts)
    group = f"supplynet-test-svk-{run_id}"
    log = tmp_path / "service.log"
    job = spawn_service_job(settings, group, log)
    try:
        EventProducer(settings.kafka.librdkafka(), names.telemetry).send_many(records)
        deadline = time.monotonic() + 300
        while sum(_absorbed(settings, prefix).values()) < total // 4:
            assert time.monotonic() < deadline and job.poll() is None, log.read_text()[-3000:]
            time.sleep(0.3)
        os.killpg(job.pid, signal.SIGKILL)  # mid-stream: whatever was folded since the last flush is lost
        job.wait(30)
        job = spawn_service_job(settings, group, log)
        while sum(_absorbed(settings, prefix).values()) < total:
            assert time.monotonic() < deadline and job.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(2)  # a later flush must not add more
        assert sum(_absorbed(settings, prefix).values()) == total
    finally:
        stop(job)
    msgs = read_from(
        settings, names.service_alerts, starts, done=lambda out: len(out) >= 1, timeout_s=30, settle_s=3
    )
    (planted,) = base.failures
    assert {orjson.loads(m.value() or b"")["id"] for m in msgs} == {f"{planted}:1"}
