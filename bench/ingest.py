"""Ingest benchmark: Kafka -> faust worker(s) -> record store + Neo4j, against the ceiling of writing the
same graph rows straight to Neo4j, plus event-to-graph latency at a steady rate, the worker's peak
memory, and the record store's rows, size and write rate (the workers' ``SUPPLYNET_SQL_URL``).

    python -m bench.ingest --events 1000000 --enterprises 10000        # the full run (once; shared box)
    python -m bench.ingest --events 50000 --enterprises 1000           # a quick run
    python -m bench.ingest --events 1000000 --enterprises 10000 --sizes 5000 10000 20000 --batch 10000
                                                        # the run docs/projection-performance.md reports

Everything it writes has its own id prefix and topics, and is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from sqlalchemy import Table, delete, func, select, text

from bench.workload import Event, generate
from connectors import flow_store
from connectors.flow_store import FlowKpis
from connectors.kafka import EventProducer, Record, TopicSpec, ensure_topics
from connectors.record_store import RecordStore
from connectors.sql import sql_engine
from graph import kpis
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.mutations import Mutations, to_mutations
from graph.registry import agreed_links, record_rows
from graph.writer import GraphWriter
from schema.records import (
    CapacityRecord,
    EquipmentAlarmRecord,
    OrderRecord,
    QualityIncidentRecord,
    ShipmentRecord,
    StockRecord,
)
from schema.validate import decode_event
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings

_END = datetime.now(UTC) - timedelta(days=2)
"""Where the generated histories end: a shipment's last stages may fall up to a day after ``end``, and
events more than 5 minutes ahead of the validating clock are refused."""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_worker(
    settings: Settings, prefix: str, group: str, batch: int, batch_seconds: float, log: Path
) -> subprocess.Popen[bytes]:
    """A ``supplynet worker`` on the run's topics (``prefix``) and consumer group, logging to ``log``."""
    env = {
        **os.environ,
        "SUPPLYNET_STREAM__TOPIC_PREFIX": prefix,
        "SUPPLYNET_STREAM__APP_ID": group,
        "SUPPLYNET_STREAM__WEB_PORT": str(_free_port()),
        "SUPPLYNET_STREAM__BATCH_SIZE": str(batch),
        "SUPPLYNET_STREAM__BATCH_SECONDS": str(batch_seconds),
    }
    return subprocess.Popen(
        # BENCH_LOGLEVEL=info keeps the worker's per-batch log lines (in /tmp/<tag>-*.log).
        [
            sys.executable,
            "-m",
            "supplynet",
            "worker",
            "--loglevel",
            os.environ.get("BENCH_LOGLEVEL", "warning"),
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (``VmHWM``), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group; SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def load_events(settings: Settings, topic: str, events: Sequence[Event]) -> dict[int, int]:
    """Produce ``events`` to ``topic``; the end offset per partition."""
    producer = EventProducer(settings.kafka.librdkafka(), topic)
    ends: dict[int, int] = {}
    for i in range(0, len(events), 50_000):
        for d in producer.send_many(Record(key=e.key, value=e.value) for e in events[i : i + 50_000]):
            ends[d.partition] = max(ends.get(d.partition, 0), d.offset + 1)
    producer.close()
    return ends


RECORD_TABLES: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[union-attr]
    for m in (
        OrderRecord,
        ShipmentRecord,
        StockRecord,
        CapacityRecord,
        QualityIncidentRecord,
        EquipmentAlarmRecord,
    )
)


def _first_key(table: Table) -> Any:
    return next(iter(table.primary_key.columns))


def record_figures(settings: Settings, prefix: str) -> dict[str, Any]:
    """Rows of this run in each record table, and the store's size (the SQLite file or the database)."""
    engine = bootstrap.sql_engine(settings)
    bootstrap.create_sql_tables(engine)
    with engine.connect() as conn:
        rows = {
            t.name: conn.execute(
                select(func.count()).select_from(t).where(_first_key(t).startswith(prefix))
            ).scalar_one()
            for t in RECORD_TABLES
        }
        size: int
        if engine.dialect.name == "postgresql":
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        else:
            size = Path(engine.url.database or "").stat().st_size
    engine.dispose()
    return {"store": engine.dialect.name, "rows": rows, "size_mb": size / 2**20}


def delete_records(settings: Settings, prefix: str) -> None:
    engine = bootstrap.sql_engine(settings)
    with engine.begin() as conn:
        for t in RECORD_TABLES:
            conn.execute(delete(t).where(_first_key(t).startswith(prefix)))
        for t in (flow_store.LINK_DAY, flow_store.LINK_LEAD, flow_store.LINK_OPEN, flow_store.REVISION):
            conn.execute(delete(t).where(t.c.supplier_id.startswith(prefix)))
    engine.dispose()


async def end_to_end(
    settings: Settings,
    writer: GraphWriter,
    events: Sequence[Event],
    workers: int,
    batch: int,
    batch_seconds: float,
    tag: str,
) -> dict[str, Any]:
    prefix = f"{tag}.e2e."
    names = Topics.prefixed(prefix)
    parts = settings.kafka.partitions
    ensure_topics(
        settings.kafka.librdkafka(),
        [
            TopicSpec(names.raw, 1),
            TopicSpec(names.valid, parts),
            TopicSpec(names.dlq, 1),
            TopicSpec(names.alerts, 1),
            TopicSpec(names.changes, parts),
        ],
    )
    t = time.perf_counter()
    ends = load_events(settings, names.valid, events)
    load_s = time.perf_counter() - t
    group = f"{tag}-e2e"
    log = Path(tempfile.gettempdir()) / f"{tag}-e2e.log"
    t_start = time.perf_counter()
    procs = [spawn_worker(settings, prefix, group, batch, batch_seconds, log) for _ in range(workers)]
    first = None
    peak = 0.0
    try:
        while True:
            stored = await writer.stored_offsets(group, names.valid)
            done = sum(min(stored.get(p, 0), o) for p, o in ends.items())
            if done and first is None:
                first = (time.perf_counter(), done)
            peak = max([peak, *(peak_rss_mb(p.pid) for p in procs if p.poll() is None)])
            if all(stored.get(p, 0) >= o for p, o in ends.items()):
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"worker exited; see {log}")
            await asyncio.sleep(0.1)
        t_end = time.perf_counter()
        kpi_lag = await _kpis_current(settings, writer, f"{tag}-e-", t_end)
    finally:
        for p in procs:
            stop_worker(p)
    assert first is not None
    n = len(events)
    records = record_figures(settings, f"{tag}-e-")
    return {
        "records": records,
        "events": n,
        "load_s": load_s,
        "total_s": t_end - t_start,
        "steady_eps": (n - first[1]) / (t_end - first[0]),
        "with_startup_eps": n / (t_end - t_start),
        "peak_rss_mb": peak,
        "kpi_lag_s": kpi_lag,
        "group": group,
        "topics": [names.raw, names.valid, names.dlq, names.alerts, names.changes],
    }


@dataclass
class Ceiling:
    """Events/s per batch size of the graph writes alone, and the Neo4j rows one batch size wrote."""

    eps: dict[int, float]
    rows_per_1000: dict[int, float]


_COVER = """
MATCH (e:Enterprise) WHERE e.id STARTS WITH $p RETURN e.id AS id, e.coverSkus AS skus, e.coverDays AS days
"""


async def _kpis_current(settings: Settings, writer: GraphWriter, prefix: str, t_end: float) -> float:
    """Seconds after the last batch committed until every enterprise's days of cover in the graph
    equals a fresh computation from the record store (NaN if not within 300 s)."""
    engine = bootstrap.sql_engine(settings)
    try:
        with engine.connect() as conn:
            held = flow_store.STOCK_TABLE.c.enterprise_id
            ids = [str(r[0]) for r in conn.execute(select(held).where(held.startswith(prefix)).distinct())]
            fresh = {e: kpis.sku_covers(v) for e, v in flow_store.stocks(conn, ids).items()}
    finally:
        engine.dispose()
    while True:
        records, _, _ = await writer.driver.execute_query(_COVER, p=prefix, database_=writer.database)
        graph = {r["id"]: dict(zip(r["skus"] or [], r["days"] or [], strict=True)) for r in records}
        if all(graph.get(e) == c for e, c in fresh.items()):
            return time.perf_counter() - t_end
        if time.perf_counter() - t_end > 300:
            return float("nan")
        await asyncio.sleep(0.5)


def _graph_rows(m: Mutations, k: FlowKpis) -> dict[str, int]:
    """Rows the graph transaction of one batch UNWINDs, per mutation kind and KPI row kind."""
    out = {name: len(r) for name, r in m.rows.items() if r}
    out["kpi enterprises"] = len(k.suppliers)
    out["kpi links"] = len(k.links)
    return out


async def ceiling(
    settings: Settings,
    writer: GraphWriter,
    n_events: int,
    enterprises: int,
    sizes: Sequence[int],
    tag: str,
    warmup_events: int,
) -> Ceiling:
    """Rows written straight to Neo4j by this process: decode, mapping, the record store and its flow
    KPIs (a scratch SQLite file) done before timing, on a JVM warmed up by ``warmup_events`` first."""
    if warmup_events:
        ids = f"{tag}-w-"
        valid = [
            decode_event(e.value)
            for e in generate(prefix=ids, enterprises=enterprises, events=warmup_events, end=_END)
        ]
        t = time.perf_counter()
        for i in range(0, len(valid), max(sizes)):
            await writer.write(to_mutations(valid[i : i + max(sizes)]))
        print(
            f"  warm-up: {len(valid):,} events in {time.perf_counter() - t:.1f} s (not counted)", flush=True
        )
    out = Ceiling({}, {})
    for size in sizes:
        ids = f"{tag}-c{size}-"
        events = generate(prefix=ids, enterprises=enterprises, events=n_events, end=_END)
        valid = [decode_event(e.value) for e in events]
        with tempfile.TemporaryDirectory() as scratch:
            engine = sql_engine(f"sqlite:///{scratch}/records.db")
            bootstrap.create_sql_tables(engine)
            store = RecordStore(engine)
            batches = []
            for i in range(0, len(valid), size):
                part = valid[i : i + size]
                written = store.apply(record_rows(part), agreed_links(part))
                batches.append((to_mutations(part), written.kpis))
            engine.dispose()
        kinds: dict[str, int] = {}
        for m, k in batches:
            for name, n in _graph_rows(m, k).items():
                kinds[name] = kinds.get(name, 0) + n
        rows = sum(kinds.values())
        t = time.perf_counter()
        for m, k in batches:
            await writer.write(m, kpis=k)
        out.eps[size] = len(valid) / (time.perf_counter() - t)
        out.rows_per_1000[size] = rows / len(valid) * 1000
        print(
            f"  ceiling batch {size}: {out.eps[size]:,.0f} events/s, "
            f"{out.rows_per_1000[size]:,.0f} Neo4j rows per 1,000 events",
            flush=True,
        )
        by_kind = sorted(kinds.items(), key=lambda kv: -kv[1])
        print(
            "    per 1,000 events: "
            + ", ".join(f"{k} {n / len(valid) * 1000:,.0f}" for k, n in by_kind if n),
            flush=True,
        )
    return out


async def latency(
    settings: Settings,
    writer: GraphWriter,
    enterprises: int,
    rate: int,
    seconds: int,
    batch: int,
    batch_seconds: float,
    tag: str,
) -> dict[str, Any]:
    prefix = f"{tag}.lat{rate}."
    names = Topics.prefixed(prefix)
    ensure_topics(
        settings.kafka.librdkafka(),
        [
            TopicSpec(names.raw, 1),
            TopicSpec(names.valid, settings.kafka.partitions),
            TopicSpec(names.dlq, 1),
            TopicSpec(names.alerts, 1),
            TopicSpec(names.changes, settings.kafka.partitions),
        ],
    )
    events = generate(prefix=f"{tag}-l{rate}-", enterprises=enterprises, events=rate * seconds, end=_END)
    group = f"{tag}-lat{rate}"
    log = Path(tempfile.gettempdir()) / f"{tag}-lat{rate}.log"
    proc = spawn_worker(settings, prefix, group, batch, batch_seconds, log)
    # Warm up: wait until the worker committed its first (empty-topic) assignment.
    await asyncio.sleep(12)
    producer = Producer({**settings.kafka.librdkafka(), "linger.ms": 1, "acks": "all"})
    sent: dict[tuple[int, int], float] = {}
    sent_at: list[float] = [0.0] * len(events)

    def report(i: int) -> Any:
        def cb(err: Any, msg: Any) -> None:
            if err is None:
                sent[(msg.partition(), msg.offset())] = sent_at[i]

        return cb

    latencies: list[float] = []
    pending: dict[int, list[tuple[int, float]]] = {}
    seen: dict[int, int] = {}
    t0 = time.perf_counter()
    i = 0
    try:
        while i < len(events) or sent:
            now = time.perf_counter()
            due = min(len(events), int((now - t0) * rate))
            while i < due:
                sent_at[i] = time.time()
                producer.produce(names.valid, events[i].value, events[i].key, on_delivery=report(i))
                i += 1
            producer.poll(0)
            for (p, o), ts in list(sent.items()):
                pending.setdefault(p, []).append((o, ts))
                del sent[(p, o)]
            stored = await writer.stored_offsets(group, names.valid)
            now_wall = time.time()
            for p, lst in pending.items():
                upto = stored.get(p, 0)
                if upto > seen.get(p, 0):
                    keep = []
                    for o, ts in lst:
                        if o < upto:
                            latencies.append(now_wall - ts)
                        else:
                            keep.append((o, ts))
                    pending[p] = keep
                    seen[p] = upto
            if i >= len(events) and not any(pending.values()):
                producer.flush(5)
                if not sent:
                    break
            if time.perf_counter() - t0 > seconds + 60:
                break
            await asyncio.sleep(0.01)
        rss = peak_rss_mb(proc.pid) if proc.poll() is None else float("nan")
    finally:
        stop_worker(proc)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [float("nan")] * 99
    return {
        "rate": rate,
        "measured": len(latencies),
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "peak_rss_mb": rss,
        "group": group,
        "topics": [names.raw, names.valid, names.dlq, names.alerts, names.changes],
    }


async def main(args: argparse.Namespace) -> None:
    settings = bootstrap_settings()
    tag = f"bench{uuid.uuid4().hex[:6]}"
    driver = bootstrap.async_driver(settings)
    writer = GraphWriter(driver)
    await migrate(driver)
    cleanup_groups: list[str] = []
    cleanup_topics: list[str] = []
    try:
        print(f"generating {args.events:,} events over {args.enterprises:,} enterprises ({tag})", flush=True)
        events = generate(prefix=f"{tag}-e-", enterprises=args.enterprises, events=args.events, end=_END)
        print("ceiling (one process, no Kafka, no faust):", flush=True)
        measured = await ceiling(
            settings,
            writer,
            args.ceiling_events or min(len(events), 200_000),
            args.enterprises,
            args.sizes,
            tag,
            args.warmup_events,
        )
        ceil = measured.eps
        best = max(ceil, key=lambda k: ceil[k])
        print(
            f"end to end ({args.workers} worker(s), batch {args.batch}, {args.batch_seconds} s):", flush=True
        )
        e2e = await end_to_end(settings, writer, events, args.workers, args.batch, args.batch_seconds, tag)
        cleanup_groups.append(e2e["group"])
        cleanup_topics += e2e["topics"]
        lats: list[dict[str, Any]] = []
        for rate in (r for r in args.rate if r > 0):
            print(
                f"latency at {rate:,} events/s for {args.seconds}s "
                f"(batches of ≤ {args.latency_batch_seconds} s):",
                flush=True,
            )
            lat = await latency(
                settings,
                writer,
                args.enterprises,
                rate,
                args.seconds,
                args.batch,
                args.latency_batch_seconds,
                tag,
            )
            lats.append(lat)
            cleanup_groups.append(lat["group"])
            cleanup_topics += lat["topics"]
        print()
        print(f"events                      {e2e['events']:,} over {args.enterprises:,} enterprises")
        print(f"preload to Kafka            {e2e['load_s']:.1f} s")
        print(f"end to end, steady          {e2e['steady_eps']:,.0f} events/s  (Kafka -> graph + offsets)")
        print(
            f"end to end, incl. startup   {e2e['with_startup_eps']:,.0f} events/s  ({e2e['total_s']:.1f} s)"
        )
        print(
            f"ceiling (batch {best})        {ceil[best]:,.0f} events/s  (tried {', '.join(map(str, ceil))})"
        )
        print(f"ratio                       {e2e['steady_eps'] / ceil[best]:.2f}")
        near = min(measured.rows_per_1000, key=lambda k: abs(k - args.batch))
        print(
            f"Neo4j rows per 1,000 events {measured.rows_per_1000[near]:,.0f}  (batch {near}; "
            f"graph rows and KPI rows)"
        )
        print(f"worker peak RSS             {e2e['peak_rss_mb']:.0f} MiB")
        print(
            f"KPIs current                {e2e['kpi_lag_s']:.1f} s after the last batch committed "
            f"(every enterprise's days of cover in the graph equal to the record store's stock; flow "
            f"KPIs and cover are written in each batch's own transaction)"
        )
        rec = e2e["records"]
        n_rows = sum(rec["rows"].values())
        print(
            f"record store ({rec['store']})     {n_rows:,} rows of this run "
            f"({', '.join(f'{k} {v:,}' for k, v in rec['rows'].items())}), "
            f"{n_rows / e2e['total_s']:,.0f} rows/s over the run, store size {rec['size_mb']:.1f} MiB"
        )
        for lat in lats:
            print(
                f"latency at {lat['rate']:,}/s  p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms "
                f"({lat['measured']:,} events; worker peak RSS {lat['peak_rss_mb']:.0f} MiB)"
            )
    finally:
        if not args.keep:
            print("deleting the benchmark's data ...", flush=True)
            await delete_by_prefix(driver, f"{tag}-")
            delete_records(settings, f"{tag}-")
            for g in cleanup_groups:
                await delete_offsets(driver, g)
            if cleanup_topics:
                admin = AdminClient(settings.kafka.librdkafka())
                for fut in admin.delete_topics(cleanup_topics).values():
                    try:
                        fut.result(30)
                    except Exception as e:
                        print(f"topic not deleted: {e}")
        await driver.close()


def bootstrap_settings() -> Settings:
    return Settings()


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--enterprises", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2000, help="worker batch size (events per transaction)")
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000], help="ceiling batch sizes"
    )
    ap.add_argument("--ceiling-events", type=int, default=0, help="events per ceiling trial (default ≤200k)")
    ap.add_argument(
        "--warmup-events", type=int, default=20_000, help="events written to warm Neo4j up before the ceiling"
    )
    ap.add_argument(
        "--rate", type=int, nargs="+", default=[3000, 5000], help="latency test rates (events/s); 0 = skip"
    )
    ap.add_argument("--batch-seconds", type=float, default=0.5, help="worker batch time bound, throughput")
    ap.add_argument(
        "--latency-batch-seconds", type=float, default=0.2, help="worker batch time bound, latency tests"
    )
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the data (default: delete it)")
    asyncio.run(main(ap.parse_args()))


if __name__ == "__main__":
    cli()
