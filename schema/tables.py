"""SQLModel tables of the relational store (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


class Role(enum.StrEnum):
    """What an API key may do. ``erp`` may only ingest; ``partner`` sees its own network."""

    ADMIN = "admin"
    ANALYST = "analyst"
    ERP = "erp"
    PARTNER = "partner"


def _now() -> datetime:
    return datetime.now(UTC)


class ApiKeyBase(SQLModel):
    name: str = Field(max_length=128, description="Who holds the key, e.g. 'wisco-sap-prod'")
    role: Role
    source: str | None = Field(
        default=None, max_length=256, description="The event source an ERP key may send as"
    )
    enterprise_id: str | None = Field(default=None, max_length=128, description="A partner key's enterprise")


class ApiKey(ApiKeyBase, table=True):
    """An API key; only its SHA-256 digest is stored, the secret is shown once at creation."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(
        index=True, unique=True, max_length=16, description="Public key id, e.g. 'sn_ab12cd34'"
    )
    digest: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=_now)
    revoked_at: datetime | None = None


class SeenEvent(SQLModel, table=True):
    """An event id the validate stage forwarded to ``events.valid``: the stream-side dedup ledger.

    ``digest`` is the SHA-256 of the event's bytes, so a redelivered copy (same digest) is told apart
    from an id reused for other content. Rows older than the retention are pruned.
    """

    __tablename__ = "seen_event"

    event_id: str = Field(primary_key=True, max_length=256)
    digest: str = Field(max_length=64)
    topic: str = Field(max_length=256)
    partition: int
    offset: int
    seen_at: datetime = Field(default_factory=_now, index=True)


class IncidentState(enum.StrEnum):
    """Workflow of a risk incident: potential -> confirmed | no_impact; confirmed -> restored."""

    POTENTIAL = "potential"
    CONFIRMED = "confirmed"
    NO_IMPACT = "no_impact"
    RESTORED = "restored"


class RiskIncident(SQLModel, table=True):
    """A risk alert under investigation: which node, how severe, who owns it, where it stands."""

    __tablename__ = "risk_incident"

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: str = Field(index=True, max_length=128, description="The risky node")
    severity: str = Field(max_length=16, description="medium, high or critical")
    score: float = Field(description="The node's risk score when the alert was raised")
    reason: str = Field(max_length=32, description="'threshold' (score crossed it) or 'disruption'")
    summary: str = Field(max_length=2000, description="The alert's explanation in words")
    factors: str = Field(default="{}", description="JSON factor breakdown at alert time")
    affected: str = Field(default="[]", description="JSON list of affected downstream enterprise ids")
    alert_id: str = Field(index=True, unique=True, max_length=64, description="The risk.alerts event id")
    state: IncidentState = Field(default=IncidentState.POTENTIAL, index=True)
    owner: str | None = Field(default=None, max_length=128)
    notes: str = Field(default="", description="Append-only log of notes, one per line")
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    resolved_at: datetime | None = None


class RiskAlertState(SQLModel, table=True):
    """Whether an alert cause is raised: the risk processes' shared claim on it, so a cause alerts once.

    ``cause`` is ``threshold`` (the enterprise's score is at or above the alert threshold; re-armed when
    it drops below, and ``episode`` counts the crossings) or ``alert:<id>`` (a disruption alert, raised
    once). Whoever flips ``active`` from false (or no row) to true sends the alert.
    """

    __tablename__ = "risk_alert_state"

    enterprise_id: str = Field(primary_key=True, max_length=128)
    cause: str = Field(primary_key=True, max_length=64)
    active: bool = Field(default=True, index=True)
    episode: int = Field(default=1, description="How many times this cause was raised")
    alert_id: str = Field(max_length=64, description="The risk.alerts event id of the last raise")
    updated_at: datetime = Field(default_factory=_now)


class RiskAlertOutbox(SQLModel, table=True):
    """An alert claimed and not yet acknowledged by Kafka (a transactional outbox): written in the same
    transaction as its cause's claim, deleted once Kafka acknowledged the send. A row left behind names
    an alert whose risk process died in between; the next full recompute sends it (same id)."""

    __tablename__ = "risk_alert_outbox"

    alert_id: str = Field(primary_key=True, max_length=64)
    enterprise_id: str = Field(max_length=128)
    cause: str = Field(max_length=64)
    severity: str = Field(max_length=16)
    payload: str = Field(description="The risk.alerts event value (JSON)")
    claimed_at: datetime = Field(default_factory=_now, index=True)


class RiskFullRun(SQLModel, table=True):
    """One full risk recompute per (risk consumer group, period): the row is the claim on the period."""

    __tablename__ = "risk_full_run"

    group_id: str = Field(primary_key=True, max_length=256, description="The risk consumer group")
    period: int = Field(primary_key=True, description="Seconds since the epoch // full_recompute_seconds")
    holder: str = Field(max_length=256, description="The risk process that ran it (host/pid)")
    started_at: datetime = Field(default_factory=_now)
    finished_at: datetime | None = None
    scored: int | None = None
    alerts: int | None = None
