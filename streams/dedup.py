"""Stream-side dedup: each event id is forwarded to ``events.valid`` once.

The ledger is the ``seen_event`` SQL table (SQLite by default, PostgreSQL in production, shared by
every worker). The decision is a pure function (``classify``); ``SeenEvents`` is the thin adapter.

- an id already forwarded with the same bytes is a redelivered duplicate: dropped and counted (it is
  the same event, already forwarded; not a mistake of the sender);
- an id already forwarded with other bytes is dead-lettered ("event id reused with different content");
- the same within one batch is handled the same way, against the batch's first copy.

Ids are recorded only after Kafka acknowledged the forward, so a crash in between forwards an event
twice rather than never; the graph applies each id once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from schema.envelope import ValidEvent
from schema.errors import EventRejected
from schema.tables import SeenEvent
from streams.stages import Incoming

log = logging.getLogger(__name__)

Pair = tuple[Incoming, ValidEvent]


@dataclass(frozen=True, slots=True)
class FirstSeen:
    """Where an id was first forwarded from, and the digest of its bytes."""

    digest: str
    topic: str
    partition: int
    offset: int


@dataclass
class Verdict:
    forward: list[Pair] = field(default_factory=list)
    redelivered: list[Pair] = field(default_factory=list)
    reused: list[tuple[Incoming, EventRejected]] = field(default_factory=list)


def digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def classify(batch: Sequence[Pair], known: Mapping[str, FirstSeen]) -> Verdict:
    """Split a batch of valid events into forward / redelivered / id-reused. Pure, order-preserving."""
    out = Verdict()
    seen = dict(known)
    for msg, ev in batch:
        d = digest(msg.value)
        first = seen.get(ev.id)
        if first is None:
            seen[ev.id] = FirstSeen(d, msg.topic, msg.partition, msg.offset)
            out.forward.append((msg, ev))
        elif first.digest == d:
            out.redelivered.append((msg, ev))
        else:
            out.reused.append(
                (
                    msg,
                    EventRejected(
                        "event id reused with different content (first seen at "
                        f"{first.topic}/{first.partition}/{first.offset})",
                        field="$.id",
                        event_id=ev.id,
                        event_type=ev.type,
                        error_class="duplicate",
                    ),
                )
            )
    return out


class SeenEvents:
    """The ``seen_event`` ledger. Thread-safe (a session per call); blocking, call it off the loop."""

    def __init__(self, engine: Engine, *, retention_days: int, prune_every_s: float = 3600) -> None:
        self.engine = engine
        self.retention = timedelta(days=retention_days)
        self.prune_every_s = prune_every_s
        self._last_prune = 0.0

    def known(self, ids: Sequence[str]) -> dict[str, FirstSeen]:
        """Where each of ``ids`` that was forwarded before was first seen (one query per 500 ids)."""
        out: dict[str, FirstSeen] = {}
        unique = list(dict.fromkeys(ids))
        t = SeenEvent.__table__.c  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            for i in range(0, len(unique), 500):
                rows = conn.execute(
                    select(t.event_id, t.digest, t.topic, t.partition, t.offset).where(
                        t.event_id.in_(unique[i : i + 500])
                    )
                )
                for row in rows:
                    event_id, dig, topic, partition, offset = cast(tuple[str, str, str, int, int], tuple(row))
                    out[event_id] = FirstSeen(dig, topic, partition, offset)
        return out

    def check(self, batch: Sequence[Pair]) -> Verdict:
        return classify(batch, self.known([ev.id for _, ev in batch]))

    def record(self, forwarded: Sequence[Pair]) -> None:
        """Mark ids as forwarded; an id another worker recorded meanwhile keeps its first row."""
        if not forwarded:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "event_id": ev.id,
                "digest": digest(msg.value),
                "topic": msg.topic,
                "partition": msg.partition,
                "offset": msg.offset,
                "seen_at": now,
            }
            for msg, ev in forwarded
        ]
        dialect = self.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        with self.engine.begin() as conn:
            conn.execute(insert(SeenEvent).on_conflict_do_nothing(), rows)  # one executemany
        if time.monotonic() - self._last_prune > self.prune_every_s:
            self.prune()

    def prune(self, *, now: datetime | None = None) -> int:
        """Forget ids seen longer ago than the retention; return how many. A pruned id forwards again."""
        self._last_prune = time.monotonic()
        cutoff = (now or datetime.now(UTC)) - self.retention
        with self.engine.begin() as conn:
            n = conn.execute(delete(SeenEvent).where(SeenEvent.seen_at < cutoff)).rowcount  # type: ignore[arg-type]
        if n:
            log.info("dedup: pruned %d ids seen before %s", n, cutoff)
        return int(n or 0)
