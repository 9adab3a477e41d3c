"""Risk incidents in the SQL store: pure workflow rules plus keyword-only CRUD functions (no HTTP).

Workflow: ``potential`` -> ``confirmed`` | ``no_impact``; ``confirmed`` -> ``restored``. ``no_impact``
and ``restored`` are final. Every function takes an open ``sqlmodel.Session`` and commits its change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from sqlmodel import Session, col, select

from graph.risk.alerts import Alert
from schema.tables import IncidentState, RiskIncident

TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    IncidentState.POTENTIAL: frozenset({IncidentState.CONFIRMED, IncidentState.NO_IMPACT}),
    IncidentState.CONFIRMED: frozenset({IncidentState.RESTORED}),
    IncidentState.NO_IMPACT: frozenset(),
    IncidentState.RESTORED: frozenset(),
}


class IncidentError(Exception):
    """Base of the incident errors."""


class IncidentNotFound(IncidentError):
    """No incident has that id."""


class IllegalTransition(IncidentError):
    """The workflow does not allow this state change."""


def check_transition(incident_id: int | None, current: IncidentState, to: IncidentState) -> None:
    """Return if ``current -> to`` is allowed; raise ``IllegalTransition`` naming both states otherwise."""
    allowed = TRANSITIONS[current]
    if to not in allowed:
        options = ", ".join(sorted(a.value for a in allowed)) or "none (final state)"
        raise IllegalTransition(
            f"incident {incident_id}: cannot move from {current.value} to {to.value}; "
            f"allowed from {current.value}: {options}"
        )


def _now() -> datetime:
    return datetime.now(UTC)


def open_incident(session: Session, *, alert: Alert) -> RiskIncident:
    """Record a ``potential`` incident for an alert; idempotent on the alert id (returns the existing one)."""
    return open_incidents(session, alerts=[alert])[0]


def open_incidents(session: Session, *, alerts: Sequence[Alert], chunk: int = 500) -> list[RiskIncident]:
    """``open_incident`` for many alerts in one transaction (one commit, existing ids looked up in chunks);
    the incidents in the order of ``alerts``. A first full recompute raises thousands of alerts: one
    commit each cost seconds per thousand on SQLite."""
    ids = list(dict.fromkeys(a.id for a in alerts))
    found: dict[str, RiskIncident] = {}
    for i in range(0, len(ids), chunk):
        q = select(RiskIncident).where(col(RiskIncident.alert_id).in_(ids[i : i + chunk]))
        found.update((inc.alert_id, inc) for inc in session.exec(q))
    new: list[RiskIncident] = []
    for alert in alerts:
        if alert.id in found:
            continue
        incident = RiskIncident(
            enterprise_id=alert.enterprise,
            severity=alert.severity,
            score=alert.score,
            reason=alert.reason,
            summary=alert.summary[:2000],
            factors=orjson.dumps(alert.factors).decode(),
            affected=orjson.dumps(alert.affected).decode(),
            alert_id=alert.id,
        )
        found[alert.id] = incident
        new.append(incident)
    if new:
        session.add_all(new)
        session.commit()
        for incident in new:
            session.refresh(incident)
    return [found[a.id] for a in alerts]


def get_incident(session: Session, *, incident_id: int) -> RiskIncident:
    """The incident; raises ``IncidentNotFound``."""
    incident = session.get(RiskIncident, incident_id)
    if incident is None:
        raise IncidentNotFound(f"incident {incident_id} does not exist")
    return incident


def list_incidents(
    session: Session,
    *,
    state: IncidentState | None = None,
    enterprise_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RiskIncident]:
    """Incidents, newest first, optionally of one state and/or enterprise; at most 1000 per call."""
    q = select(RiskIncident)
    if state is not None:
        q = q.where(RiskIncident.state == state)
    if enterprise_id is not None:
        q = q.where(RiskIncident.enterprise_id == enterprise_id)
    q = q.order_by(col(RiskIncident.created_at).desc(), col(RiskIncident.id).desc())
    return list(session.exec(q.offset(max(0, offset)).limit(max(1, min(limit, 1000)))))


def _note(incident: RiskIncident, by: str | None, text: str) -> None:
    line = f"{_now().isoformat(timespec='seconds')} {by or 'system'}: {text}"
    incident.notes = f"{incident.notes}\n{line}" if incident.notes else line


def transition(
    session: Session, *, incident_id: int, to: IncidentState, by: str | None = None, note: str | None = None
) -> RiskIncident:
    """Move the incident to ``to``; raises ``IllegalTransition`` (nothing changed) or ``IncidentNotFound``."""
    incident = get_incident(session, incident_id=incident_id)
    check_transition(incident.id, incident.state, to)
    _note(incident, by, f"{incident.state.value} -> {to.value}" + (f": {note}" if note else ""))
    incident.state = to
    incident.updated_at = _now()
    if not TRANSITIONS[to]:
        incident.resolved_at = incident.updated_at
    session.add(incident)
    session.commit()
    session.refresh(incident)
    return incident


def assign(session: Session, *, incident_id: int, owner: str, by: str | None = None) -> RiskIncident:
    """Set the incident's owner (any state); raises ``IncidentNotFound``."""
    incident = get_incident(session, incident_id=incident_id)
    _note(incident, by, f"owner -> {owner}")
    incident.owner = owner
    incident.updated_at = _now()
    session.add(incident)
    session.commit()
    session.refresh(incident)
    return incident


def add_note(session: Session, *, incident_id: int, note: str, by: str | None = None) -> RiskIncident:
    """Append a timestamped note; raises ``IncidentNotFound``, ``ValueError`` for an empty note."""
    if not note.strip():
        raise ValueError(f"incident {incident_id}: a note must not be empty")
    incident = get_incident(session, incident_id=incident_id)
    _note(incident, by, note.strip())
    incident.updated_at = _now()
    session.add(incident)
    session.commit()
    session.refresh(incident)
    return incident
