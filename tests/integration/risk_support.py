"""What the risk integration tests share: events on a fixed clock and a risk service on the real stack."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import neo4j
from sqlalchemy import Engine

from connectors.kafka import EventProducer
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from schema.envelope import ValidEvent
from schema.events import DisruptionKind, DisruptionReported, Severity
from streams.risk import RiskService
from supplynet import bootstrap
from supplynet.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)


def event(kind: str, subject: str, data: Any, at: int, *, source: str = "risk-test") -> ValidEvent:
    """A valid event ``at`` seconds after ten minutes ago (so every test's events are in order)."""
    return ValidEvent(
        id=f"{kind}-{uuid.uuid4().hex[:12]}",
        source=source,
        type=kind,
        time=NOW - timedelta(minutes=10) + timedelta(seconds=at),
        subject=subject,
        sequence=0,
        data=data,
    )


def service(
    stack: Settings,
    driver: neo4j.AsyncDriver,
    prefix: str,
    topic: str,
    s: RiskSettings,
    *,
    sql: Engine | None = None,
) -> RiskService:
    """A risk service scoped to ``prefix``, alerting to ``topic``, with the stack's SQL store."""
    if sql is None:
        sql = bootstrap.sql_engine(stack)
        bootstrap.create_sql_tables(sql)
    return RiskService(
        store=RiskStore(driver, s),
        settings=s,
        alerts_out=EventProducer(stack.kafka.librdkafka(), topic),
        sql=sql,
        scope=prefix,
    )


def fire_at(p: str, target: str, n: int = 1) -> ValidEvent:
    """A critical fire at enterprise ``p + target``, 21 days to recover (``p + "fire-<n>"``)."""
    return event(
        "disruption.reported",
        f"{p}fire-{n}",  # the contract: a disruption's subject is its id
        DisruptionReported(
            disruption_id=f"{p}fire-{n}",
            kind=DisruptionKind.FIRE,
            severity=Severity.CRITICAL,
            expected_recovery_days=21,
            enterprise_id=p + target,
        ),
        3,
    )
