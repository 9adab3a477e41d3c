"""What the stream-side dedup costs the validate stage, side by side in one run.

    .venv/bin/python -m bench.dedup [--events 30000] [--batch 1000] [--sql-url sqlite:///…]

Per batch of ``--batch`` events (the worker's batch size): validate alone (``route``), then validate +
the ledger check + recording the forwarded ids (SQLite file by default; pass a PostgreSQL URL to
measure that). Prints events/s of each and their ratio. Needs no servers for SQLite.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.workload import generate
from connectors.sql import sql_engine
from streams.dedup import SeenEvents
from streams.stages import Incoming, route
from supplynet.bootstrap import create_sql_tables


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--sql-url", default=None)
    args = ap.parse_args()

    events = generate(prefix="bench-dedup-", enterprises=200, events=args.events, resend_every=10)
    msgs = [Incoming("events.raw", 0, i, e.key, e.value) for i, e in enumerate(events)]
    batches = [msgs[i : i + args.batch] for i in range(0, len(msgs), args.batch)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = sql_engine(args.sql_url or f"sqlite:///{Path(tmp) / 'seen.db'}")
        create_sql_tables(engine)
        seen = SeenEvents(engine, retention_days=14)

        t0 = time.perf_counter()
        for b in batches:
            route(b)
        alone = time.perf_counter() - t0

        t0 = time.perf_counter()
        forwarded = redelivered = 0
        for b in batches:
            verdict = seen.check(route(b).valid)
            seen.record(verdict.forward)
            forwarded += len(verdict.forward)
            redelivered += len(verdict.redelivered)
        with_ledger = time.perf_counter() - t0

    n = len(msgs)
    print(f"{n} events ({redelivered} re-sent copies), batches of {args.batch}, {engine.dialect.name}")
    print(f"validate alone         : {n / alone:>10,.0f} events/s")
    print(f"validate + dedup ledger: {n / with_ledger:>10,.0f} events/s  ({forwarded} forwarded)")
    print(f"ratio                  : {alone / with_ledger:.3f} (with ledger / alone, events/s)")


if __name__ == "__main__":
    main()
