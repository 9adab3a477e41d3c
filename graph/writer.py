"""The batched graph writer: one transaction per batch, one ``UNWIND`` statement per mutation kind.

In the same transaction it writes the KPIs the batch's record transaction computed from the flow's
day buckets and the stored stock (``connectors.flow_store``: one row per touched enterprise — flow
KPIs and days of cover — and per touched supply link, each applied only when its enterprise's
revision is not older than the stored one), writes the batch's change messages to the outbox (built
from what the statements returned, KPI rows included: ``graph.changes``) and stores the consumer
offsets the batch covers (one ``KafkaOffset`` node per group/topic/partition), so graph state,
changes and offsets commit together or not at all. Every statement is idempotent (versioned aspects,
MERGE on business keys, monotonic offsets), so the driver's retries and a replay after a crash are
safe.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from neo4j import AsyncDriver, AsyncTransaction, RoutingControl
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired, TransientError

from connectors.flow_store import FlowKpis
from graph import model, ownership
from graph.rows import Mutations, Row

log = logging.getLogger(__name__)

T = TypeVar("T")

STATEMENTS: tuple[tuple[str, str], ...] = tuple(model.statements())


# The batch's own KPIs: newest enterprise revision wins (two workers may commit out of order).
_FLOW_SUPPLIERS = (
    "UNWIND $rows AS r\n"
    "MERGE (e:Enterprise {id: r.id})\n"
    f"{model.kpi_applied('e')}"
    "RETURN r.id AS id, keys(r.props) AS fields"
)

# A link's row carries its supplier's revision, and the supplier's own row, written just before in the
# same transaction, has locked the supplier. A link row that applies while its supplier already holds a
# newer revision is *stale*: a newer row for this link was written while the link did not exist yet
# (MATCH found nothing: dropped). That happens when a supply agreement's row, computed before some
# flow of its link, commits after that flow's transaction: with two workers when the other worker's
# flow batch commits in between (with one worker, when the clock's due rows were written ahead of the
# in-flight batch that creates the link: they now follow it, streams.projection). The write marks
# such links ``KpiRecheck`` in the same transaction (durable), and the projector rewrites them from
# the record store (``Projector._recheck``).
_FLOW_LINKS = (
    "UNWIND $rows AS r\n"
    "MATCH (s:Enterprise {id: r.supplier})-[x:SUPPLIES {sku: r.sku}]->(:Enterprise {id: r.buyer})\n"
    f"{model.kpi_applied('x', 's')}"
    "RETURN r.supplier AS supplier, r.buyer AS buyer, r.sku AS sku, keys(r.props) AS fields,\n"
    "       coalesce(s.kpiRev, -1) > r.rev AS stale"
)

# Run only when some row applied stale, not as a FOREACH in the statement above: a MERGE there is
# planned for every row, and the direct ceiling measured ~5% lower with it.
_MARK_RECHECKS = """
UNWIND $rows AS r
MERGE (k:KpiRecheck {id: $group + '|' + r.supplier + '|' + r.buyer + '|' + r.sku})
SET k.group = $group, k.supplier = r.supplier, k.buyer = r.buyer, k.sku = r.sku, k.token = randomUUID()
"""

# Markers deleted by the write that rewrote their links, unless marked again meanwhile (a new token).
_RECHECKED = """
UNWIND $done AS d
MATCH (k:KpiRecheck {id: d.id}) WHERE k.token = d.token
DELETE k
"""

_RECHECKS = """
MATCH (k:KpiRecheck) WHERE k.group = $group
RETURN k.id AS id, k.token AS token, k.supplier AS supplier, k.buyer AS buyer, k.sku AS sku
ORDER BY k.id
LIMIT $limit
"""

KPI_SUPPLIERS = "kpi_suppliers"
"""The key, in what a write applied, of the suppliers whose flow KPIs it wrote (``id``, ``fields``)."""
KPI_LINKS = "kpi_links"
"""The key of the supply links whose flow KPIs it wrote (``supplier``, ``buyer``, ``sku``, ``fields``)."""

_OFFSETS = """
UNWIND $offsets AS o
MERGE (k:KafkaOffset {id: o.id})
SET k.group = o.group, k.topic = o.topic, k.partition = o.partition,
    k.offset = CASE WHEN k.offset IS NULL OR o.offset > k.offset THEN o.offset ELSE k.offset END
"""

_CLAIM_OWNERS = {
    label: f"UNWIND $rows AS r MATCH (x:{label} {{{key}: r.k}}) "
    "SET x.ownerSource = coalesce(x.ownerSource, r.owner)"
    for label, key in ownership.KEYS.items()
}

_OWNERS = {
    label: f"UNWIND $keys AS k MATCH (x:{label} {{{key}: k}}) WHERE x.ownerSource IS NOT NULL "
    "RETURN k, x.ownerSource AS owner"
    for label, key in ownership.KEYS.items()
}

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


# The change outbox: a batch's ``graph.changes`` messages, written in the batch's transaction and
# deleted once Kafka acknowledged them (``streams.projection``), so a process killed between the
# commit and the publish leaves them to be published by the next projector of its group.
_OUTBOX_PUT = """
CREATE (o:ChangeOutbox {id: $id, group: $group, createdAt: timestamp(), keys: $keys, values: $values})
"""

_OUTBOX_DONE = """
UNWIND $ids AS id
MATCH (o:ChangeOutbox {id: id})
DELETE o
"""

_OUTBOX_PENDING = """
MATCH (o:ChangeOutbox) WHERE o.group = $group AND o.createdAt <= timestamp() - $olderMs
RETURN o.id AS id, o.keys AS keys, o.values AS values
ORDER BY o.createdAt, o.id
LIMIT $limit
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One committed batch's change messages, (Kafka key, value), waiting to be published."""

    id: str
    messages: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Outbox:
    """How a write turns what it applied into change messages, and whose outbox (consumer group)
    they go to. ``messages`` runs inside the transaction (it may run again if the transaction is
    retried) and must be pure."""

    group: str
    messages: Callable[[Mapping[str, Sequence[Mapping[str, Any]]]], Sequence[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class Recheck:
    """A supply link whose KPI row applied stale (``_FLOW_LINKS``): to be rewritten from the record
    store. ``id`` and ``token`` delete the marker with the rewrite, unless it was marked again."""

    id: str
    token: str
    supplier: str
    buyer: str
    sku: str


@dataclass(frozen=True, slots=True)
class Written:
    """What a committed write applied: per mutation kind, the records its statement returned (rows
    newer than stored, ``graph.model``), and the outbox entry it wrote (None: nothing to publish)."""

    applied: Mapping[str, Sequence[Mapping[str, Any]]]
    outbox: OutboxEntry | None = None

    @property
    def stale(self) -> int:
        """How many link KPI rows applied stale (each marked ``KpiRecheck`` by the write)."""
        return sum(1 for r in self.applied.get(KPI_LINKS, ()) if r.get("stale"))


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


async def _apply(
    tx: AsyncTransaction,
    m: Mutations,
    offsets: list[Row],
    flow: FlowKpis | None = None,
    outbox: Outbox | None = None,
    published: Sequence[str] = (),
    group: str | None = None,
    rechecked: Sequence[Recheck] = (),
) -> Written:
    applied: dict[str, list[dict[str, Any]]] = {}
    for name, cypher in STATEMENTS:
        rows = m.rows.get(name)
        if rows:
            applied[name] = await (await tx.run(cypher, rows=Rows(rows))).data()
    if rechecked:  # before the rows: a row that applies stale again marks its link anew
        done = [{"id": c.id, "token": c.token} for c in rechecked]
        await (await tx.run(_RECHECKED, done=done)).consume()
    if flow:
        if flow.suppliers:
            applied[KPI_SUPPLIERS] = await (await tx.run(_FLOW_SUPPLIERS, rows=Rows(flow.suppliers))).data()
        if flow.links:
            applied[KPI_LINKS] = links = await (await tx.run(_FLOW_LINKS, rows=Rows(flow.links))).data()
            stale = [r for r in links if r["stale"]]
            if stale and group is not None:
                await (await tx.run(_MARK_RECHECKS, rows=stale, group=group)).consume()
    entry = await _put_outbox(tx, outbox, applied, published)
    claims: dict[str, list[Row]] = {}
    for (label, key), owner in sorted(m.owners.items()):
        claims.setdefault(label, []).append({"k": key, "owner": owner})
    for label, rows in claims.items():
        await (await tx.run(_CLAIM_OWNERS[label], rows=Rows(rows))).consume()
    if offsets:
        await (await tx.run(_OFFSETS, offsets=offsets)).consume()
    return Written(applied, entry)


async def _put_outbox(
    tx: AsyncTransaction,
    outbox: Outbox | None,
    applied: dict[str, list[dict[str, Any]]],
    published: Sequence[str],
) -> OutboxEntry | None:
    """The batch's change messages into the outbox (same transaction); published entries out."""
    if published:
        await (await tx.run(_OUTBOX_DONE, ids=list(published))).consume()
    if outbox is None:
        return None
    messages = list(outbox.messages(applied))
    if not messages:
        return None
    entry = OutboxEntry(f"{outbox.group}/{uuid.uuid4().hex}", messages)
    await (
        await tx.run(
            _OUTBOX_PUT,
            id=entry.id,
            group=outbox.group,
            keys=[k for k, _ in messages],
            values=[v.decode() for _, v in messages],
        )
    ).consume()
    return entry


def is_transient(e: BaseException) -> bool:
    """Errors a retry can fix: leader switch, deadlock, lost connection, database briefly unavailable."""
    if isinstance(e, (TransientError, ServiceUnavailable, SessionExpired)):
        return True
    return isinstance(e, (Neo4jError, DriverError)) and e.is_retryable()


class GraphWriter:
    """Applies mutation batches (with the offsets they cover) to Neo4j, one transaction each.

    Transient errors are retried with capped exponential backoff, forever: a batch is never
    skipped. Anything else raises ``GraphWriteRejected`` so the caller can isolate the culprit.
    Writes of one writer (batches, outbox deletes) run one at a time; ``serial`` is the lock they take,
    for other writes of the same process to take too (graph retention: ``graph.retention``).
    """

    def __init__(self, driver: AsyncDriver, *, database: str = "neo4j", max_backoff_s: float = 5.0) -> None:
        self.driver = driver
        self.database = database
        self.max_backoff_s = max_backoff_s
        self.serial = asyncio.Lock()

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
                async with self.serial, self.driver.session(database=self.database) as session:
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

    async def write(
        self,
        mutations: Mutations,
        offsets: Sequence[Position] = (),
        *,
        kpis: FlowKpis | None = None,
        outbox: Outbox | None = None,
        published: Sequence[str] = (),
        group: str | None = None,
        rechecked: Sequence[Recheck] = (),
    ) -> Written:
        """Apply a batch, the flow ``kpis`` of the batch and its offsets in one transaction; return what
        it applied.

        With ``outbox``, the change messages of what it applied are written in the same transaction
        (``Written.outbox``); ``published`` outbox entries are deleted in it. With ``group``, a link
        row that applies stale is marked for that group's projector to rewrite (``rechecks``);
        ``rechecked`` markers (the links ``kpis`` rewrites) are deleted in it.
        """
        if not len(mutations) and not offsets and not published and not kpis and not rechecked:
            return Written({})
        rows = [p.row() for p in sorted(offsets, key=lambda p: (p.topic, p.partition))]
        try:
            return await self._transact(
                lambda tx: _apply(tx, mutations, rows, kpis, outbox, published, group, rechecked),
                "graph write",
            )
        except (Neo4jError, DriverError) as e:
            raise GraphWriteRejected(str(e)) from e

    async def unpublished(self, group: str, *, older_ms: int, limit: int = 100) -> list[OutboxEntry]:
        """Outbox entries of ``group`` written at least ``older_ms`` ago, oldest first (committed)."""
        records = await self._read(_OUTBOX_PENDING, group=group, olderMs=older_ms, limit=limit)
        return [
            OutboxEntry(
                str(r["id"]), [(str(k), str(v).encode()) for k, v in zip(r["keys"], r["values"], strict=True)]
            )
            for r in records
        ]

    async def published(self, ids: Sequence[str]) -> None:
        """Delete outbox entries whose messages Kafka acknowledged (idempotent)."""
        if ids:
            await self._transact(lambda tx: _put_outbox(tx, None, {}, ids), "outbox delete")

    async def rechecks(self, group: str, *, limit: int = 1000) -> list[Recheck]:
        """Supply links ``group``'s writes marked stale (``_FLOW_LINKS``), committed, in id order."""
        records = await self._read(_RECHECKS, group=group, limit=limit)
        return [
            Recheck(str(r["id"]), str(r["token"]), str(r["supplier"]), str(r["buyer"]), str(r["sku"]))
            for r in records
        ]

    async def _read(self, query: str, **params: Any) -> list[Any]:
        """An auto-commit read (no locks), retried on transient errors like the writes."""
        delay = 0.02
        while True:
            try:
                result = await self.driver.execute_query(
                    query, params, routing_=RoutingControl.READ, database_=self.database
                )
                return list(result.records)
            except (Neo4jError, DriverError) as e:
                if not is_transient(e):
                    raise
                log.warning("graph read failed transiently (%s); retrying in %.2fs", e, delay)
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311  (jitter, not a secret)
                delay = min(delay * 2, self.max_backoff_s)

    async def owners(self, keys: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], str]:
        """(label, key) -> owning source of the given master-data records that have one (committed)."""
        out: dict[tuple[str, str], str] = {}
        for label, ks in keys.items():
            for r in await self._read(_OWNERS[label], keys=list(ks)):
                out[(label, str(r["k"]))] = str(r["owner"])
        return out

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
