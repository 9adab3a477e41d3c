"""Record-store retention: what goes (archived, then deleted), what stays, and KPIs that do not move.

Runs against SQLite and the local PostgreSQL (``sql_engine`` in tests/conftest.py).
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import Engine, func, select

from bench.workload import generate
from connectors import flow_store
from connectors.record_store import RecordStore
from connectors.retention import retain
from graph.kpis import DAY_MS, window_start
from graph.registry import record_rows
from schema.records import ORDER_TABLE
from schema.validate import decode_event


def test_finished_records_past_the_horizon_are_archived_and_deleted_and_kpis_stay(
    sql_engine: Engine, tmp_path: Path
) -> None:
    events = [
        decode_event(e.value)
        for e in generate(prefix="ret-", enterprises=25, events=3000, end=datetime(2026, 6, 1, tzinfo=UTC))
    ]
    store = RecordStore(sql_engine)
    for i in range(0, len(events), 400):
        store.write(record_rows(events[i : i + 400]))
    clock = store.clock()
    assert clock is not None
    suppliers = sorted({e.data.supplier_id for e in events if e.type.startswith("order.")})
    before = store.kpis(suppliers)

    # Independently from the events: orders whose every event is older than 30 days and that ended.
    last: dict[str, int] = defaultdict(int)
    ended: set[str] = set()
    for e in events:
        if e.type.startswith("order."):
            last[e.data.order_id] = max(last[e.data.order_id], e.time_ms)
            if e.type in ("order.delivered", "order.cancelled"):
                ended.add(e.data.order_id)
    cutoff = clock - 30 * DAY_MS
    gone = {o for o, t in last.items() if t < cutoff and o in ended}
    assert gone and len(gone) < len(last)

    done = retain(sql_engine, record_days=30, bucket_days=90, archive_dir=tmp_path / "archive")

    assert done.archived["order_record"] == len(gone)
    archived: set[str] = set()
    for path in done.files:
        if path.name.startswith("order_record-"):
            with gzip.open(path, "rb") as f:
                archived |= {orjson.loads(line)["order_id"] for line in f}
    assert archived == gone
    with sql_engine.connect() as conn:
        kept = set(conn.execute(select(ORDER_TABLE.c.order_id)).scalars())
        assert kept == set(last) - gone
        oldest = conn.execute(select(func.min(flow_store.LINK_DAY.c.day))).scalar()
    assert oldest is not None and oldest >= window_start(clock, 90)
    # The buckets kept the archived records' contributions: the KPIs did not move.
    assert store.kpis(suppliers) == before
    # A second run finds nothing more to archive.
    assert not retain(sql_engine, record_days=30, bucket_days=90, archive_dir=tmp_path / "archive").archived
