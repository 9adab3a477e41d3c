"""Graph retention of resolved disruptions (``graph.retention``) against Neo4j: how long a run takes to
archive and delete a disruption history the size a long run leaves (40,202 disruptions after 1M events
of the benchmark mix), and what a run that finds nothing costs.

Writes ``--resolved`` resolved and ``--open`` open disruptions under an id prefix of its own through the
graph writer's statements (as the project stage does), each affecting one of ``--enterprises``
enterprises, reported and resolved in January 2020; retains them at a clock of June 2020 with a 90-day
horizon (the resolved ones all go, the open ones stay); then deletes what is left of its prefix.
Retention reads every ``Disruption`` of the graph: run it on a stack of its own.

    .venv/bin/python -m bench.disruption_retention --resolved 40000 --open 2000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import neo4j

from graph import model
from graph.kpis import DAY_MS
from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.retention import retain_disruptions
from graph.rows import GraphRows, Stamp, version
from graph.writer import GraphWriter
from supplynet import bootstrap
from supplynet.settings import Settings

START = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)


def _stamp(eid: str, t: int) -> Stamp:
    return Stamp(version(t, 0, eid), eid, "bench-erp", t, datetime.fromtimestamp(t / 1000, UTC).date())


async def _fill(writer: GraphWriter, prefix: str, resolved: int, open_: int, enterprises: int) -> None:
    batch = 5_000
    total = resolved + open_
    for lo in range(0, total, batch):
        b = GraphRows()
        for i in range(lo, min(lo + batch, total)):
            did, t = f"{prefix}dis{i}", START + (i % 1_000) * 60_000
            fields = {"kind": "power-outage", "severity": "high", "expectedRecoveryDays": 3, "reportedAt": t}
            st = _stamp(f"{prefix}r{i}", t)
            b.node(model.DISRUPTION, did, "reported", fields | {"targetKind": "enterprise"}, st)
            b.link(model.DISRUPTION_ENTERPRISE, did, f"{prefix}ent{i % enterprises}", st)
            if i < resolved:
                done = _stamp(f"{prefix}s{i}", t + 2 * DAY_MS)
                b.node(
                    model.DISRUPTION, did, "resolved", {"resolvedAt": done.t, "resolutionNote": "ok"}, done
                )
        await writer.write(b.result())


async def _count(driver: neo4j.AsyncDriver, prefix: str) -> tuple[int, int]:
    records, _, _ = await driver.execute_query(
        "MATCH (d:Disruption) WHERE d.id STARTS WITH $p "
        "RETURN count(d) AS nodes, sum(COUNT { (d)-[:AFFECTS]->() }) AS links",
        p=prefix,
    )
    return int(records[0]["nodes"]), int(records[0]["links"])


async def run(args: argparse.Namespace) -> None:
    settings = Settings()
    driver = bootstrap.async_driver(settings)
    prefix = f"drb{uuid.uuid4().hex[:6]}-"
    try:
        await migrate(driver)
        t = time.perf_counter()
        await _fill(GraphWriter(driver), prefix, args.resolved, args.open, args.enterprises)
        took = time.perf_counter() - t
        print(f"wrote {args.resolved:,} resolved + {args.open:,} open disruptions in {took:.1f} s")
        nodes, links = await _count(driver, prefix)
        print(f"before: {nodes:,} Disruption nodes, {links:,} AFFECTS")
        now = START + 150 * DAY_MS
        with tempfile.TemporaryDirectory() as tmp:
            for label in ("first run", "second run"):
                t = time.perf_counter()
                done = await retain_disruptions(
                    driver, now_ms=now, days=90, archive_dir=Path(tmp), batch=args.batch
                )
                s = time.perf_counter() - t
                size = done.file.stat().st_size / 2**20 if done.file else 0.0
                print(
                    f"{label:<11} {done.archived:>8,} archived and deleted in {s:6.2f} s "
                    f"({done.archived / s:,.0f}/s; archive {size:.2f} MiB, batch {args.batch:,})",
                    flush=True,
                )
        nodes, links = await _count(driver, prefix)
        print(f"after: {nodes:,} Disruption nodes, {links:,} AFFECTS")
    finally:
        await delete_by_prefix(driver, prefix)
        await driver.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resolved", type=int, default=40_000)
    ap.add_argument("--open", type=int, default=2_000)
    ap.add_argument("--enterprises", type=int, default=2_000)
    ap.add_argument("--batch", type=int, default=1_000, help="disruptions per read page and per delete")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
