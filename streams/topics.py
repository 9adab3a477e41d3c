"""Every Kafka topic name of supplynet, in one place."""

from __future__ import annotations

from dataclasses import dataclass

RAW = "events.raw"
"""Everything any connector accepted, as the sender sent it, keyed by subject."""
VALID = "events.valid"
"""Events that passed their contract, keyed by subject (the enterprise they concern)."""
DLQ = "events.dlq"
"""Rejected events: the original bytes plus headers naming the error (Kafka Connect DLQ convention)."""
ALERTS = "risk.alerts"
"""Risk alerts for dashboards and the Pulsar mirror."""
CHANGES = "graph.changes"
"""What each graph commit applied (``schema.changes.GraphChanges``, JSON), keyed by the subject of the
events that caused it; published by the project stage after the commit, at least once."""

SERVICE_ALERTS = "service.alerts"
"""Service alerts on installed equipment from the predictive-maintenance job (JSON, keyed by equipment)."""
TELEMETRY = "events.telemetry"
"""The service job's input, written by the validate stage, keyed by subject: the streamed types
(``equipment.telemetry``, which go nowhere else) and a copy of each other type the job folds
(installations, alarms, completed maintenance), in their order on ``events.raw``."""

ALL = (RAW, VALID, DLQ, ALERTS, SERVICE_ALERTS, CHANGES, TELEMETRY)


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names one deployment uses: the defaults above, or all of them behind one prefix
    (``SUPPLYNET_STREAM__TOPIC_PREFIX``), so a test or benchmark can run on topics of its own."""

    raw: str = RAW
    valid: str = VALID
    dlq: str = DLQ
    alerts: str = ALERTS
    service_alerts: str = SERVICE_ALERTS
    changes: str = CHANGES
    telemetry: str = TELEMETRY

    @property
    def risk_input(self) -> str:
        """What the risk processes consume: the one place that says so. ``graph.changes``: only what the
        graph committed, published after the commit, so nothing waits for the projector."""
        return self.changes

    @classmethod
    def prefixed(cls, prefix: str) -> Topics:
        return cls(*(f"{prefix}{name}" for name in ALL))
