"""Alert causes are claimed in the SQL store: a second risk process recomputing the same network sends
nothing again, and a run that raises many alerts never holds the store in one long transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import neo4j
from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine, event
from sqlmodel import Session

from bench.risk_full import load
from connectors.kafka import TopicSpec, ensure_topics
from graph.risk import synthetic
from graph.risk.incidents import list_incidents
from graph.risk.settings import RiskSettings
from streams.risk import ALERT_CHUNK
from supplynet import bootstrap
from supplynet.settings import Settings
from tests.integration.risk_support import service


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
