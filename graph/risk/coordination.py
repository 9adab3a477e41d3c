"""What the risk processes of one group agree on through the SQL store (no process holds it alone).

- **The period's full recompute**: ``claim_period`` inserts the row of (group, period); the primary key
  lets exactly one process win it, whatever the Kafka assignment does meanwhile (a rebalance in the
  middle of a recompute cannot start a second one for the same period).
- **Alert causes**: ``claim_causes`` flips a cause (``threshold`` or ``alert:<id>``) of an enterprise
  from not raised to raised; only the process whose statement changed the row sends the alert, so two
  processes that both see a crossing send it once. ``rearm`` makes a threshold cause raisable again
  once the score dropped below the threshold.

- **The outbox**: each claimed alert is written (``to_outbox``) in the claim's own transaction and
  deleted (``sent``) once Kafka acknowledged it, so a process killed between the claim and the send
  leaves the alert behind, and ``unsent`` hands it to the next full recompute to send (same id).

Every function takes an open ``sqlmodel.Session``; ``claim_period`` and ``finish_period`` commit, the
cause functions leave the commit to the caller. The caller commits its claims before it sends the
alerts (a transaction open across a Kafka send would hold SQLite's file lock meanwhile) and
``release``s them if the send fails, so the causes are raised again on the next rescoring.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from graph.risk.alerts import THRESHOLD_CAUSE, Alert
from schema.tables import RiskAlertOutbox, RiskAlertState, RiskFullRun

CauseKey = tuple[str, str]
"""(enterprise id, cause)."""

CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


def claim_period(session: Session, *, group: str, period: int, holder: str) -> bool:
    """True if this call claimed the full recompute of ``period`` for ``group`` (commits); False if
    another process already had it."""
    try:
        session.add(RiskFullRun(group_id=group, period=period, holder=holder))
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def finish_period(session: Session, *, group: str, period: int, scored: int, alerts: int) -> None:
    """Record that the claimed recompute of ``period`` finished (commits)."""
    row = session.get(RiskFullRun, (group, period))
    if row is not None:
        row.finished_at, row.scored, row.alerts = _now(), scored, alerts
        session.add(row)
        session.commit()


def full_runs(session: Session, *, group: str) -> list[RiskFullRun]:
    """The group's full recomputes, oldest period first."""
    q = select(RiskFullRun).where(RiskFullRun.group_id == group).order_by(col(RiskFullRun.period))
    return list(session.exec(q))


def rearm(session: Session, *, below: Collection[str], facts_read_at: datetime | None = None) -> int:
    """Make the threshold cause raisable again for the enterprises in ``below`` (scores now under the
    threshold) that had it raised; returns how many. Does not commit.

    ``facts_read_at``: when the facts behind those scores were read. A cause raised at or after it is
    left raised: its raise saw newer facts than the score that is under the threshold (another risk
    process rescored a change this one's model had not read yet), and re-arming it would send the
    same crossing again on the next rescoring."""
    below = set(below)
    if not below:
        return 0
    base = select(RiskAlertState.enterprise_id).where(
        RiskAlertState.cause == THRESHOLD_CAUSE, col(RiskAlertState.active)
    )
    if facts_read_at is not None:
        base = base.where(col(RiskAlertState.updated_at) < facts_read_at)
    raised: list[str] = []
    if len(below) > 10 * CHUNK:  # a full recompute: the raised ones are the few, read them all
        raised = [e for e in session.exec(base) if e in below]
    else:
        ids = sorted(below)
        for i in range(0, len(ids), CHUNK):
            raised += session.exec(base.where(col(RiskAlertState.enterprise_id).in_(ids[i : i + CHUNK])))
    for i in range(0, len(raised), CHUNK):
        session.execute(
            update(RiskAlertState)
            .where(
                col(RiskAlertState.enterprise_id).in_(raised[i : i + CHUNK]),
                col(RiskAlertState.cause) == THRESHOLD_CAUSE,
            )
            .values(active=False, updated_at=_now())
        )
    return len(raised)


def next_episodes(session: Session, keys: Sequence[CauseKey]) -> dict[CauseKey, int]:
    """The episode a raise of each cause not raised now would get (reads only): what to build the
    alerts for before ``claim_causes``, outside any write transaction."""
    wanted = list(dict.fromkeys(keys))
    found: dict[CauseKey, RiskAlertState] = {}
    ids = sorted({e for e, _ in wanted})
    for i in range(0, len(ids), CHUNK):
        q = select(RiskAlertState).where(col(RiskAlertState.enterprise_id).in_(ids[i : i + CHUNK]))
        found.update(((r.enterprise_id, r.cause), r) for r in session.exec(q))
    out: dict[CauseKey, int] = {}
    for key in wanted:
        row = found.get(key)
        if row is None:
            out[key] = 1
        elif not row.active:
            out[key] = row.episode + 1
    return out


def to_outbox(session: Session, alerts: Mapping[CauseKey, Alert]) -> None:
    """Write the claimed alerts (cause -> alert) to the outbox. Does not commit: the caller commits
    them with their claims."""
    session.add_all(
        RiskAlertOutbox(
            alert_id=a.id,
            enterprise_id=key[0],
            cause=key[1],
            severity=a.severity,
            payload=a.to_json().decode(),
        )
        for key, a in alerts.items()
    )


def sent(session: Session, alert_ids: Collection[str]) -> None:
    """Kafka acknowledged these alerts: out of the outbox. Does not commit."""
    ids = sorted(alert_ids)
    for i in range(0, len(ids), CHUNK):
        session.execute(
            delete(RiskAlertOutbox)
            .where(col(RiskAlertOutbox.alert_id).in_(ids[i : i + CHUNK]))
            .execution_options(synchronize_session=False)
        )


def unsent(session: Session, *, claimed_before: datetime) -> list[RiskAlertOutbox]:
    """Alerts claimed before ``claimed_before`` and never acknowledged, oldest first."""
    q = (
        select(RiskAlertOutbox)
        .where(col(RiskAlertOutbox.claimed_at) < claimed_before)
        .order_by(col(RiskAlertOutbox.claimed_at), col(RiskAlertOutbox.alert_id))
    )
    return list(session.exec(q))


def claim_causes(
    session: Session, keys: Sequence[CauseKey], *, alert_id: Callable[[CauseKey, int], str]
) -> dict[CauseKey, int]:
    """Raise the causes not raised yet; returns those this call raised -> their episode (1 for a
    first raise). ``alert_id(key, episode)`` names the alert that goes with it. Safe against other
    processes claiming at the same time: a row changes only from the state this call read (an
    ``UPDATE … WHERE active = false AND episode = <read>``), and a new row only by a primary-key insert.
    Does not commit."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    found: dict[CauseKey, RiskAlertState] = {}
    ids = sorted({e for e, _ in wanted})
    for i in range(0, len(ids), CHUNK):
        q = select(RiskAlertState).where(col(RiskAlertState.enterprise_id).in_(ids[i : i + CHUNK]))
        found.update(((r.enterprise_id, r.cause), r) for r in session.exec(q))
    claimed: dict[CauseKey, int] = {}
    new: list[CauseKey] = []
    for key in wanted:
        row = found.get(key)
        if row is None:
            new.append(key)
        elif not row.active:
            episode = row.episode + 1
            done = session.execute(
                update(RiskAlertState)
                .where(
                    col(RiskAlertState.enterprise_id) == key[0],
                    col(RiskAlertState.cause) == key[1],
                    col(RiskAlertState.active).is_(False),
                    col(RiskAlertState.episode) == row.episode,
                )
                .values(active=True, episode=episode, alert_id=alert_id(key, episode), updated_at=_now())
                .execution_options(synchronize_session=False)
            )
            if done.rowcount == 1:  # type: ignore[attr-defined]
                claimed[key] = episode
    if new:
        rows = [
            {"enterprise_id": e, "cause": c, "active": True, "episode": 1, "alert_id": alert_id((e, c), 1)}
            for e, c in new
        ]
        claimed.update((k, 1) for k in _insert_missing(session, rows))
    return claimed


def release(session: Session, claimed: Mapping[CauseKey, str]) -> int:
    """Undo claims whose alerts could not be sent (cause -> the alert id it was claimed with): they
    are raisable again. A cause claimed anew since (another alert id) is left alone. Does not commit."""
    n = 0
    for (enterprise, cause), alert in claimed.items():
        done = session.execute(
            update(RiskAlertState)
            .where(
                col(RiskAlertState.enterprise_id) == enterprise,
                col(RiskAlertState.cause) == cause,
                col(RiskAlertState.alert_id) == alert,
            )
            .values(active=False, updated_at=_now())
            .execution_options(synchronize_session=False)
        )
        n += done.rowcount  # type: ignore[attr-defined]
    return n


def _insert_missing(session: Session, rows: list[dict[str, object]]) -> list[CauseKey]:
    """Insert the rows whose key is not taken (``ON CONFLICT DO NOTHING``); the keys inserted.

    Not savepoints around a plain insert: pysqlite's own transaction handling makes a ``RELEASE``
    outside an explicit ``BEGIN`` commit, so a claim would survive the rollback of a failed send."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    inserts: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    if dialect not in inserts:
        raise ValueError(f"risk alert claims need SQLite or PostgreSQL, not {dialect}")
    upsert = inserts[dialect]
    out: list[CauseKey] = []
    for i in range(0, len(rows), CHUNK):
        stmt = (
            upsert(RiskAlertState)
            .values(rows[i : i + CHUNK])
            .on_conflict_do_nothing(index_elements=["enterprise_id", "cause"])
            .returning(col(RiskAlertState.enterprise_id), col(RiskAlertState.cause))
        )
        out += [(str(e), str(c)) for e, c in session.execute(stmt)]
    return out
