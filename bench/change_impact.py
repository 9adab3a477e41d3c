"""Change impact benchmark: the three record-store reads behind ``changeImpact { affectedSuppliers }``
(open-order totals, the first open orders per supplier, stock) at a large order table.

Fills a fresh SQLite store (or ``--sql-url``) with ``--orders`` orders of ``--suppliers`` suppliers over
``--skus`` skus (a third delivered, a tenth cancelled, the rest open) and one stock report per
(supplier, sku, site), then asks for ``--pairs`` affected (supplier, sku) pairs ``--requests`` times,
unscoped (an analyst) and scoped to a network of 200 enterprises (a partner). Prints p50/p95 in ms.

    .venv/bin/python -m bench.change_impact --orders 1000000
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import SQLModel

from connectors import impact_queries as iq
from connectors.record_queries import ORDERS, STOCK
from connectors.sql import sql_engine


def _fill(engine: Engine, *, orders: int, suppliers: int, skus: int, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311  (test data, not a secret)
    SQLModel.metadata.create_all(engine, tables=[ORDERS, STOCK])
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for n in range(orders):
            state = rng.random()
            batch.append(
                {
                    "order_id": f"po-{n:09d}",
                    "supplier_id": f"s{rng.randrange(suppliers):05d}",
                    "buyer_id": f"b{rng.randrange(suppliers):05d}",
                    "sku": f"k{rng.randrange(skus):04d}",
                    "quantity": 100.0,
                    "ordered_on": date(2026, 1, 1),
                    "placed_t": n,
                    "delivered_t": n if state < 1 / 3 else None,
                    "cancelled_t": n if 1 / 3 <= state < 1 / 3 + 0.1 else None,
                }
            )
            if len(batch) == 20_000:
                conn.execute(insert(ORDERS), batch)
                batch = []
        if batch:
            conn.execute(insert(ORDERS), batch)
        stock = [
            {
                "enterprise_id": f"s{s:05d}",
                "sku": f"k{k:04d}",
                "facility_id": site,
                "on_hand": 50.0,
                "daily_usage": 5.0,
            }
            for s in range(suppliers)
            for k in range(0, skus, max(1, skus // 20))
            for site in ("", "plant-1")
        ]
        conn.execute(insert(STOCK), stock)


def _time(fn: Callable[[], Any], requests: int) -> tuple[float, float]:
    ms: list[float] = []
    for _ in range(requests):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--suppliers", type=int, default=2_000)
    ap.add_argument("--skus", type=int, default=500)
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--sql-url", default=None)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.sql_url or f"sqlite:///{Path(tmp) / 'impact.db'}"
        engine = sql_engine(url)
        t = time.perf_counter()
        _fill(engine, orders=args.orders, suppliers=args.suppliers, skus=args.skus, seed=args.seed)
        print(f"filled {args.orders:,} orders in {time.perf_counter() - t:.1f} s ({url.split(':')[0]})")
        rng = random.Random(args.seed + 1)  # noqa: S311  (test data, not a secret)
        pairs = [
            (f"s{rng.randrange(args.suppliers):05d}", f"k{rng.randrange(args.skus):04d}")
            for _ in range(args.pairs)
        ]
        network = frozenset(
            {s for s, _ in pairs} | {f"b{rng.randrange(args.suppliers):05d}" for _ in range(200)}
        )
        for who, allowed in (("analyst", None), ("partner", network)):
            for name, fn in (
                (
                    "open_order_totals",
                    lambda a=allowed: iq.open_order_totals(engine, supplier_skus=pairs, allowed=a),
                ),
                (
                    "open_orders(first=20)",
                    lambda a=allowed: iq.open_orders(engine, supplier_skus=pairs, allowed=a, first=20),
                ),
                ("stock_of", lambda a=allowed: iq.stock_of(engine, enterprise_skus=pairs, allowed=a)),
            ):
                p50, p95 = _time(fn, args.requests)
                print(f"{who:8} {name:22} {args.pairs} pairs  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
