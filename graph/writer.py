"""The batched graph writer: one transaction per batch, one ``UNWIND`` statement per mutation kind.

In the same transaction it recomputes the KPIs the batch may change and stores the consumer offsets
the batch covers (one ``KafkaOffset`` node per group/topic/partition), so graph state and offsets
commit together or not at all. Every statement is idempotent (versioned aspects, MERGE on business
keys, monotonic offsets), so the driver's retries and a replay after a crash are safe.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from neo4j import AsyncDriver, AsyncTransaction, RoutingControl
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired, TransientError

from graph import kpis, model
from graph.mutations import Mutations, Row

log = logging.getLogger(__name__)

T = TypeVar("T")

STATEMENTS: tuple[tuple[str, str], ...] = tuple(model.statements())

# Enterprises whose supply links for a sku end at a buyer that reported stock of that sku.
# ``kpiDirtyAt`` keeps the time of the first mark since the last refresh: the oldest marks are
# refreshed first, so under load every enterprise's KPIs lag by a bounded time (none starves).
_MARK_ENTERPRISES = """
UNWIND $ids AS id
MERGE (e:Enterprise {id: id})
SET e.kpiDirty = true, e.kpiDirtyAt = coalesce(e.kpiDirtyAt, timestamp())
"""

_MARK_STOCK_SUPPLIERS = """
UNWIND $pairs AS p
MATCH (s:Enterprise)-[:SUPPLIES {sku: p.sku}]->(:Enterprise {id: p.buyer})
SET s.kpiDirty = true, s.kpiDirtyAt = coalesce(s.kpiDirtyAt, timestamp())
"""

# Locks the dirty enterprises first (a batch marking one of them waits for this refresh to commit,
# and is then refreshed again), so no KPI is computed from state older than its last mark.
_TAKE_DIRTY = """
MATCH (e:Enterprise) WHERE e.kpiDirty = true
WITH e ORDER BY e.kpiDirtyAt, e.id LIMIT $limit
SET e.kpiDirty = false
REMOVE e.kpiDirtyAt
RETURN e.id AS id
"""

_DIRTY = """
MATCH (e:Enterprise) WHERE e.kpiDirty = true
RETURN count(e) AS n, min(e.kpiDirtyAt) AS oldest
"""

_KPI_INPUTS = """
UNWIND $ids AS sid
OPTIONAL MATCH (o:Order {supplierId: sid})
WITH sid, collect(o {.buyerId, .sku, .placedAt, .deliveredAt, .deliveredOn, .deliveredPromisedDate,
                     .quantityOrdered, .quantityDelivered, .orderedOn, .cancelledAt}) AS orders
OPTIONAL MATCH (q:QualityIncident {supplierId: sid})
WITH sid, orders, collect(q {.buyerId, .sku, .reportedAt}) AS incidents
OPTIONAL MATCH (:Enterprise {id: sid})-[st:STOCKS]->(m:Material)
WITH sid, orders, incidents, collect({sku: m.sku, onHand: st.onHand, dailyUsage: st.dailyUsage}) AS stock
OPTIONAL MATCH (:Enterprise {id: sid})-[x:SUPPLIES]->(b:Enterprise)
OPTIONAL MATCH (b)-[bs:STOCKS]->(:Material {sku: x.sku})
WITH sid, orders, incidents, stock, b.id AS buyer, x.sku AS sku,
     collect({sku: x.sku, onHand: bs.onHand, dailyUsage: bs.dailyUsage}) AS buyerStock
RETURN sid, orders, incidents, stock, collect({buyer: buyer, sku: sku, stock: buyerStock}) AS links
"""

_KPI_SUPPLIERS = """
UNWIND $rows AS r
MATCH (e:Enterprise {id: r.id})
SET e += r.props
REMOVE e.kpiDirty
"""

_KPI_LINKS = """
UNWIND $rows AS r
MATCH (:Enterprise {id: r.supplier})-[x:SUPPLIES {sku: r.sku}]->(:Enterprise {id: r.buyer})
SET x += r.props
"""

_OFFSETS = """
UNWIND $offsets AS o
MERGE (k:KafkaOffset {id: o.id})
SET k.group = o.group, k.topic = o.topic, k.partition = o.partition,
    k.offset = CASE WHEN k.offset IS NULL OR o.offset > k.offset THEN o.offset ELSE k.offset END
"""

_STORED_OFFSETS = """
MATCH (k:KafkaOffset) WHERE k.group = $group AND k.topic = $topic
RETURN k.partition AS partition, k.offset AS offset
"""


class Rows(list[Row]):
    """A statement's row list whose ``repr`` is its length.

    The neo4j driver (6.x, ``AsyncBolt5x5.run``) builds ``repr`` of every parameter for a debug log
    line even when debug logging is off; for a 10,000-row batch that repr cost about a third of the
    client's time per statement. Packing is unaffected (a ``list`` subclass packs as a list).
    """

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


class GraphWriteRejected(Exception):
    """Neo4j refused the batch for a reason retrying will not fix (e.g. a type or constraint error)."""


@dataclass(frozen=True, slots=True)
class Position:
    """The next offset to read of one partition, for one consumer group."""

    group: str
    topic: str
    partition: int
    offset: int

    def row(self) -> Row:
        return {
            "id": f"{self.group}/{self.topic}/{self.partition}",
            "group": self.group,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
        }


def _native(v: Any) -> Any:
    return v.to_native() if hasattr(v, "to_native") else v


def _orders(rows: Sequence[Mapping[str, Any]]) -> list[kpis.OrderRecord]:
    out: list[kpis.OrderRecord] = []
    for o in rows:
        out.append(
            kpis.OrderRecord(
                buyer=o["buyerId"],
                sku=o["sku"],
                placed_at=o["placedAt"],
                delivered_at=o["deliveredAt"],
                delivered_on=_native(o["deliveredOn"]),
                promised_date=_native(o["deliveredPromisedDate"]),
                quantity_ordered=o["quantityOrdered"],
                quantity_delivered=o["quantityDelivered"],
                ordered_on=_native(o["orderedOn"]),
                cancelled_at=o["cancelledAt"],
            )
        )
    return out


def _stock(rows: Sequence[Mapping[str, Any]]) -> list[kpis.Stock]:
    return [
        kpis.Stock(sku=s["sku"], on_hand=s["onHand"], daily_usage=s["dailyUsage"])
        for s in rows
        if s["onHand"] is not None and s["sku"] is not None
    ]


async def _mark_kpis(tx: AsyncTransaction, m: Mutations) -> None:
    if m.kpi_enterprises:
        await (await tx.run(_MARK_ENTERPRISES, ids=sorted(m.kpi_enterprises))).consume()
    if m.kpi_stock:
        pairs = [{"buyer": b, "sku": s} for b, s in sorted(m.kpi_stock)]
        await (await tx.run(_MARK_STOCK_SUPPLIERS, pairs=Rows(pairs))).consume()


async def _refresh_kpis(tx: AsyncTransaction, limit: int) -> int:
    ids = [r["id"] async for r in await tx.run(_TAKE_DIRTY, limit=limit)]
    if ids:
        await _recompute_kpis(tx, ids)
    return len(ids)


async def _recompute_kpis(tx: AsyncTransaction, ids: list[str]) -> None:
    suppliers: list[Row] = []
    links: list[Row] = []
    result = await tx.run(_KPI_INPUTS, ids=ids)
    async for r in result:
        orders = _orders(r["orders"])
        incidents = [
            kpis.IncidentRecord(buyer=i["buyerId"], sku=i["sku"], at=i["reportedAt"])
            for i in r["incidents"]
            if i["reportedAt"] is not None
        ]
        at = kpis.as_of(orders, incidents)
        suppliers.append({"id": r["sid"], "props": kpis.supplier_kpis(orders, incidents, _stock(r["stock"]))})
        for link in r["links"]:
            if link["buyer"] is None:
                continue
            props = kpis.link_kpis(link["buyer"], link["sku"], orders, incidents, _stock(link["stock"]), at)
            links.append({"supplier": r["sid"], "buyer": link["buyer"], "sku": link["sku"], "props": props})
    suppliers.sort(key=lambda x: str(x["id"]))
    links.sort(key=lambda x: (x["buyer"], x["supplier"], x["sku"]))
    await (await tx.run(_KPI_SUPPLIERS, rows=Rows(suppliers))).consume()
    if links:
        await (await tx.run(_KPI_LINKS, rows=Rows(links))).consume()


async def _apply(tx: AsyncTransaction, m: Mutations, offsets: list[Row]) -> None:
    for name, cypher in STATEMENTS:
        rows = m.rows.get(name)
        if rows:
            await (await tx.run(cypher, rows=Rows(rows))).consume()
    await _mark_kpis(tx, m)
    if offsets:
        await (await tx.run(_OFFSETS, offsets=offsets)).consume()


def is_transient(e: BaseException) -> bool:
    """Errors a retry can fix: leader switch, deadlock, lost connection, database briefly unavailable."""
    if isinstance(e, (TransientError, ServiceUnavailable, SessionExpired)):
        return True
    return isinstance(e, (Neo4jError, DriverError)) and e.is_retryable()


class GraphWriter:
    """Applies mutation batches (with the offsets they cover) to Neo4j, one transaction each.

    Transient errors are retried with capped exponential backoff, forever: a batch is never
    skipped. Anything else raises ``GraphWriteRejected`` so the caller can isolate the culprit.
    Batch writes and KPI refresh rounds of one writer run one at a time: they lock the same
    enterprises, and run concurrently they deadlocked each other on every batch.
    """

    def __init__(self, driver: AsyncDriver, *, database: str = "neo4j", max_backoff_s: float = 5.0) -> None:
        self.driver = driver
        self.database = database
        self.max_backoff_s = max_backoff_s
        self._serial = asyncio.Lock()

    async def _transact(self, work: Callable[[AsyncTransaction], Awaitable[T]], what: str) -> T:
        """Run ``work`` in one explicit write transaction; retry transient failures until it commits.

        Explicit transactions instead of ``execute_write``: the driver's own retry waits 1 s, 2 s,
        4 s ... (up to 30 s in all) after a deadlock, where a few tens of milliseconds suffice, and
        gives up after 30 s, where a batch must never be skipped. Every statement is idempotent, so
        retrying a commit whose outcome was unknown is safe.
        """
        delay = 0.02
        while True:
            try:
                async with self._serial, self.driver.session(database=self.database) as session:
                    tx = await session.begin_transaction()
                    try:
                        out = await work(tx)
                        await tx.commit()
                        return out
                    finally:
                        if not tx.closed():
                            await tx.close()
            except (Neo4jError, DriverError) as e:
                if not is_transient(e):
                    raise
                log.warning("%s failed transiently (%s); retrying in %.2fs", what, e, delay)
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311  (jitter, not a secret)
                delay = min(delay * 2, self.max_backoff_s)

    async def write(self, mutations: Mutations, offsets: Sequence[Position] = ()) -> None:
        if not len(mutations) and not offsets:
            return
        rows = [p.row() for p in sorted(offsets, key=lambda p: (p.topic, p.partition))]
        try:
            await self._transact(lambda tx: _apply(tx, mutations, rows), "graph write")
        except (Neo4jError, DriverError) as e:
            raise GraphWriteRejected(str(e)) from e

    async def refresh_kpis(self, *, limit: int = 2000, rounds: int | None = None) -> int:
        """Recompute the KPIs of enterprises a committed batch marked, oldest mark first; return how many.

        Each round is one transaction over at most ``limit`` enterprises. ``rounds=None`` refreshes
        until none is marked; the worker passes a small budget per tick so that, under load, KPI
        work takes a bounded share of the time and ingest keeps its pace (KPIs then lag by the
        time it takes to work through the marks, see ``kpi_backlog``).
        """
        total = 0
        done = 0
        while rounds is None or done < rounds:
            n = await self._transact(lambda tx: _refresh_kpis(tx, limit), "KPI refresh")
            total += n
            done += 1
            if n < limit:
                break
        return total

    async def kpi_backlog(self) -> tuple[int, int | None]:
        """(enterprises marked and not yet refreshed, epoch ms of the oldest mark or None)."""
        result = await self.driver.execute_query(
            _DIRTY, routing_=RoutingControl.READ, database_=self.database
        )
        r = result.records[0]
        return int(r["n"]), (int(r["oldest"]) if r["oldest"] is not None else None)

    async def stored_offsets(self, group: str, topic: str) -> dict[int, int]:
        """partition -> next offset to read, as committed with the graph state."""
        result = await self.driver.execute_query(
            _STORED_OFFSETS,
            group=group,
            topic=topic,
            routing_=RoutingControl.READ,
            database_=self.database,
        )
        return {int(r["partition"]): int(r["offset"]) for r in result.records}
