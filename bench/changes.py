"""What reporting a commit's changes costs the graph write, side by side in one run.

    .venv/bin/python -m bench.changes [--events 4000] [--batch 2000] [--trials 6]

Each trial writes ``--events`` events of the realistic mix (``bench.workload``, a fresh id prefix) in
batches of ``--batch``, once as the writer did before ``graph.changes`` (no outbox) and once with the
change records built from the statements' results and written to the outbox in the transaction (then
deleted, as after a publish); the order alternates between trials. Prints events/s of each, their
ratio and the size of the change records per batch. Needs the local Neo4j (``SUPPLYNET_STATE_DIR``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bench.workload import generate
from graph.changes import graph_changes
from graph.maintenance import delete_by_prefix
from graph.migrations import migrate
from graph.mutations import to_mutations
from graph.rows import Mutations
from graph.writer import GraphWriter, Outbox
from schema.changes import CausingEvent, encode
from schema.envelope import ValidEvent
from schema.validate import decode_event
from supplynet import bootstrap
from supplynet.settings import Settings


def _outbox(group: str, m: Mutations, batch: Sequence[ValidEvent]) -> Outbox:
    causing = {
        e.id: CausingEvent(id=e.id, type=e.type, subject=e.subject, time=e.time, source=e.source)
        for e in batch
    }

    def messages(applied: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[tuple[str, bytes]]:
        records = graph_changes(m, applied, causing, batch=uuid.uuid4().hex, committed_at=datetime.now(UTC))
        return [(r.key, encode(r)) for r in records]

    return Outbox(group, messages)


async def run(events: int, batch_size: int, trials: int) -> None:
    settings = Settings()
    driver = bootstrap.async_driver(settings)
    await migrate(driver)
    writer = GraphWriter(driver, database=settings.neo4j.database)
    rates: dict[str, list[float]] = {"without": [], "with": []}
    sizes: list[int] = []
    try:
        for trial in range(trials):
            for mode in ("without", "with") if trial % 2 == 0 else ("with", "without"):
                prefix = f"bchg{uuid.uuid4().hex[:6]}-"
                evs = [
                    decode_event(e.value, max_future=None)
                    for e in generate(prefix=prefix, enterprises=300, events=events)
                ]
                t0 = time.perf_counter()
                for i in range(0, len(evs), batch_size):
                    part = evs[i : i + batch_size]
                    m = to_mutations(part)
                    outbox = _outbox(prefix, m, part) if mode == "with" else None
                    written = await writer.write(m, outbox=outbox)
                    if written.outbox is not None:
                        sizes.append(sum(len(v) for _, v in written.outbox.messages))
                        await writer.published([written.outbox.id])
                rates[mode].append(len(evs) / (time.perf_counter() - t0))
                await delete_by_prefix(driver, prefix)
    finally:
        await driver.close()
    without, with_ = statistics.median(rates["without"]), statistics.median(rates["with"])
    print(f"graph write, {events:,} events in batches of {batch_size:,}, median of {trials} trials:")
    print(f"  without change records: {without:,.0f} events/s")
    print(
        f"  with change records (outbox in the transaction): {with_:,.0f} events/s "
        f"(ratio {with_ / without:.2f})"
    )
    if sizes:
        print(f"  change records per batch: median {statistics.median(sizes) / 1024:,.0f} KiB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--trials", type=int, default=6)
    args = ap.parse_args()
    asyncio.run(run(args.events, args.batch, args.trials))


if __name__ == "__main__":
    main()
