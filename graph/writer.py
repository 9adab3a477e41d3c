"""The batched graph writer: one transaction per batch, one ``UNWIND`` statement per mutation kind.

Writes are MERGEs on business keys, guarded by last-writer-wins on (event time, sequence): applying
the same batch twice, or an older event after a newer one, leaves the graph unchanged. The managed
transaction is retried by the driver on transient errors, which is safe because it is idempotent.
"""

from __future__ import annotations

from neo4j import AsyncDriver, AsyncManagedTransaction

from graph.mutations import Mutations

# Newer-or-equal (t, seq) wins; a node or relationship without provenance is a placeholder.
_NEWER = "(x.lastEventAt IS NULL OR r.t > x.lastEventAt OR (r.t = x.lastEventAt AND r.seq >= x.lastSeq))"
_PROVENANCE = "x.lastEventAt = r.t, x.lastSeq = r.seq, x.lastEventId = r.eid, x.lastSource = r.src"

MERGE_ENTERPRISES = f"""
UNWIND $rows AS r
MERGE (x:Enterprise {{id: r.id}})
WITH x, r WHERE {_NEWER}
SET x.name = r.name, x.industry = r.industry, x.region = r.region, x.country = r.country, {_PROVENANCE}
"""

MERGE_SUPPLIES = f"""
UNWIND $rows AS r
MERGE (s:Enterprise {{id: r.supplier}})
MERGE (b:Enterprise {{id: r.buyer}})
MERGE (s)-[x:SUPPLIES {{sku: r.sku}}]->(b)
WITH x, r WHERE {_NEWER}
SET x.share = r.share, x.leadTimeDays = r.leadTimeDays, x.validFrom = r.validFrom, x.validTo = r.validTo,
    {_PROVENANCE}
"""


async def _apply(tx: AsyncManagedTransaction, m: Mutations) -> None:
    if m.enterprises:
        await (await tx.run(MERGE_ENTERPRISES, rows=m.enterprises)).consume()
    if m.supplies:
        await (await tx.run(MERGE_SUPPLIES, rows=m.supplies)).consume()


class GraphWriter:
    """Applies mutation batches to Neo4j. Idempotent per batch; retried on transient errors."""

    def __init__(self, driver: AsyncDriver, *, database: str = "neo4j") -> None:
        self.driver = driver
        self.database = database

    async def write(self, mutations: Mutations) -> None:
        if not len(mutations):
            return
        async with self.driver.session(database=self.database) as session:
            await session.execute_write(_apply, mutations)
