"""Risky-nodes benchmark: ``RiskStore.risky`` (the query behind GraphQL ``riskyNodes``) on a graph of
100,000 scored enterprises and 1,000,000 supply links, p50/p95 per variant in one table.

The graph is bench/api.py's (clusters of six layers plus one big 5-tier component, cross-cluster
links), every enterprise with a ``riskScore`` and a factor breakdown (``riskFactors`` JSON, the size
the engine writes). Ids start with a run prefix (``bench-risky-<hex>-``); everything is deleted with
``graph.maintenance.delete_by_prefix`` at the end (``--keep`` to keep it, ``--prefix`` to reuse it).
The plain lists read the whole database's ``Enterprise(riskScore)`` index, other runs' data included.

    .venv/bin/python -m bench.risky                    # 100k enterprises / 1M links
    .venv/bin/python -m bench.risky --scale 0.05       # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench.api import build, load, pct
from graph.maintenance import delete_by_prefix
from graph.risk.settings import RiskSettings
from graph.risk.store import RiskStore
from supplynet import bootstrap
from supplynet.settings import Settings

SET_FACTORS = """
UNWIND $rows AS r
MATCH (e:Enterprise {id: r.id})
SET e.riskFactors = r.factors, e.riskComputedAt = r.at
"""


def _factors(score: float) -> str:
    """A breakdown of the engine's shape and size (five factors, reasons in words)."""
    return orjson.dumps(
        {
            "score": score,
            "factors": {
                "performance": round(score * 0.3, 3),
                "events": round(score * 0.2, 3),
                "structure": round(score * 0.25, 3),
                "concentration": round(score * 0.15, 3),
                "inherited": round(score * 0.1, 3),
            },
            "reasons": [
                "on-time in-full 82% over 90 days (target 95%)",
                "sole supplier of hot-rolled coil to 3 automotive buyers",
                "region holds 74% of the supply of sku-3",
            ],
        }
    ).decode()


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, rows of the last call) over ``n`` sequential calls after 5 warm-up calls."""
    rows: Any = None
    for _ in range(5):
        rows = await call()
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        rows = await call()
        xs.append(time.perf_counter() - t0)
    return pct(xs, 50), pct(xs, 95), len(rows)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k enterprises / 1M links")
    ap.add_argument("--requests", type=int, default=200, help="timed calls per variant")
    ap.add_argument("--keep", action="store_true", help="keep the graph (delete later by prefix)")
    ap.add_argument("--prefix", default=None, help="reuse a kept graph with this prefix (skips the load)")
    args = ap.parse_args()

    settings = Settings()
    prefix = args.prefix or f"bench-risky-{uuid.uuid4().hex[:6]}-"
    n_ent, n_links = int(100_000 * args.scale), int(1_000_000 * args.scale)
    ents, links, focal = build(n_ent, n_links, prefix)
    driver = bootstrap.async_driver(settings)
    db = settings.neo4j.database
    try:
        if not args.prefix:
            secs = await load(driver, ents, links)
            t0 = time.perf_counter()
            at = int(time.time() * 1000)
            for i in range(0, len(ents), 10_000):
                rows = [
                    {"id": e["id"], "factors": _factors(e["riskScore"]), "at": at}
                    for e in ents[i : i + 10_000]
                ]
                await driver.execute_query(SET_FACTORS, {"rows": rows}, database_=db)
            print(
                f"loaded {len(ents):,} scored enterprises and {len(links):,} links under {prefix} in "
                f"{secs:.0f}s (+{time.perf_counter() - t0:.0f}s factors)"
            )
        store = RiskStore(driver, RiskSettings(), database=db)
        total, _, _ = await driver.execute_query(
            "MATCH (e:Enterprise) WHERE e.riskScore IS NOT NULL RETURN count(e) AS n", database_=db
        )
        print(f"scored enterprises in the database (all runs): {total[0]['n']:,}")

        variants: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("top 50", lambda: store.risky(limit=50)),
            ("top 50, industry=steel", lambda: store.risky(limit=50, industry="steel")),
            ("top 50, region=region-7", lambda: store.risky(limit=50, region="region-7")),
            ("top 50, min score 0.9", lambda: store.risky(limit=50, min_score=0.9)),
            ("top 50, scope=run prefix", lambda: store.risky(limit=50, scope=prefix)),
            (
                "top 50, focal big OEM, 3 tiers upstream",
                lambda: store.risky(limit=50, focal=focal["big"], tiers=3, direction="upstream"),
            ),
            (
                "top 50, focal big OEM, 5 tiers upstream",
                lambda: store.risky(limit=50, focal=focal["big"], tiers=5, direction="upstream"),
            ),
            (
                "top 50, focal cluster buyer, 3 tiers upstream",
                lambda: store.risky(limit=50, focal=focal["small"], tiers=3, direction="upstream"),
            ),
            (
                "top 50, focal raw supplier, 3 tiers downstream",
                lambda: store.risky(limit=50, focal=focal["raw"], tiers=3, direction="downstream"),
            ),
            (
                "top 50, focal big OEM, 3 tiers up, min 0.5, chemical",
                lambda: store.risky(
                    limit=50, focal=focal["big"], tiers=3, min_score=0.5, industry="chemical"
                ),
            ),
        ]
        print(f"\nRiskStore.risky, {args.requests} sequential calls each (driver side, one connection pool)")
        print(f"{'variant':<50} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8}")
        for name, call in variants:
            p50, p95, n = await timed(call, args.requests)
            print(f"{name:<50} {n:>5} {p50:>8.1f} {p95:>8.1f}")
        print("\ntarget: risky-nodes top 50 <= 100 ms p95")
    finally:
        if not args.keep:
            t0 = time.perf_counter()
            deleted = await delete_by_prefix(driver, prefix, database=db)
            print(f"deleted {deleted:,} nodes under {prefix} in {time.perf_counter() - t0:.0f}s")
        await driver.close()


if __name__ == "__main__":
    asyncio.run(main())
