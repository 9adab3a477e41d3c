"""The record store: the flow's rows in SQL (SQLite embedded, PostgreSQL in production), written in bulk.

Guarantees, the same as the graph's: every write is an idempotent upsert keyed by business ids, and
each *field group* (``schema.records.Group``: the fields one kind of event writes) is applied only when
the event's version ``(event time, sequence, event id)`` is newer than the group's stored one. So
replays, duplicates and any delivery order converge to the same rows. One transaction per batch; the
rows come folded to one per key and group (``graph.registry.record_rows``), so a statement never
touches a row twice.

The same transaction keeps the flow's aggregates (``connectors.flow_store``: day buckets per supply
link, open orders, alarms per site and day, the stream clock) equal to the stored records, and yields
the KPI rows of the enterprises it touched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, or_, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from connectors import flow_store
from connectors.flow_store import FlowKpis
from graph.kpis import Buckets, LinkKey
from schema.records import Group

Row = dict[str, Any]


def _upsert(conn: Connection, group: Group, rows: Sequence[Row]) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(group.table)
    t, seq, eid = group.version_columns
    stored = group.table.c
    newer = or_(
        stored[t].is_(None),
        tuple_(stored[t], stored[seq], stored[eid])
        < tuple_(stmt.excluded[t], stmt.excluded[seq], stmt.excluded[eid]),
    )
    written = (*group.fields, t, seq, eid)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(group.key), set_={c: stmt.excluded[c] for c in written}, where=newer
    )
    # Keys in one order across workers: concurrent batches lock rows in the same order (no deadlocks).
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in group.key))
    conn.execute(stmt, ordered)


@dataclass(frozen=True, slots=True)
class Written:
    """What one record transaction did: rows offered, and the KPI rows of the suppliers it touched."""

    rows: int = 0
    kpis: FlowKpis = field(default_factory=FlowKpis)


class RecordStore:
    """Writes the flow's records; thread-safe (one connection per call). Sync: call it off the event loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, groups: Mapping[Group, Sequence[Row]]) -> int:
        """Upsert folded rows (one per key and group) in one transaction; return the rows offered."""
        return self.apply(groups).rows

    def apply(self, groups: Mapping[Group, Sequence[Row]], links: Sequence[LinkKey] = ()) -> Written:
        """Upsert folded rows (one per key and group) and move the flow's aggregates, in one transaction;
        return with the KPI rows of what they touched, and of the supply ``links`` the batch agreed.

        Idempotent and order-independent (last-writer-wins per field group; the aggregates move by what
        the upserts changed). Raises SQLAlchemy's errors (``OperationalError`` when the store is away):
        the caller must not ack the batch then.
        """
        if not any(groups.values()) and not links:
            return Written()
        with self.engine.begin() as conn:
            pending = flow_store.prepare(conn, groups, links)
            for group in sorted(groups, key=lambda g: (g.table.name, g.name)):
                if groups[group]:
                    _upsert(conn, group, groups[group])
            kpis = flow_store.finish(conn, pending)
        return Written(sum(len(r) for r in groups.values()), kpis)

    def due(self, limit: int) -> flow_store.Due:
        """The KPI rows the clock moved that the graph has not committed (``flow_store.due``), for at
        most ``limit`` enterprises."""
        with self.engine.connect() as conn:
            return flow_store.due(conn, limit)

    def done(self, entries: Sequence[Row]) -> None:
        """Forget ``clock_due`` entries whose rows the graph committed (``flow_store.done``)."""
        with self.engine.begin() as conn:
            flow_store.done(conn, entries)

    def link_kpis(self, links: Collection[LinkKey]) -> FlowKpis:
        """KPI rows of the supply ``links`` (and of their suppliers) at the stream clock, each tagged with
        its supplier's revision: what the graph rewrites for a link whose row applied stale."""
        with self.engine.connect() as conn:
            return flow_store.read_kpis(conn, {s for s, _, _ in links}, None, links, at_clock=True)

    def kpis(self, suppliers: Sequence[str], at: int | None = None) -> FlowKpis:
        """KPI rows of ``suppliers`` and their links at ``at`` (default: the stream clock), from buckets."""
        with self.engine.connect() as conn:
            return flow_store.read_kpis(conn, suppliers, at, at_clock=at is None)

    def alarmed_kpis(self) -> FlowKpis:
        """KPI rows (no link rows) of every enterprise with high/critical alarms in the alarm window at the
        stream clock: what fills the graph's alarm properties once (``graph.migrations``)."""
        with self.engine.connect() as conn:
            return flow_store.read_kpis(conn, flow_store.alarmed(conn), None, set(), at_clock=True)

    def supplier_buckets(self, at: int | None = None) -> tuple[int | None, dict[str, Buckets]]:
        """(the instant used, every supplier's buckets of the longest window ending there); ``at``
        defaults to the stream clock (no buckets before the first record)."""
        with self.engine.connect() as conn:
            when = at if at is not None else flow_store.clock(conn)
            return when, (flow_store.supplier_buckets(conn, when) if when is not None else {})

    def clock(self) -> int | None:
        """The stream's event-time clock (epoch ms), None before the first record."""
        with self.engine.connect() as conn:
            return flow_store.clock(conn)
