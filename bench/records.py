"""The record store's write rate, without Kafka or a worker: the realistic event mix (``bench.workload``)
mapped to record rows by the event-type registry and upserted batch by batch with ``RecordStore.write``,
as the project stage does — into SQLite (a fresh file, with the store's settings from ``connectors.sql``
and, side by side in the same run, with SQLite's own defaults) and, with ``--postgres URL``, PostgreSQL.

Prints, per store: events/s and record rows/s of the upserts (mapping excluded, then included), and the
store's size after the run; then the same events written again (a full replay: every upsert is refused
by its version) to show what a replay costs.

    .venv/bin/python -m bench.records --events 200000
    .venv/bin/python -m bench.records --postgres "$(.venv/bin/supplynet stack url)"
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text

from bench.workload import generate
from connectors.record_store import RecordStore
from connectors.sql import sql_engine
from graph.registry import record_rows
from schema.envelope import ValidEvent
from schema.validate import decode_event
from supplynet.bootstrap import create_sql_tables


def _run(engine: Engine, events: list[ValidEvent], batch: int) -> tuple[float, float, int]:
    """(seconds mapping, seconds writing, rows offered) of one pass over ``events``."""
    store = RecordStore(engine)
    mapping = writing = 0.0
    rows = 0
    for i in range(0, len(events), batch):
        t = time.perf_counter()
        groups = record_rows(events[i : i + batch])
        t2 = time.perf_counter()
        rows += store.write(groups)
        mapping += t2 - t
        writing += time.perf_counter() - t2
    return mapping, writing, rows


def _size_mb(engine: Engine) -> float:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return (
                float(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()) / 2**20
            )
    return Path(engine.url.database or "").stat().st_size / 2**20


def report(name: str, engine: Engine, events: list[ValidEvent], batch: int) -> None:
    create_sql_tables(engine)
    for label in ("first pass", "replay"):
        mapping, writing, rows = _run(engine, events, batch)
        print(
            f"{name:<10} {label:<10} {len(events) / writing:>9,.0f} events/s  {rows / writing:>9,.0f} rows/s "
            f"written ({len(events) / (mapping + writing):,.0f} events/s with mapping; {rows:,} rows, "
            f"batch {batch:,})",
            flush=True,
        )
    print(f"{name:<10} size       {_size_mb(engine):.1f} MiB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--enterprises", type=int, default=2_000)
    ap.add_argument("--batch", type=int, default=10_000, help="events per transaction (the worker's batch)")
    ap.add_argument(
        "--postgres", help="a PostgreSQL URL (a database of the run's own is created and dropped)"
    )
    args = ap.parse_args()
    raw = generate(prefix="rb-", enterprises=args.enterprises, events=args.events)
    events = [decode_event(e.value, max_future=None) for e in raw]
    print(f"{len(events):,} events over {args.enterprises:,} enterprises", flush=True)
    print("sqlite: the store's settings (connectors.sql); sqlite-raw: SQLite's own defaults", flush=True)
    for name, tuned in (("sqlite", True), ("sqlite-raw", False)):
        with tempfile.TemporaryDirectory() as tmp:
            engine = sql_engine(f"sqlite:///{tmp}/records.db", tuned=tuned)
            report(name, engine, events, args.batch)
            engine.dispose()
    if args.postgres:
        base = make_url(args.postgres)
        name = f"bench_records_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = sql_engine(base.set(database=name).render_as_string(hide_password=False))
        try:
            report("postgresql", engine, events, args.batch)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
