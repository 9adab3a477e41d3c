"""Lot genealogy reads at scale: ``traceBack`` / ``traceForward`` over a 10-level genealogy.

Loads a synthetic genealogy under a run prefix (``bench-tr-<hex>-``): ``--levels`` + 1 levels of
``--lots`` / (levels + 1) lots each; level 0 are raw-material lots, every lot above is made from
``--fan-in`` random lots of the level below (so a top lot's genealogy holds up to fan-in^levels lots),
made by one of ``--makers`` enterprises; every top-level lot is shipped to a customer. Then it times
what the resolvers run (``graph.trace.LotTrace``: one round trip per level, then the holders) from
random top lots (traceBack) and random raw lots (traceForward), full depth, staff visibility, and
prints p50/p95/max and the lots each walk returned (traceForward: also the walk and the holders round
trip apart). The graph is deleted at the end (``--keep`` keeps it; ``--prefix`` measures a kept graph
again without loading it: a 1M-lot load takes ~11 minutes on a loaded 2-core machine).

    .venv/bin/python -m bench.trace                     # 1,000,000 lots
    .venv/bin/python -m bench.trace --lots 100000       # what fits a loaded machine
    .venv/bin/python -m bench.trace --keep              # then: --prefix bench-tr-<hex>- (no load)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid

from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.trace import LotTrace, Visibility
from supplynet import bootstrap
from supplynet.settings import Settings

BATCH = 10_000

LOTS = """
UNWIND $rows AS r
CREATE (l:Lot {id: r.id, sku: r.sku, quantity: 10.0, enterpriseId: r.maker, producedAt: r.t})
"""
MADE_FROM = """
UNWIND $rows AS r
MATCH (o:Lot {id: r.o}), (i:Lot {id: r.i})
CREATE (o)-[:MADE_FROM {quantity: 5.0}]->(i)
"""
SHIPPED = """
UNWIND $rows AS r
MATCH (l:Lot {id: r.lot}), (e:Enterprise {id: r.to})
CREATE (l)-[:SHIPPED_TO {shipmentId: r.shp, supplierId: r.maker, orderId: r.shp, shippedQuantity: 10.0,
                         shippedAt: r.t}]->(e)
"""


def _lot(prefix: str, level: int, i: int) -> str:
    return f"{prefix}L{level}-{i}"


async def load(settings: Settings, prefix: str, *, lots: int, levels: int, fan_in: int, makers: int) -> int:
    """Create the genealogy; return the lots per level."""
    rnd = random.Random(7)  # noqa: S311 (a benchmark graph, not a secret)
    per = lots // (levels + 1)
    driver = bootstrap.async_driver(settings)
    db = settings.neo4j.database
    try:
        await migrate(driver, database=db)
        ents = [{"id": f"{prefix}E{i}"} for i in range(makers)]
        await driver.execute_query(
            "UNWIND $rows AS r CREATE (:Enterprise {id: r.id})", rows=ents, database_=db
        )
        for level in range(levels + 1):
            for start in range(0, per, BATCH):
                rows = [
                    {
                        "id": _lot(prefix, level, i),
                        "sku": f"{prefix}sku{level}",
                        "maker": f"{prefix}E{rnd.randrange(makers)}",
                        "t": 1_780_000_000_000 + level * 86_400_000,
                    }
                    for i in range(start, min(per, start + BATCH))
                ]
                await driver.execute_query(LOTS, rows=rows, database_=db)
            if level:
                for start in range(0, per, BATCH // fan_in):
                    rows = [
                        {"o": _lot(prefix, level, i), "i": _lot(prefix, level - 1, j)}
                        for i in range(start, min(per, start + BATCH // fan_in))
                        for j in rnd.sample(range(per), fan_in)
                    ]
                    await driver.execute_query(MADE_FROM, rows=rows, database_=db)
            print(f"  level {level}: {per:,} lots", flush=True)
        for start in range(0, per, BATCH):
            rows = [
                {
                    "lot": _lot(prefix, levels, i),
                    "to": f"{prefix}E{rnd.randrange(makers)}",
                    "maker": f"{prefix}E0",
                    "shp": f"{prefix}S{i}",
                    "t": 1_790_000_000_000,
                }
                for i in range(start, min(per, start + BATCH))
            ]
            await driver.execute_query(SHIPPED, rows=rows, database_=db)
    finally:
        await driver.close()
    return per


async def measure(
    settings: Settings, prefix: str, *, per: int, levels: int, samples: int, max_nodes: int
) -> None:
    driver = bootstrap.async_driver(settings)
    trace = LotTrace(driver, database=settings.neo4j.database)
    rnd = random.Random(11)  # noqa: S311
    try:
        for name, level, forward in (("traceBack", levels, False), ("traceForward", 0, True)):
            times, walks, holds, sizes = [], [], [], []
            await trace.walk(
                [_lot(prefix, level, 0)],
                forward=forward,
                max_depth=levels,
                max_lots=max_nodes,
                visible=Visibility(None),
            )  # warm-up
            for _ in range(samples):
                start = [_lot(prefix, level, rnd.randrange(per))]
                t0 = time.perf_counter()
                g = await trace.walk(
                    start, forward=forward, max_depth=levels, max_lots=max_nodes, visible=Visibility(None)
                )
                t1 = time.perf_counter()
                if forward:
                    await trace.holders([s["id"] for s in g.steps])
                t2 = time.perf_counter()
                times.append((t2 - t0) * 1000)
                walks.append((t1 - t0) * 1000)
                holds.append((t2 - t1) * 1000)
                sizes.append(len(g.steps))
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(
                f"{name:13s} depth {levels}: p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
                f"max {times[-1]:7.1f} ms  lots per answer: median {statistics.median(sizes):.0f}, "
                f"max {max(sizes)}  ({samples} walks)",
                flush=True,
            )
            if forward:
                print(
                    f"{'':13s} the walk alone: {_p50_p95(walks)}; the holders round trip: {_p50_p95(holds)}"
                )
    finally:
        await driver.close()


def _p50_p95(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"p50 {statistics.median(ms):.1f} ms, p95 {ms[max(0, int(len(ms) * 0.95) - 1)]:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lots", type=int, default=1_000_000)
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--fan-in", type=int, default=2)
    ap.add_argument("--makers", type=int, default=2_000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--max-nodes", type=int, default=2_000, help="the resolvers' default maxNodes")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--prefix", help="measure the genealogy kept (--keep) under this prefix; no load")
    args = ap.parse_args()
    settings = Settings()
    prefix = args.prefix or f"bench-tr-{uuid.uuid4().hex[:6]}-"
    per = args.lots // (args.levels + 1)
    print(
        f"genealogy: {per * (args.levels + 1):,} lots in {args.levels + 1} levels of {per:,}, fan-in "
        f"{args.fan_in}, {args.makers:,} makers (prefix {prefix})",
        flush=True,
    )
    if not args.prefix:
        t0 = time.perf_counter()
        asyncio.run(
            load(settings, prefix, lots=args.lots, levels=args.levels, fan_in=args.fan_in, makers=args.makers)
        )
        print(f"loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    try:
        asyncio.run(
            measure(
                settings, prefix, per=per, levels=args.levels, samples=args.samples, max_nodes=args.max_nodes
            )
        )
    finally:
        if not args.keep and not args.prefix:

            async def clean() -> None:
                driver = bootstrap.async_driver(settings)
                try:
                    await delete_by_prefix(driver, prefix, database=settings.neo4j.database)
                finally:
                    await driver.close()

            asyncio.run(clean())


if __name__ == "__main__":
    main()
