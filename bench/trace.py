"""Lot genealogy reads at scale: ``traceBack`` / ``traceForward`` over a 10-level genealogy.

Loads a synthetic genealogy under a run prefix (``bench-tr-<hex>-``): ``--levels`` + 1 levels of
``--lots`` / (levels + 1) lots each; level 0 are raw-material lots, every lot above is made from
``--fan-in`` random lots of the level below (so a top lot's genealogy holds up to fan-in^levels lots),
made by one of ``--makers`` enterprises; every top-level lot is shipped to a customer. Then it times
what the resolvers run (``graph.trace.LotTrace``: one statement per walk, then traceForward's holders
in a second round trip) from random top lots (traceBack) and random raw lots (traceForward), full
depth, staff visibility, and prints p50/p95/max and the machine's load average. ``--compare`` times
traceForward with the holders read inside the walk's statement (``with_holders``) beside it on the
same starts, interleaved (ABBA), with the lots and holders per answer. The graph is deleted at the
end (``--keep`` keeps it; ``--prefix`` measures a kept graph again without loading it: a 1M-lot load
took 11-28 minutes on a loaded 2-core machine).

    .venv/bin/python -m bench.trace                     # 1,000,000 lots
    .venv/bin/python -m bench.trace --lots 100000       # what fits a loaded machine
    .venv/bin/python -m bench.trace --keep              # then: --prefix bench-tr-<hex>- (no load)
    .venv/bin/python -m bench.trace --prefix bench-tr-<hex>- --compare   # two round trips vs one statement
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _two_trips(trace: LotTrace, start: list[str], levels: int, max_nodes: int) -> tuple[float, int]:
    """traceForward as the resolvers run it, timed: the walk, then its lots' holders in a second round
    trip. Returns the milliseconds and the holders found."""
    t0 = time.perf_counter()
    g = await trace.walk(start, forward=True, max_depth=levels, max_lots=max_nodes, visible=Visibility(None))
    held = await trace.holders([s["id"] for s in g.steps])
    return (time.perf_counter() - t0) * 1000, sum(len(h) for h in held.values())


async def _one_statement(
    trace: LotTrace, start: list[str], levels: int, max_nodes: int, sizes: list[int], held: list[int]
) -> float:
    """traceForward with the holders read in the walk's own statement, timed (milliseconds); appends the
    answer's lots and holders to ``sizes`` and ``held``."""
    t0 = time.perf_counter()
    g = await trace.walk(
        start, forward=True, max_depth=levels, max_lots=max_nodes, visible=Visibility(None), with_holders=True
    )
    ms = (time.perf_counter() - t0) * 1000
    sizes.append(len(g.steps))
    held.append(sum(len(h) for h in g.holders.values()))
    return ms


async def measure(
    settings: Settings,
    prefix: str,
    *,
    per: int,
    levels: int,
    samples: int,
    max_nodes: int,
    compare: bool,
) -> None:
    driver = bootstrap.async_driver(settings)
    db = settings.neo4j.database
    trace = LotTrace(driver, database=db)
    rnd = random.Random(11)  # noqa: S311
    try:
        for name, level, forward in (("traceBack", levels, False), ("traceForward", 0, True)):
            print(f"{name}: {_load()} before", flush=True)
            await trace.walk(
                [_lot(prefix, level, 0)],
                forward=forward,
                max_depth=levels,
                max_lots=max_nodes,
                visible=Visibility(None),
            )  # warm-up
            times: list[float] = []
            folded: list[float] = []
            sizes: list[int] = []
            held: list[int] = []
            for n in range(samples):
                start = [_lot(prefix, level, rnd.randrange(per))]
                if not forward:
                    t0 = time.perf_counter()
                    g = await trace.walk(
                        start, forward=False, max_depth=levels, max_lots=max_nodes, visible=Visibility(None)
                    )
                    times.append((time.perf_counter() - t0) * 1000)
                    sizes.append(len(g.steps))
                    continue
                # ABBA: with --compare, neither form always runs on the cache the other warmed.
                if compare and n % 2 == 0:
                    folded.append(await _one_statement(trace, start, levels, max_nodes, sizes, held))
                ms, n_held = await _two_trips(trace, start, levels, max_nodes)
                times.append(ms)
                if compare and n % 2 == 1:
                    folded.append(await _one_statement(trace, start, levels, max_nodes, sizes, held))
                if compare and n_held != held[-1]:
                    raise SystemExit(f"{start}: {n_held} holders in two round trips, {held[-1]} in one")
            print(
                f"{name:13s} depth {levels}: {_p50_p95(times)}, max {max(times):.1f} ms"
                + (
                    f"; lots per answer: median {statistics.median(sizes):.0f}, max {max(sizes)}"
                    if sizes
                    else ""
                )
                + (f"; holders per answer: median {statistics.median(held):.0f}" if held else "")
                + f"  ({samples} walks)",
                flush=True,
            )
            if folded:
                ratio = statistics.median(folded) / statistics.median(times)
                print(
                    f"{'':13s} the same starts, the holders in the walk's statement: {_p50_p95(folded)}, "
                    f"max {max(folded):.1f} ms; one statement / two round trips at p50: {ratio:.2f}",
                    flush=True,
                )
            print(f"{name}: {_load()} after", flush=True)
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
    ap.add_argument(
        "--compare", action="store_true", help="time traceForward's two-round-trip form beside it"
    )
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
                settings,
                prefix,
                per=per,
                levels=args.levels,
                samples=args.samples,
                max_nodes=args.max_nodes,
                compare=args.compare,
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
