"""Live risk in real processes: `supplynet worker` (the pipeline) and `supplynet worker --role risk`
(its own consumer group). A fire at a sole-source mill raises one alert and one incident without any
call from the test; two risk processes share the work (one full recompute per period, no duplicate
alert); and while a risk process recomputes everything, events keep reaching the graph."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import neo4j
import orjson
from confluent_kafka.admin import AdminClient
from sqlmodel import Session, col, delete

from bench.risk_full import load
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.risk import synthetic
from graph.risk.coordination import full_runs
from graph.risk.incidents import list_incidents
from schema.events import Industry, PartnerRegistered
from schema.tables import IncidentState, RiskAlertState, RiskFullRun, RiskIncident
from streams.risk_process import risk_group
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.conftest import free_port
from tests.integration.risk_support import event, fire_at
from tests.integration.test_risk import network_events
from tests.integration.topic_reader import ends, read_from


class Deployment:
    """A test's own topics (``partitions`` each), consumer groups and id prefix; processes it spawned."""

    def __init__(self, stack: Settings, tmp: Path, run_id: str, *, partitions: int) -> None:
        self.stack = stack
        self.tmp = tmp
        tag = f"rkw{run_id}{uuid.uuid4().hex[:4]}"
        self.p, self.topic_prefix, self.group = f"{tag}-", f"{tag}.", f"{tag}-worker"
        self.names = Topics.prefixed(self.topic_prefix)
        self.conf = stack.kafka.librdkafka()
        ensure_topics(
            self.conf,
            [
                TopicSpec(n, partitions)
                for n in (
                    self.names.raw,
                    self.names.valid,
                    self.names.alerts,
                    self.names.changes,
                    self.names.telemetry,
                )
            ]
            + [TopicSpec(self.names.dlq, 1)],
        )
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "SUPPLYNET_SQL_URL": self.stack.database_url(),
            "SUPPLYNET_STREAM__TOPIC_PREFIX": self.topic_prefix,
            "SUPPLYNET_STREAM__APP_ID": self.group,
            "SUPPLYNET_STREAM__WEB_PORT": str(free_port()),
            "SUPPLYNET_STREAM__BATCH_SECONDS": "0.2",
            "SUPPLYNET_RISK__LIVE": "true",
            "SUPPLYNET_RISK__SCOPE": self.p,
            "SUPPLYNET_RISK__ALERT_THRESHOLD": "0.9",
            "SUPPLYNET_RISK__INCREMENTAL_SECONDS": "0.2",
            **extra,
        }

    def spawn(self, role: str, **extra: str) -> tuple[subprocess.Popen[bytes], Path, dict[str, str]]:
        log = self.tmp / f"{role}-{len(self.procs)}.log"
        env = self.env(**extra)
        proc = subprocess.Popen(
            [sys.executable, "-m", "supplynet", "worker", "--role", role],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((proc, log))
        return proc, log, env

    def logs(self) -> str:
        return "\n".join(f"== {log.name}\n{log.read_text()[-3000:]}" for _, log in self.procs)

    def alive(self) -> None:
        for proc, _ in self.procs:
            assert proc.poll() is None, self.logs()

    async def close(self, driver: neo4j.AsyncDriver) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        await delete_by_prefix(driver, self.p)
        await driver.execute_query("MATCH (r:Region) WHERE r.name STARTS WITH $p DETACH DELETE r", p=self.p)
        await delete_offsets(driver, self.group)
        with Session(bootstrap.sql_engine(self.stack)) as session:
            session.exec(delete(RiskFullRun).where(col(RiskFullRun.group_id) == risk_group(self.group)))
            session.exec(delete(RiskAlertState).where(col(RiskAlertState.enterprise_id).startswith(self.p)))
            session.exec(delete(RiskIncident).where(col(RiskIncident.enterprise_id).startswith(self.p)))
            session.commit()
        AdminClient(self.conf).delete_topics(
            [
                self.names.raw,
                self.names.valid,
                self.names.dlq,
                self.names.alerts,
                self.names.changes,
                self.names.telemetry,
            ]
        )


def health(env: dict[str, str]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{env['SUPPLYNET_RISK__WEB_PORT']}/healthz"
    with urllib.request.urlopen(url, timeout=2) as r:
        body: dict[str, Any] = orjson.loads(r.read())
        return body


async def wait_scored(d: Deployment, driver: neo4j.AsyncDriver, n: int, *, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    scored: list[Any] = []
    while time.monotonic() < deadline and len(scored) < n:
        d.alive()
        scored, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p AND e.riskScore IS NOT NULL RETURN e.id AS id",
            p=d.p,
        )
        await asyncio.sleep(0.5)
    assert len(scored) == n, d.logs()


async def test_a_fire_at_a_sole_source_alerts_through_the_running_risk_process(
    stack: Settings, driver: neo4j.AsyncDriver, run_id: str, tmp_path: Path
) -> None:
    d = Deployment(stack, tmp_path, run_id, partitions=1)
    p = d.p
    producer = EventProducer(d.conf, d.names.valid)
    try:
        d.spawn("pipeline")
        d.spawn("risk", SUPPLYNET_RISK__WEB_PORT=str(free_port()))
        producer.send_many(Record(e.subject.encode(), e.to_json()) for e in network_events(p))
        await wait_scored(d, driver, 6)

        starts = ends(stack, d.names.alerts)
        sent = time.monotonic()
        fire = fire_at(p, "mill")
        producer.send_many([Record(fire.subject.encode(), fire.to_json())])
        msgs = read_from(
            stack, d.names.alerts, starts, done=lambda m: len(m) >= 1, timeout_s=90, settle_s=1.0
        )
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
        producer.close()
        await d.close(driver)


async def test_two_risk_processes_run_one_full_recompute_per_period_and_alert_once(
    stack: Settings, driver: neo4j.AsyncDriver, run_id: str, tmp_path: Path
) -> None:
    d = Deployment(stack, tmp_path, run_id, partitions=2)
    p = d.p
    producer = EventProducer(d.conf, d.names.valid)
    period = 3.0
    try:
        d.spawn("pipeline")
        risk = [
            d.spawn(
                "risk",
                SUPPLYNET_RISK__WEB_PORT=str(free_port()),
                SUPPLYNET_RISK__FULL_RECOMPUTE_SECONDS=str(period),
                SUPPLYNET_RISK__FULL_RELOAD_EVERY="2",
            )
            for _ in range(2)
        ]
        producer.send_many(Record(e.subject.encode(), e.to_json()) for e in network_events(p))
        await wait_scored(d, driver, 6)
        # both processes are in the group, each with partitions of its own
        deadline = time.monotonic() + 60
        while True:
            owned = [health(env)["partitions"] for _, _, env in risk]
            if all(owned) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert sorted(p for o in owned for p in o) == [0, 1], (owned, d.logs())

        starts = ends(stack, d.names.alerts)
        fire = fire_at(p, "mill")
        producer.send_many([Record(fire.subject.encode(), fire.to_json())])
        # several periods: every full recompute after the fire sees the mill above the threshold
        await asyncio.sleep(5 * period)
        d.alive()
        msgs = read_from(
            stack, d.names.alerts, starts, done=lambda m: len(m) >= 1, timeout_s=30, settle_s=2.0
        )
        mill = [orjson.loads(m.value()) for m in msgs if orjson.loads(m.value())["enterprise"] == p + "mill"]
        assert len(mill) == 1, (mill, d.logs())
        with Session(bootstrap.sql_engine(stack)) as session:
            incidents = list_incidents(session, enterprise_id=p + "mill")
            runs = full_runs(session, group=risk_group(d.group))
        assert [i.alert_id for i in incidents] == [mill[0]["id"]]

        ran = [
            int(m)
            for _, log in d.procs[1:]
            for m in re.findall(r"full recompute of period (\d+)", log.read_text())
        ]
        assert len(ran) >= 4, d.logs()
        assert len(ran) == len(set(ran)), f"a period was recomputed twice: {sorted(ran)}"
        assert set(ran) <= {r.period for r in runs}
        holders = {r.holder for r in runs if r.period in set(ran)}
        assert len(holders) >= 1
    finally:
        producer.close()
        await d.close(driver)


async def test_events_reach_the_graph_while_the_risk_process_recomputes_everything(
    stack: Settings, driver: neo4j.AsyncDriver, run_id: str, tmp_path: Path
) -> None:
    d = Deployment(stack, tmp_path, run_id, partitions=1)
    p = d.p
    net = synthetic.network("cyclic", 3000, seed=3, links_per_node=8, skus=200, kpis=True, prefix=f"{p}E")
    await load(driver, net)
    producer = EventProducer(d.conf, d.names.raw)
    try:
        d.spawn("pipeline")
        # a full recompute (re-reading the projection) every period of 1 s: it never stops recomputing
        _, _, env = d.spawn(
            "risk",
            SUPPLYNET_RISK__WEB_PORT=str(free_port()),
            SUPPLYNET_RISK__FULL_RECOMPUTE_SECONDS="1",
            SUPPLYNET_RISK__FULL_RELOAD_EVERY="1",
        )
        await wait_scored(d, driver, len(net.enterprises), timeout_s=180)

        busy = False
        deadline = time.monotonic() + 60
        while not busy and time.monotonic() < deadline:
            busy = health(env)["fullRunning"]
            await asyncio.sleep(0.05)
        assert busy, d.logs()
        registered = [
            event(
                "partner.registered",
                f"{p}new{i}",
                PartnerRegistered(
                    enterprise_id=f"{p}new{i}", name=f"new {i}", industry=Industry.STEEL, region=p + "R"
                ),
                4,
            )
            for i in range(20)
        ]
        sent = time.monotonic()
        producer.send_many(Record(e.subject.encode(), e.to_json()) for e in registered)
        seen_busy = False
        found: list[Any] = []
        while len(found) < 20 and time.monotonic() - sent < 60:
            seen_busy = seen_busy or health(env)["fullRunning"]
            found, _, _ = await driver.execute_query(
                "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p + 'new' RETURN e.id AS id", p=p
            )
            await asyncio.sleep(0.1)
        took = time.monotonic() - sent
        print(f"20 events -> graph while the risk process recomputes: {took:.2f} s")
        assert len(found) == 20, d.logs()
        assert seen_busy, "the risk process was not recomputing while the events went through"
        d.alive()
    finally:
        producer.close()
        await d.close(driver)
