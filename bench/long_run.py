"""A long run of the realistic mix through one worker, generated part by part so that no part of the
run holds the whole history: graph size, worker memory and the record store as the events pile up.

    python -m bench.long_run --events 10000000 --enterprises 10000     # the issue's 10M-event run
    python -m bench.long_run --events 2000000 --part 250000 --minutes 30   # stop after 30 minutes

The history (``bench.workload``, ``--enterprises`` enterprises over 150 days) is cut into parts of
``--part`` events, each its own slice of the days; part 0 carries the master data. A part is produced
to Kafka while the worker projects the ones before it (at most ``--ahead`` parts ahead of the worker,
so Kafka's backlog stays bounded). After each part the worker finishes, a line prints: events
committed (the worker's stored offsets), the rate since the last line, the run's nodes and
relationships in the graph, the worker's resident set now and at its peak, and the record store's rows
and size (read just after the offsets, while the worker goes on: they may include the next part's
first batches). ``--minutes`` stops the run early, after the part in progress is committed.

A run stopped on purpose or killed can be taken up where its worker left it: ``--resume <tag> --end
<time>`` (both printed at the run's start; ``--keep`` kept its data) reuses its topics, consumer group
and record rows, counts the events already in its topic, and produces the parts after them. The
parts are generated from the same seed and the same end of history, so they are the parts the first
run would have produced. Figures restart from the resumed worker (its resident set is its own).

Everything it writes has its own id prefix and topics, and is deleted at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import signal
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from bench.ingest import (
    delete_records,
    load_events,
    peak_rss_mb,
    record_figures,
    spawn_worker,
    stop_worker,
)
from bench.workload import generate
from connectors.kafka import TopicSpec, ensure_topics, topic_ends
from graph.maintenance import delete_by_prefix, delete_offsets
from graph.migrations import migrate
from graph.writer import GraphWriter
from streams.topics import Topics
from supplynet import bootstrap
from supplynet.settings import Settings

_BY_LABEL = """
MATCH (n) WHERE n.id STARTS WITH $p
RETURN labels(n)[0] AS label, count(*) AS nodes ORDER BY nodes DESC
"""

_COUNTS = """
MATCH (n) WHERE n.id STARTS WITH $p
RETURN count(n) AS nodes, sum(COUNT { (n)-[]->() }) AS relationships
"""


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _graph_counts(writer: GraphWriter, prefix: str) -> tuple[int, int]:
    records, _, _ = await writer.driver.execute_query(_COUNTS, p=prefix, database_=writer.database)
    return int(records[0]["nodes"]), int(records[0]["relationships"] or 0)


async def run(args: argparse.Namespace) -> None:
    settings = Settings()
    tag = args.resume or f"long{uuid.uuid4().hex[:6]}"
    ids = f"{tag}-e-"
    driver = bootstrap.async_driver(settings)
    writer = GraphWriter(driver)
    await migrate(driver)
    names = Topics.prefixed(f"{tag}.")
    parts = settings.kafka.partitions
    topics = [
        TopicSpec(names.raw, 1),
        TopicSpec(names.valid, parts),
        TopicSpec(names.dlq, 1),
        TopicSpec(names.alerts, 1),
        TopicSpec(names.changes, parts),
    ]
    ensure_topics(settings.kafka.librdkafka(), topics)
    n_parts = max(1, -(-args.events // args.part))
    # a shipment's last stages may fall a day after it
    end = datetime.fromisoformat(args.end) if args.end else datetime.now(UTC) - timedelta(days=2)
    group = f"{tag}-worker"
    log = Path(tempfile.gettempdir()) / f"{tag}-worker.log"
    print(
        f"{args.events:,} events over {args.enterprises:,} enterprises in {n_parts} parts of {args.part:,} "
        f"({tag}; worker log {log})",
        flush=True,
    )
    print(f"history ends {end.isoformat()}; take it up with --keep --resume {tag} --end {end.isoformat()}")
    ends: dict[int, int] = {}
    produced = 0
    part = 0
    if args.resume:
        ends = topic_ends(settings.kafka.librdkafka(), names.valid)
        produced = sum(ends.values())
        part, rest = divmod(produced, args.part)
        if rest:
            raise SystemExit(
                f"{names.valid} holds {produced:,} events, not a whole number of parts of {args.part:,}: "
                "a part was cut off while it was produced; this run cannot be taken up"
            )
        print(f"resuming at part {part} of {n_parts}: {produced:,} events in {names.valid}", flush=True)
    print(
        f"{'events':>11} {'minutes':>8} {'events/s':>9} {'nodes':>8} {'rels':>9} {'RSS MiB':>8} "
        f"{'peak MiB':>8} {'records':>11} {'store MiB':>9} {'records/s':>9}",
        flush=True,
    )
    proc = spawn_worker(settings, f"{tag}.", group, args.batch, args.batch_seconds, log)
    targets: list[int] = []  # the cumulative number of events at the end of each produced part
    t0 = time.perf_counter()
    stored = await writer.stored_offsets(group, names.valid)
    start = sum(min(stored.get(p, 0), o) for p, o in ends.items())  # committed before this process
    last = (t0, start)
    # a resumed run's parts already in the topic and not yet committed get their lines too
    targets += [k * args.part for k in range(1, part + 1) if k * args.part > start]
    peak = 0.0
    first_records: tuple[float, int] | None = None
    deadline = t0 + args.minutes * 60 if args.minutes else None
    loop = asyncio.get_running_loop()
    try:
        reported = 0
        while True:
            stored = await writer.stored_offsets(group, names.valid)
            done = sum(min(stored.get(p, 0), o) for p, o in ends.items())
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited; see {log}")
            peak = max(peak, peak_rss_mb(proc.pid))
            while reported < len(targets) and done >= targets[reported]:
                reported += 1
                now = time.perf_counter()
                nodes, rels = await _graph_counts(writer, ids)
                rec = record_figures(settings, ids)
                n_rec = sum(rec["rows"].values())
                if first_records is None:
                    first_records = (now, n_rec)
                span = now - first_records[0]
                rec_rate = (n_rec - first_records[1]) / span if span > 0 else 0.0
                print(
                    f"{done:>11,} {(now - t0) / 60:>8.1f} {(done - last[1]) / (now - last[0]):>9,.0f} "
                    f"{nodes:>8,} {rels:>9,} {_rss_mb(proc.pid):>8.0f} {peak:>8.0f} {n_rec:>11,} "
                    f"{rec['size_mb']:>9.1f} {rec_rate:>9,.0f}",
                    flush=True,
                )
                last = (now, done)
            stop = deadline is not None and time.perf_counter() > deadline
            if reported == len(targets) and (part == n_parts or stop):
                break
            if part < n_parts and not stop and len(targets) - reported < args.ahead:
                n = min(args.part, args.events - produced)
                events = await loop.run_in_executor(
                    None,
                    functools.partial(
                        generate,
                        prefix=ids,
                        enterprises=args.enterprises,
                        events=n,
                        chunk=part,
                        chunks=n_parts,
                        end=end,
                    ),
                )
                part_ends = await loop.run_in_executor(None, load_events, settings, names.valid, events)
                for p, o in part_ends.items():
                    ends[p] = max(ends.get(p, 0), o)
                produced += len(events)
                targets.append(produced)
                part += 1
                del events
                continue
            await asyncio.sleep(1)
        summary: dict[str, Any] = {
            "events": last[1],
            "minutes": (last[0] - t0) / 60,
            "events_per_s": (last[1] - start) / (last[0] - t0),
            "worker_peak_rss_mb": peak,
        }
        print(
            f"committed {summary['events']:,} events in {summary['minutes']:.1f} min "
            f"({summary['events_per_s']:,.0f} events/s over the run, generation and loading included); "
            f"worker peak RSS {peak:.0f} MiB",
            flush=True,
        )
        records, _, _ = await driver.execute_query(_BY_LABEL, p=ids, database_=writer.database)
        print("the run's nodes by label: " + ", ".join(f"{r['label']} {r['nodes']:,}" for r in records))
    finally:
        stop_worker(proc)
        if not args.keep:
            print("deleting the run's data ...", flush=True)
            await delete_by_prefix(driver, f"{tag}-")
            delete_records(settings, f"{tag}-")
            await delete_offsets(driver, group)
            admin = AdminClient(settings.kafka.librdkafka())
            for fut in admin.delete_topics([t.name for t in topics]).values():
                try:
                    fut.result(30)
                except Exception as e:
                    print(f"topic not deleted: {e}")
        await driver.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a SIGTERM stops the run like ^C: the worker is stopped, the data deleted


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--enterprises", type=int, default=10_000)
    ap.add_argument("--part", type=int, default=500_000, help="events per generated part")
    ap.add_argument("--ahead", type=int, default=2, help="parts produced ahead of the worker")
    ap.add_argument("--batch", type=int, default=5000, help="worker batch size (events per transaction)")
    ap.add_argument("--batch-seconds", type=float, default=0.5, help="worker batch time bound")
    ap.add_argument("--minutes", type=float, default=0, help="stop after this many minutes (0: all)")
    ap.add_argument("--keep", action="store_true", help="keep the data (default: delete it)")
    ap.add_argument("--resume", metavar="TAG", help="take up a kept run (its tag) after its last whole part")
    ap.add_argument("--end", metavar="TIME", help="the history's end (ISO 8601; a resumed run's own)")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        asyncio.run(run(ap.parse_args()))
    except KeyboardInterrupt:
        print("stopped: the lines above are the run's figures so far")
        raise SystemExit(130) from None


if __name__ == "__main__":
    cli()
