"""Lot genealogy reads at scale: ``traceBack`` / ``traceForward`` over a 10-level genealogy.

Loads a synthetic genealogy under a run prefix (``bench-tr-<hex>-``): ``--levels`` + 1 levels of
``--lots`` / (levels + 1) lots each; level 0 are raw-material lots, every lot above is made from
``--fan-in`` random lots of the level below (so a top lot's genealogy holds up to fan-in^levels lots),
made by one of ``--makers`` enterprises; every top-level lot is shipped to a customer. Then it times
what the resolvers run (``graph.trace.LotTrace``: one statement per walk, then traceForward's holders
in a second round trip) from random top lots (traceBack) and random raw lots (traceForward), full
depth, staff visibility, and prints p50/p95/max and the machine's load average. ``--compare`` times
the previous answer shape (``map_walk``: a map per lot and per holder) beside it on the same starts,
interleaved (ABBA), and stops if the two answers differ. The graph is deleted at the
end (``--keep`` keeps it; ``--prefix`` measures a kept graph again without loading it: a 1M-lot load
took 11-28 minutes on a loaded 2-core machine).

    .venv/bin/python -m bench.trace                     # 1,000,000 lots
    .venv/bin/python -m bench.trace --lots 100000       # what fits a loaded machine
    .venv/bin/python -m bench.trace --keep              # then: --prefix bench-tr-<hex>- (no load)
    .venv/bin/python -m bench.trace --prefix bench-tr-<hex>- --compare   # compact vs map-shaped answers
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid

from neo4j import AsyncDriver

from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.trace import Boundary, Genealogy, LotTrace, Visibility
from graph.views import Record, read_records
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


MAP_WALK_START = """
MATCH (s:Lot) WHERE s.id IN $start
WITH collect(s) AS frontier
WITH frontier, frontier AS seen, [] AS levels
"""
MAP_WALK_LEVEL = """
CALL (frontier) {{
  UNWIND frontier AS f
  OPTIONAL MATCH (f){arrow}(i:Lot)
  WITH f, collect(CASE WHEN i IS NULL THEN null ELSE {{lotId: i.id, quantity: m.quantity,
                       enterpriseId: i.enterpriseId, node: i}} END) AS links
  RETURN collect({{lot: f {{.id, .sku, .quantity, .enterpriseId, .facilityId, .producedAt, .productionId}},
                  links: [x IN links | x {{.lotId, .quantity, .enterpriseId}}]}}) AS rows,
         collect(links) AS linked
}}
WITH seen, levels + [rows] AS levels, linked
CALL (seen, linked) {{
  UNWIND linked AS links
  UNWIND links AS x
  WITH DISTINCT x.node AS n, x.enterpriseId AS e
  WHERE size(seen) <= $max AND ($scope IS NULL OR e IN $scope) AND NOT n IN seen
  RETURN collect(n) AS next
}}
WITH levels, seen + next AS seen, next AS frontier
"""
MAP_HOLDERS = """
UNWIND $ids AS id
MATCH (l:Lot {id: id})
CALL (l) {
  MATCH (l)-[s:SHIPPED_TO]->(e:Enterprise)
  RETURN {enterpriseId: e.id, shipmentId: s.shipmentId, supplierId: s.supplierId, orderId: s.orderId,
          quantity: coalesce(s.receivedQuantity, s.shippedQuantity), shippedAt: s.shippedAt,
          receivedAt: s.receivedAt, unitId: null} AS h
  UNION
  MATCH (l)-[p:PACKED_IN]->(u:ShippingUnit)-[s:SHIPPED_TO]->(e:Enterprise)
  RETURN {enterpriseId: e.id, shipmentId: s.shipmentId, supplierId: s.supplierId, orderId: s.orderId,
          quantity: p.packedQuantity, shippedAt: s.shippedAt, receivedAt: s.receivedAt, unitId: u.id} AS h
}
WITH l, collect(h) AS holders
RETURN collect({lotId: l.id, holders: holders}) AS rows
"""


async def map_walk(
    driver: AsyncDriver,
    database: str,
    start: list[str],
    *,
    forward: bool,
    max_depth: int,
    max_lots: int,
    visible: Visibility,
) -> tuple[Genealogy, dict[str, list[Record]]]:
    """The walk as it answered before the compact shape (a map per lot, then, forward, every kept lot's
    holders in a second round trip): what ``--compare`` times the resolvers' walk against, and the
    reference a test holds the compact shape to. Returns the genealogy and the holders."""
    arrow = "<-[m:MADE_FROM]-" if forward else "-[m:MADE_FROM]->"
    query = MAP_WALK_START + MAP_WALK_LEVEL.format(arrow=arrow) * (max_depth + 1) + "RETURN levels"
    scope = None if visible.scope is None else sorted(visible.scope)
    rows = await read_records(driver, database, query, {"start": start, "scope": scope, "max": max_lots})
    levels: list[list[Record]] = rows[0]["levels"] if rows else []
    out = Genealogy()
    seen = set(start)
    level = list(start)
    depth = 0
    while level and depth < len(levels):
        found = {r["lot"]["id"]: r for r in levels[depth]}
        nxt: list[str] = []
        for lot_id in level:
            r = found.get(lot_id)
            if r is None:
                continue
            lot = r["lot"]
            shown, hidden = [], 0
            for link in sorted(r["links"], key=lambda x: x["lotId"]):
                if visible(link["enterpriseId"]):
                    shown.append({"lotId": link["lotId"], "quantity": link["quantity"]})
                    if link["lotId"] not in seen:
                        if depth >= max_depth or len(seen) >= max_lots:
                            out.truncated = True
                            continue
                        seen.add(link["lotId"])
                        nxt.append(link["lotId"])
                else:
                    hidden += 1
            if hidden:
                out.boundaries.append(Boundary(lot_id, lot.get("enterpriseId"), hidden_lots=hidden))
            out.steps.append({**lot, "depth": depth, "links": shown})
        level = nxt
        depth += 1
    held: dict[str, list[Record]] = {}
    if forward and out.steps:
        rows = await read_records(driver, database, MAP_HOLDERS, {"ids": [s["id"] for s in out.steps]})
        held = {r["lotId"]: r["holders"] for r in (rows[0]["rows"] if rows else [])}
    return out, held


async def _compact(
    trace: LotTrace, start: list[str], forward: bool, levels: int, max_nodes: int
) -> tuple[float, Genealogy, dict[str, list[Record]]]:
    """The walk as the resolvers run it (forward: then the shipped lots' holders), timed (ms)."""
    t0 = time.perf_counter()
    g = await trace.walk(
        start, forward=forward, max_depth=levels, max_lots=max_nodes, visible=Visibility(None)
    )
    held = await trace.holders([s["id"] for s in g.steps if s["id"] in g.shipped]) if forward else {}
    return (time.perf_counter() - t0) * 1000, g, held


async def _maps(
    trace: LotTrace, start: list[str], forward: bool, levels: int, max_nodes: int
) -> tuple[float, Genealogy, dict[str, list[Record]]]:
    """The previous shape (``map_walk``), timed (ms)."""
    t0 = time.perf_counter()
    g, held = await map_walk(
        trace.driver,
        trace.database,
        start,
        forward=forward,
        max_depth=levels,
        max_lots=max_nodes,
        visible=Visibility(None),
    )
    return (time.perf_counter() - t0) * 1000, g, held


def same_answer(
    a: tuple[Genealogy, dict[str, list[Record]]], b: tuple[Genealogy, dict[str, list[Record]]]
) -> bool:
    """The same steps (in order), boundaries, truncation and holders per lot."""
    (ga, ha), (gb, hb) = a, b
    return (
        ga.steps == gb.steps
        and ga.boundaries == gb.boundaries
        and ga.truncated == gb.truncated
        and {k: v for k, v in ha.items() if v} == {k: v for k, v in hb.items() if v}
    )


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
            warm = [_lot(prefix, level, 0)]
            await _compact(trace, warm, forward, levels, max_nodes)
            if compare:
                await _maps(trace, warm, forward, levels, max_nodes)
            times: list[float] = []
            before: list[float] = []
            sizes: list[int] = []
            held: list[int] = []
            for n in range(samples):
                start = [_lot(prefix, level, rnd.randrange(per))]
                # ABBA: with --compare, neither shape always runs on the cache the other warmed.
                if compare and n % 2 == 0:
                    ms_maps, *maps = await _maps(trace, start, forward, levels, max_nodes)
                ms, g, h = await _compact(trace, start, forward, levels, max_nodes)
                if compare and n % 2 == 1:
                    ms_maps, *maps = await _maps(trace, start, forward, levels, max_nodes)
                times.append(ms)
                sizes.append(len(g.steps))
                held.append(sum(len(x) for x in h.values()))
                if compare:
                    before.append(ms_maps)
                    if not same_answer((g, h), (maps[0], maps[1])):
                        raise SystemExit(f"{start}: the compact and the map-shaped walks differ")
            print(
                f"{name:13s} depth {levels}: {_p50_p95(times)}, max {max(times):.1f} ms"
                f"; lots per answer: median {statistics.median(sizes):.0f}, max {max(sizes)}"
                + (f"; holders per answer: median {statistics.median(held):.0f}" if forward else "")
                + f"  ({samples} walks)",
                flush=True,
            )
            if before:
                ratio = statistics.median(times) / statistics.median(before)
                print(
                    f"{'':13s} the same starts, the previous map-shaped answer: {_p50_p95(before)}, "
                    f"max {max(before):.1f} ms (the same lots and holders); compact / maps at p50: "
                    f"{ratio:.2f}",
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
        "--compare",
        action="store_true",
        help="time the previous map-shaped answer beside it on the same starts (and check they agree)",
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
