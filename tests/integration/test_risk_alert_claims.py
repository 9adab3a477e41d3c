"""Alert causes are claimed in the SQL store: a second risk process recomputing the same network sends
nothing again, and a run that raises many alerts never holds the store in one long transaction."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import neo4j
from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine, event
from sqlmodel import Session, select

from bench.risk_full import load
from connectors.kafka import TopicSpec, ensure_topics
from graph.risk import synthetic
from graph.risk.incidents import list_incidents
from graph.risk.settings import RiskSettings
from schema.tables import RiskAlertOutbox
from streams.risk import ALERT_CHUNK
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.risk_support import service
from tests.integration.topic_reader import ends, event_id, read_from
from tests.integration.worker_proc import subprocess_env


async def test_two_processes_alert_each_cause_once_in_short_transactions(
    stack: Settings, driver: neo4j.AsyncDriver, prefix: str, tmp_path: Path
) -> None:
    n = 2 * ALERT_CHUNK + 50
    await load(driver, synthetic.network("dag", n, seed=4, prefix=f"{prefix}E"))
    topic = f"{prefix}alerts"
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topic, 1)])
    sql = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    bootstrap.create_sql_tables(sql)
    commits: list[int] = []
    event.listen(sql, "commit", lambda conn: commits.append(1))
    s = RiskSettings(alert_threshold=0.0)  # every enterprise alerts on its first crossing
    first = service(stack, driver, prefix, topic, s, sql=sql)
    second = service(stack, driver, prefix, topic, s, sql=sql)
    try:
        run = await first.full()
        assert len(run.alerts) == n
        # the claims, sends and incidents went in chunks: one transaction each, plus the re-arm
        assert len(commits) >= n // ALERT_CHUNK + 1

        again = await second.full()
        assert again.scored == n
        assert again.alerts == []
        with Session(sql) as session:
            incidents: list[Any] = list_incidents(session, limit=1000)
        assert len(incidents) == n
        assert {i.alert_id for i in incidents} == {a.id for a in run.alerts}
    finally:
        first.close()
        second.close()
        AdminClient(stack.kafka.librdkafka()).delete_topics([topic])


CRASH_AT_SEND = """
import asyncio, os, signal, sys
from sqlalchemy import create_engine
from graph.risk.settings import RiskSettings
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.risk_support import service

async def main() -> None:
    stack = Settings()
    driver = bootstrap.async_driver(stack)
    svc = service(stack, driver, sys.argv[1], sys.argv[2], RiskSettings(alert_threshold=0.0),
                  sql=create_engine(sys.argv[3]))
    # killed after the claims committed and before Kafka saw a single alert
    svc.alerts_out.send_many = lambda records: os.kill(os.getpid(), signal.SIGKILL)
    await svc.full()

asyncio.run(main())
"""


async def test_alerts_of_a_process_killed_between_claim_and_send_are_sent_once_by_the_next_recompute(
    stack: Settings, driver: neo4j.AsyncDriver, prefix: str, tmp_path: Path
) -> None:
    n = 40
    await load(driver, synthetic.network("dag", n, seed=5, prefix=f"{prefix}E"))
    topic = f"{prefix}alerts"
    ensure_topics(stack.kafka.librdkafka(), [TopicSpec(topic, 1)])
    url = f"sqlite:///{tmp_path / 'store.db'}"
    sql = create_engine(url)
    bootstrap.create_sql_tables(sql)
    starts = ends(stack, topic)
    crashed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CRASH_AT_SEND, prefix, topic, url],
        env=subprocess_env(stack),
        cwd=Path(__file__).parents[2],
        capture_output=True,
        timeout=300,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]
    with Session(sql) as session:
        left = list(session.exec(select(RiskAlertOutbox)))
    assert len(left) == n  # every claimed alert is in the outbox, none was sent

    s = RiskSettings(alert_threshold=0.0, alert_resend_after_seconds=0.001)
    survivor = service(stack, driver, prefix, topic, s, sql=sql)
    try:
        run = await survivor.full()
        assert run.alerts == []  # the causes stay claimed: nothing is raised twice ...
        got = read_from(stack, topic, starts, done=lambda ms: len(ms) >= n, settle_s=3)
        ids = [event_id(m) for m in got]
        assert sorted(ids) == sorted(r.alert_id for r in left)  # ... and each alert went out once
        with Session(sql) as session:
            assert list(session.exec(select(RiskAlertOutbox))) == []
            incidents: list[Any] = list_incidents(session, limit=1000)
        assert {i.alert_id for i in incidents} == set(ids)
        assert (await survivor.full()).alerts == []
        assert len(read_from(stack, topic, starts, done=lambda ms: len(ms) >= n, settle_s=3)) == n
    finally:
        survivor.close()
        AdminClient(stack.kafka.librdkafka()).delete_topics([topic])
