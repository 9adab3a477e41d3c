"""Live risk in a real `supplynet worker`: events on events.valid are projected, scored, and a fire at a
sole-source mill raises a risk.alerts event and an incident without any call from the test."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import neo4j
import orjson
import pytest
from confluent_kafka.admin import AdminClient
from sqlmodel import Session

from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.risk.incidents import list_incidents
from schema.events import DisruptionKind, DisruptionReported, Severity
from schema.tables import IncidentState
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.test_risk import event, network_events
from tests.integration.topic_reader import ends, read_from


@pytest.fixture
async def driver(stack: Settings) -> AsyncIterator[neo4j.AsyncDriver]:
    d = bootstrap.async_driver(stack)
    await migrate(d)
    yield d
    await d.close()


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "supplynet", "worker"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def test_a_fire_at_a_sole_source_alerts_through_the_running_worker(
    stack: Settings, driver: neo4j.AsyncDriver, run_id: str, tmp_path: Path
) -> None:
    tag = f"rkw{run_id}{uuid.uuid4().hex[:4]}"
    p, prefix, group = f"{tag}-", f"{tag}.", f"{tag}-worker"
    names = Topics.prefixed(prefix)
    conf = stack.kafka.librdkafka()
    ensure_topics(conf, [TopicSpec(n, 1) for n in (names.raw, names.valid, names.dlq, names.alerts)])
    producer = EventProducer(conf, names.valid)
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "SUPPLYNET_SQL_URL": stack.database_url(),
        "SUPPLYNET_STREAM__TOPIC_PREFIX": prefix,
        "SUPPLYNET_STREAM__APP_ID": group,
        "SUPPLYNET_STREAM__WEB_PORT": str(free_port()),
        "SUPPLYNET_STREAM__BATCH_SECONDS": "0.2",
        "SUPPLYNET_RISK__LIVE": "true",
        "SUPPLYNET_RISK__SCOPE": p,
        "SUPPLYNET_RISK__ALERT_THRESHOLD": "0.9",
        "SUPPLYNET_RISK__INCREMENTAL_SECONDS": "0.2",
    }
    proc = spawn(env, log)
    try:
        producer.send_many(Record(e.subject.encode(), e.to_json()) for e in network_events(p))
        deadline = time.monotonic() + 120
        scored = []
        while time.monotonic() < deadline and len(scored) < 6:
            assert proc.poll() is None, log.read_text()[-3000:]
            scored, _, _ = await driver.execute_query(
                "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p AND e.riskScore IS NOT NULL "
                "RETURN e.id AS id",
                p=p,
            )
            await asyncio.sleep(0.5)
        assert len(scored) == 6, log.read_text()[-3000:]

        starts = ends(stack, names.alerts)
        fire = event(
            "disruption.reported",
            p + "fire-1",  # the contract: a disruption's subject is its id
            DisruptionReported(
                disruption_id=p + "fire-1",
                kind=DisruptionKind.FIRE,
                severity=Severity.CRITICAL,
                expected_recovery_days=21,
                enterprise_id=p + "mill",
            ),
            3,
        )
        sent = time.monotonic()
        producer.send_many([Record(fire.subject.encode(), fire.to_json())])
        msgs = read_from(stack, names.alerts, starts, done=lambda m: len(m) >= 1, timeout_s=90, settle_s=1.0)
        print(f"fire on events.valid -> alert on risk.alerts: {time.monotonic() - sent:.2f} s")
        body = orjson.loads(msgs[0].value())
        assert [orjson.loads(m.value())["enterprise"] for m in msgs] == [p + "mill"]
        assert body["severity"] == "critical"
        assert set(body["affected"]) == {p + "auto1", p + "auto2", p + "oem"}
        assert "open critical fire disruption at the enterprise" in body["summary"]
        rec, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise {id: $id}) RETURN e.riskScore AS s", id=p + "mill"
        )
        assert rec[0]["s"] >= 0.9
        with Session(bootstrap.sql_engine(stack)) as session:
            incidents = list_incidents(session, enterprise_id=p + "mill")
        assert [(i.state, i.alert_id) for i in incidents] == [(IncidentState.POTENTIAL, body["id"])]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        producer.close()
        await delete_by_prefix(driver, p)
        await driver.execute_query("MATCH (r:Region) WHERE r.name STARTS WITH $p DETACH DELETE r", p=p)
        await delete_offsets(driver, group)
        AdminClient(conf).delete_topics([names.raw, names.valid, names.dlq, names.alerts])
