"""The KPI refresh of a record batch, alone: the KPI rows of ``--suppliers`` suppliers and their links,
read from a record store's day buckets at the stream clock, as ``connectors.flow_store.finish`` reads
them for the suppliers a batch touched (the worker writes them to the graph with the batch).

It reads a store filled before (by default the one ``bench.records_api --events 10000000`` fills) and
changes nothing. Prints the store's size in buckets, then per round (``--suppliers`` drawn at random)
the milliseconds of the read, their median and p95, and the cost per supplier.

    .venv/bin/python -m bench.kpi_refresh
    .venv/bin/python -m bench.kpi_refresh --sql-url sqlite:////tmp/store.db --suppliers 300 --rounds 30
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.api import pct
from connectors import flow_store
from connectors.sql import sql_engine
from graph import kpis
from supplynet.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sql-url", default=None, help="default: the store of bench.records_api --events 10000000"
    )
    ap.add_argument(
        "--suppliers", type=int, default=200, help="suppliers per round (a batch touches ~100-400)"
    )
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    url = args.sql_url or f"sqlite:///{Path(Settings().state_dir) / 'bench-records-10000000.db'}"
    engine = sql_engine(url)
    with engine.connect() as conn:
        clock = flow_store.clock(conn)
        if clock is None:
            raise SystemExit(f"{url}: no records (fill it first: python -m bench.records_api)")
        suppliers = sorted(
            str(s) for s in conn.scalars(select(flow_store.LINK_OPEN.c.supplier_id).distinct())
        )
        lo = kpis.window_start(clock, flow_store.LONGEST_WINDOW_DAYS)
        days, leads = (
            conn.execute(select(func.count()).select_from(t).where(t.c.day >= lo)).scalar_one()
            for t in (flow_store.LINK_DAY, flow_store.LINK_LEAD)
        )
    print(
        f"store {engine.url.render_as_string(hide_password=True)}: clock {kpis.day_of(clock)}, "
        f"{len(suppliers):,} suppliers; in the {flow_store.LONGEST_WINDOW_DAYS}-day window "
        f"{days:,} link-day buckets and {leads:,} lead-time buckets"
    )
    rng = random.Random(args.seed)  # noqa: S311 (benchmark sampling)
    times: list[float] = []
    rows = 0
    for i in range(args.rounds):
        chosen = rng.sample(suppliers, min(args.suppliers, len(suppliers)))
        t = time.perf_counter()
        with engine.connect() as conn:
            got = flow_store.read_kpis(conn, chosen, clock)
        times.append(time.perf_counter() - t)  # seconds (bench.api.pct prints milliseconds)
        rows += len(got.links) + len(got.suppliers)
        print(f"  round {i + 1:>3}: {1000 * times[-1]:8.1f} ms", flush=True)
    p50, p95 = pct(times, 50), pct(times, 95)
    print(
        f"KPI refresh of {args.suppliers} suppliers: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"({1000 * p50 / args.suppliers:.0f} µs per supplier; {rows // args.rounds:,} KPI rows per round)"
    )


if __name__ == "__main__":
    main()
