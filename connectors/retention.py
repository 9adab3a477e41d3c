"""Retention of the record store: old records archived (gzip NDJSON) and deleted, old day buckets dropped.

Horizons are measured on the stream's event-time clock (``connectors.flow_store``), not the wall
clock, so a replayed history is retained like a live one. A record goes when the newest event that
wrote it is older than the horizon and it is finished: delivered or cancelled orders, shipments,
quality incidents and equipment alarms. Open orders, stock and capacity (the latest report per key)
stay. The buckets are left as they are: they keep the archived records' contributions, so the KPIs
do not change when records go. Day buckets older than their own horizon (at least the longest KPI
window) are deleted; ``asOf`` reads reach back that far.

Each run writes one archive file per table (``<table>-<clock day>-<run>.ndjson.gz``) and deletes the
archived rows in the same transaction as it reads them; the file is complete before the delete
commits. Two runs at once may archive a row twice (the rows carry their keys).
"""

from __future__ import annotations

import gzip
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Engine, Table, and_, func, or_, select

from connectors import flow_store
from graph import kpis
from schema.records import (
    ALARM,
    ORDER_DELIVERED,
    QUALITY,
    SHIPMENT_DELAYED,
    SHIPMENT_SHIPPED,
)


@dataclass(frozen=True, slots=True)
class Retained:
    """What one run did: rows archived and deleted per table, bucket rows dropped, files written."""

    archived: dict[str, int] = field(default_factory=dict)
    buckets_dropped: int = 0
    files: list[Path] = field(default_factory=list)


_VERSIONED: dict[str, tuple[str, ...]] = {
    ORDER_DELIVERED.table.name: ("placed", "confirmed", "shipped", "delivered", "cancelled"),
    SHIPMENT_SHIPPED.table.name: (SHIPMENT_SHIPPED.name, SHIPMENT_DELAYED.name),
    QUALITY.table.name: (QUALITY.name,),
    ALARM.table.name: (ALARM.name,),
}
"""The field groups (their ``<group>_t`` columns) of each table retention archives."""


def _finished(table: Table, cutoff: int) -> ColumnElement[bool]:
    """Rows every version of which is older than ``cutoff`` (orders: also delivered or cancelled)."""
    c = table.c
    old = [func.coalesce(c[f"{g}_t"], -1) < cutoff for g in _VERSIONED[table.name]]
    if table is ORDER_DELIVERED.table:
        old.append(or_(c.delivered_t.is_not(None), c.cancelled_t.is_not(None)))
    return and_(*old)


def _json(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


def retain(engine: Engine, *, record_days: int, bucket_days: int, archive_dir: Path) -> Retained:
    """Archive and delete finished records older than ``record_days`` and drop day buckets older than
    ``bucket_days`` (at least the longest KPI window), both before the stream clock."""
    bucket_days = max(bucket_days, flow_store.LONGEST_WINDOW_DAYS)
    archived: dict[str, int] = {}
    files: list[Path] = []
    run = uuid.uuid4().hex[:8]
    with engine.begin() as conn:
        now = flow_store.clock(conn)
        if now is None:
            return Retained()
        cutoff = now - record_days * kpis.DAY_MS
        archive_dir.mkdir(parents=True, exist_ok=True)
        for table in (ORDER_DELIVERED.table, SHIPMENT_SHIPPED.table, QUALITY.table, ALARM.table):
            key = next(iter(table.primary_key.columns))
            rows = conn.execute(select(table).where(_finished(table, cutoff)).order_by(key)).mappings().all()
            if not rows:
                continue
            path = archive_dir / f"{table.name}-{kpis.day_of(now).isoformat()}-{run}.ndjson.gz"
            with gzip.open(path, "wb") as out:
                for r in rows:
                    out.write(orjson.dumps({k: _json(v) for k, v in r.items()}) + b"\n")
            ids = [r[key.name] for r in rows]
            for i in range(0, len(ids), 2000):
                conn.execute(table.delete().where(key.in_(ids[i : i + 2000])))
            archived[table.name] = len(ids)
            files.append(path)
        oldest = kpis.window_start(now, bucket_days)
        dropped = 0
        for table in (flow_store.LINK_DAY, flow_store.LINK_LEAD, flow_store.ALARM_DAY):
            dropped += conn.execute(table.delete().where(table.c.day < oldest)).rowcount or 0
    return Retained(archived, dropped, files)
