"""The project stage: a batch of ``events.valid`` messages -> its records, then one graph transaction
with its offsets.

Exactly once at the graph: the batch's mutations, its KPIs and the next offset of every partition it
covers commit in one Neo4j transaction; every write is a versioned aspect, so a replay is a no-op.
With a record store, the batch's records (orders, shipments, stock, …) are upserted first
(``streams.recording``): a crash before the graph commit replays the batch into idempotent upserts.
A change of master data by a source other than its owner (``graph.ownership``) goes to the DLQ
with the owner named, unless the source is an admin source. A batch Neo4j refuses for a
non-transient reason is bisected to find the culprit event(s), which go
to ``events.dlq`` (stage ``project``) with Neo4j's reason; the rest is applied. Transient errors are
retried by the writer, forever: a batch is never skipped.

What each graph commit applied is published to ``graph.changes`` (``schema.changes``), at least once:
the messages are written to an outbox in the batch's transaction, sent once it committed, and
deleted from the outbox with the next write. A projector republishes its group's outbox when it
starts (what a killed predecessor committed but never sent) and, every ``SWEEP_SECONDS``, entries
older than ``STALE_MS`` (what a worker of its group that died for good left). See
docs/graph-changes.md.

A supply link whose KPI row applied stale (a newer row of it was dropped while the link did not exist
yet: ``graph.writer``) is rewritten from the record store right after the write that marked it, and
with every sweep (``_recheck``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.flow_store import FlowKpis
from connectors.kafka import EventProducer, Record
from connectors.record_store import RecordStore
from graph.changes import graph_changes
from graph.mutations import Mutations, to_mutations
from graph.ownership import Verdict, check_owners, records_by_label
from graph.registry import REGISTRY
from graph.writer import (
    KPI_LINKS,
    KPI_SUPPLIERS,
    GraphWriter,
    GraphWriteRejected,
    Outbox,
    OutboxEntry,
    Position,
    Recheck,
    Written,
)
from schema.changes import AggregateChange, CausingEvent, encode
from schema.envelope import ValidEvent
from schema.errors import EventRejected
from streams.forwarding import Forwarder
from streams.recording import RecordWriter
from streams.stages import Incoming, dlq_record, route

log = logging.getLogger(__name__)

NOTHING_TO_PROJECT = frozenset(
    cls.TYPE for cls, unit in REGISTRY.items() if unit.streamed and unit.records is None
)
"""Event types the project stage passes over by their ``supplynet.event.type`` header, undecoded: no graph
rows, no records (``equipment.telemetry``, aggregated by the service job). Why: at the rates such a
type comes in, decoding each reading again to write nothing was ~29% of the worker's busy thread
(docs/service.md)."""

Pair = tuple[Incoming, ValidEvent]

CLOCK_DUE_PER_WRITE = 1_000
"""Most enterprises whose clock-moved KPI rows (``connectors.flow_store.due``: their own row and their
named links, ~4 rows each here) go in one graph transaction. Why bounded: when the stream clock
enters a new day, every enterprise with a bucket leaving a window needs its row again: at 10,000
enterprises ~40,000 rows. In the batch's transaction they outgrew Neo4j's transaction memory
(``dbms.memory.transaction.total.max``, 70% of a 1 GiB heap) after 6M events of the long run, and the
worker retried that batch for ever; computed in the record transaction, they were the worker's
memory peaks (docs/projection-performance.md)."""


SWEEP_SECONDS = 30.0
"""How often a projector looks for outbox entries another projector of its group left behind."""
RECHECK_ROUNDS = 5
"""Most rounds of stale-link rewrites in a row (each marked again only if a newer row came meanwhile)."""
STALE_MS = 60_000
"""Age from which an outbox entry counts as left behind (its writer died before publishing it)."""


def moved_aggregates(
    applied: Mapping[str, Sequence[Mapping[str, Any]]], naming: Mapping[str, Sequence[str]]
) -> list[AggregateChange]:
    """The flow KPIs a write applied (``KPI_SUPPLIERS`` / ``KPI_LINKS`` rows) as aggregate changes, each
    with the batch's events that name its enterprise (a supplier) or both ends (a link). A row moved by
    the stream clock alone (a window lost a day) has no events."""
    out = [
        AggregateChange(
            kind="enterprise",
            fields=sorted(r["fields"]),
            enterprise=r["id"],
            events=list(naming.get(r["id"], ())),
        )
        for r in applied.get(KPI_SUPPLIERS, ())
    ]
    for r in applied.get(KPI_LINKS, ()):
        buyer_events = set(naming.get(r["buyer"], ()))
        out.append(
            AggregateChange(
                kind="supply_link",
                fields=sorted(r["fields"]),
                supplier=r["supplier"],
                buyer=r["buyer"],
                sku=r["sku"],
                events=[e for e in naming.get(r["supplier"], ()) if e in buyer_events],
            )
        )
    return out


def positions(batch: Sequence[Incoming], group: str) -> list[Position]:
    """The next offset to read of every partition in the batch (highest offset + 1)."""
    top: dict[tuple[str, int], int] = {}
    for m in batch:
        k = (m.topic, m.partition)
        if m.offset + 1 > top.get(k, -1):
            top[k] = m.offset + 1
    return [Position(group, t, p, o) for (t, p), o in sorted(top.items())]


@dataclass
class Projected:
    applied: int = 0
    dead_lettered: int = 0


@dataclass
class Prepared:
    """A batch decoded and mapped, ready to commit: what ``Projector.commit`` writes."""

    valid: list[Pair]
    mutations: Mutations
    offsets: list[Position]
    dead_lettered: int
    kpis: FlowKpis = field(default_factory=FlowKpis)
    """The KPI rows the batch's record transaction computed (written with the graph transaction)."""
    passed_over: int = 0
    """Events of a type with nothing to project (``NOTHING_TO_PROJECT``), not decoded; their offsets
    are stored with the batch like the others'."""


class Projector:
    """Projects batches for one consumer group; thread-unsafe, one per worker event loop."""

    def __init__(
        self,
        *,
        writer: GraphWriter,
        dlq_out: EventProducer,
        group: str,
        admin_sources: Collection[str] = (),
        records: RecordStore | None = None,
        changes_out: EventProducer | None = None,
    ) -> None:
        self.writer = writer
        self.records: RecordWriter[Incoming] | None = RecordWriter(records) if records is not None else None
        """Where the batch's records go before its graph transaction (None: no record store)."""
        self.dlq_out = dlq_out
        self.group = group
        self.admin_sources = frozenset(admin_sources)
        """Sources that may change master data another source owns."""
        self._to_dlq = Forwarder(dlq_out, stage="project")
        self._to_changes = Forwarder(changes_out, stage="project") if changes_out is not None else None
        """Where what each commit applied goes (``graph.changes``); None: not published, no outbox."""
        self._published: list[str] = []
        """Outbox entries Kafka acknowledged, deleted with the next write."""
        self._swept_at: float | None = None

    async def _dead_letter(self, records: Sequence[Record]) -> None:
        await self._to_dlq.keep(records)  # waits out a Kafka outage: the batch commits after

    async def project(self, batch: Sequence[Incoming]) -> Projected:
        """Apply a batch and store its offsets; return what was applied and dead-lettered.

        Returns only after the graph (and the DLQ, for culprits) committed; the caller may then ack.
        """
        return await self.commit(await self.prepare(batch))

    async def prepare(self, batch: Sequence[Incoming]) -> Prepared:
        """Decode and map a batch, and write its records (no graph I/O); dead-letter what does not decode
        and what the record store refuses for good.

        Split from ``commit`` so the worker can prepare the next batch while Neo4j writes this one:
        the batch's records are written while the previous batch's graph transaction runs, and always
        before this batch's (``commit`` follows ``prepare``).
        """
        todo = [m for m in batch if m.event_type not in NOTHING_TO_PROJECT]
        routed = route(todo, max_future=None)  # checked at validation; time only moves on
        rejected = routed.rejected
        valid = routed.valid
        kpis = FlowKpis()
        if self.records is not None:
            recorded = await self.records.write(valid)
            refused, kpis = recorded.refused, recorded.kpis
            if refused:
                gone = {id(m) for m, _ in refused}
                valid = [pair for pair in valid if id(pair[0]) not in gone]
                rejected = [*rejected, *refused]
        dead = [dlq_record(m, e, stage="project") for m, e in rejected]
        for _, err in routed.rejected:
            log.warning("project: rejected %s", err.describe())
        await self._dead_letter(dead)
        mutations = to_mutations(ev for _, ev in valid)
        return Prepared(
            valid, mutations, positions(batch, self.group), len(dead), kpis, len(batch) - len(todo)
        )

    async def commit(self, p: Prepared) -> Projected:
        """Write a prepared batch and its offsets in one transaction (culprits to the DLQ)."""
        done = await self.apply(p.valid, p.offsets, mutations=p.mutations, kpis=p.kpis)
        done.dead_lettered += p.dead_lettered
        done.applied += p.passed_over
        return done

    async def apply(
        self,
        events: Sequence[Pair],
        offsets: Sequence[Position],
        *,
        mutations: Mutations | None = None,
        kpis: FlowKpis | None = None,
    ) -> Projected:
        """Write valid events and the offsets in one transaction; isolate and dead-letter culprits.

        Master-data changes by a source other than the owner are dead-lettered first (stored owners
        are read here, after the previous batch committed, so a claim is never missed). The graph
        only: the batch's records are written by ``prepare``.
        """
        verdict = await self._check_owners(events)
        if verdict.refused:
            for _, err in verdict.refused:
                log.warning("project: refused %s", err.describe())
            await self._dead_letter([dlq_record(m, err, stage="project") for m, err in verdict.refused])
            events, mutations = verdict.accepted, None
        refused = len(verdict.refused)
        await self._sweep()
        done = await self._write_batch(events, offsets, mutations, kpis, verdict.claims)
        done.dead_lettered += refused
        # The clock's rows after the batch, in bounded transactions of their own (the batch's stays
        # O(batch)). After, not before: the next batch's record transaction runs while this one
        # writes, so its rollover may name a link this batch creates; written ahead of the batch, that
        # row found no link, and the batch's own older row stayed (docs/graph-model.md).
        await self._write_due()
        return done

    async def _write_batch(
        self,
        events: Sequence[Pair],
        offsets: Sequence[Position],
        mutations: Mutations | None,
        kpis: FlowKpis | None,
        claims: dict[tuple[str, str], str],
    ) -> Projected:
        """The batch's one transaction; if Neo4j refuses it, every part it takes, and the culprits to
        the DLQ."""
        try:
            m = mutations if mutations is not None else to_mutations(ev for _, ev in events)
            m.owners = claims
            await self._write(m, events, offsets, kpis)
            return Projected(applied=len(events))
        except GraphWriteRejected as e:
            log.warning("project: Neo4j refused a batch of %d (%s); isolating the culprit", len(events), e)
        culprits = await self._isolate(events)
        await self._dead_letter([dlq_record(m, err, stage="project") for m, err in culprits])
        await self._write(Mutations(owners=claims), [], offsets, kpis)
        return Projected(applied=len(events) - len(culprits), dead_lettered=len(culprits))

    def _outbox(self, m: Mutations, events: Sequence[Pair], kpis: FlowKpis | None) -> Outbox | None:
        """What turns the write's applied rows into ``graph.changes`` messages (in its transaction)."""
        if self._to_changes is None or not (len(m) or kpis):
            return None
        causing = {
            ev.id: CausingEvent(id=ev.id, type=ev.type, subject=ev.subject, time=ev.time, source=ev.source)
            for _, ev in events
        }
        naming: dict[str, list[str]] = {}
        """The batch's event ids by the enterprises they name (what moved an aggregate)."""
        if kpis:
            for _, ev in events:
                for eid in REGISTRY[type(ev.data)].names(ev.data).enterprises:
                    naming.setdefault(eid, []).append(ev.id)

        def messages(applied: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[tuple[str, bytes]]:
            records = graph_changes(
                m,
                applied,
                causing,
                batch=uuid.uuid4().hex,
                committed_at=datetime.now(UTC),
                aggregates=moved_aggregates(applied, naming),
            )
            return [(r.key, encode(r)) for r in records]

        return Outbox(self.group, messages)

    async def _write(
        self,
        m: Mutations,
        events: Sequence[Pair],
        offsets: Sequence[Position],
        kpis: FlowKpis | None = None,
        *,
        rechecked: Sequence[Recheck] = (),
    ) -> Written:
        """One graph write (raises ``GraphWriteRejected``); what it applied is published once committed.
        Links whose KPI row applied stale are rewritten right after (``_recheck``)."""
        published, self._published = self._published, []
        try:
            written = await self.writer.write(
                m,
                offsets,
                kpis=kpis,
                outbox=self._outbox(m, events, kpis),
                published=published,
                group=self.group,
                rechecked=rechecked,
            )
        except BaseException:
            self._published = published + self._published
            raise
        if written.outbox is not None:
            await self._publish(written.outbox)
        if written.stale and not rechecked:
            await self._recheck()
        return written

    async def _recheck(self) -> None:
        """Rewrite, from the record store, the supply links whose KPI row applied stale (``KpiRecheck``:
        a newer row was dropped while the link did not exist yet; ``graph.writer``), each marker
        deleted with its rewrite. Right after a write that marked some, and with every sweep (what a
        killed worker marked). A rewrite marked stale again (a newer row meanwhile) is taken again, a
        few rounds at most; the rest waits for the next sweep."""
        if self.records is None:
            return
        for _ in range(RECHECK_ROUNDS):
            marked = await self.writer.rechecks(self.group)
            if not marked:
                return
            kpis = await self.records.link_kpis({(c.supplier, c.buyer, c.sku) for c in marked})
            log.info("project: rewriting the KPIs of %d supply link(s) whose row applied stale", len(marked))
            await self._write(Mutations(), [], [], kpis, rechecked=marked)

    async def _publish(self, entry: OutboxEntry) -> None:
        """Send an outbox entry's messages; return once Kafka acknowledged every one (waits out an
        outage). Deleted from the outbox with the next write (or ``flush``)."""
        assert self._to_changes is not None
        await self._to_changes.keep([Record(k.encode(), v) for k, v in entry.messages])
        self._published.append(entry.id)

    async def _sweep(self) -> None:
        """Publish outbox entries of this group left unpublished: all of them on the first call (a
        killed predecessor's), later every ``SWEEP_SECONDS`` those older than ``STALE_MS``. Rewrite
        the supply links this group's writes marked stale first (``_recheck``: a killed worker's)."""
        now = time.monotonic()
        if self._swept_at is not None and now - self._swept_at < SWEEP_SECONDS:
            return
        older_ms = 0 if self._swept_at is None else STALE_MS
        self._swept_at = now
        await self._recheck()  # links a killed worker marked stale
        if self._to_changes is None:
            return
        while True:
            entries = await self.writer.unpublished(self.group, older_ms=older_ms)
            for entry in entries:
                await self._publish(entry)
            if entries:
                log.warning(
                    "project: published %d batch(es) of graph changes a projector had committed but not sent",
                    len(entries),
                )
                await self.flush()
            if len(entries) < 100:
                return

    async def _write_due(self) -> None:
        """Write every KPI row the stream clock moved that the graph does not have yet, at most
        ``CLOCK_DUE_PER_WRITE`` enterprises per transaction, each forgotten once committed.

        After a batch's own write (``apply``) and between batches (``idle``); rows a killed worker's
        rollover named are written by its successor. Safe to write early or twice: every row is read
        from the committed record store with its enterprise's revision first (the graph keeps the
        newest)."""
        if self.records is None:
            return
        while True:
            due = await self.records.due(CLOCK_DUE_PER_WRITE)
            if not due.entries:
                return
            if due.kpis:
                await self._write(Mutations(), [], [], due.kpis)
            await self.records.done(due)

    async def idle(self) -> None:
        """What the stage does between batches: write the KPI rows the clock moved (a killed
        predecessor's), publish what the outbox holds unpublished (on the first call, and every
        ``SWEEP_SECONDS``) and delete what was published (the outbox keeps nothing already sent)."""
        await self._write_due()
        await self._sweep()
        if self._published:
            await self.flush()

    async def flush(self) -> None:
        """Delete the published outbox entries now (what the next write would do)."""
        published, self._published = self._published, []
        try:
            await self.writer.published(published)
        except BaseException:
            self._published = published + self._published
            raise

    async def _check_owners(self, events: Sequence[Pair]) -> Verdict[Incoming]:
        records = records_by_label([ev for _, ev in events])
        if not records:  # no master data in the batch (the usual case): nothing to read
            return Verdict(accepted=list(events))
        return check_owners(events, await self.writer.owners(records), self.admin_sources)

    async def _isolate(self, events: Sequence[Pair]) -> list[tuple[Incoming, EventRejected]]:
        """Bisect: apply every half Neo4j accepts; return the single events it refuses, with why."""
        if len(events) == 1:
            msg, ev = events[0]
            try:
                await self._write(to_mutations([ev]), events, ())
                return []
            except GraphWriteRejected as e:
                err = EventRejected(
                    f"the graph refused it: {e}",
                    event_id=ev.id,
                    event_type=ev.type,
                    error_class="graph",
                )
                log.warning("project: dead-lettering %s", err.describe())
                return [(msg, err)]
        culprits: list[tuple[Incoming, EventRejected]] = []
        mid = len(events) // 2
        for half in (events[:mid], events[mid:]):
            try:
                await self._write(to_mutations(ev for _, ev in half), half, ())
            except GraphWriteRejected:
                culprits += await self._isolate(half)
        return culprits

    async def stored_offsets(self, topic: str) -> dict[int, int]:
        """partition -> next offset to read, as committed with the graph for this group."""
        return await self.writer.stored_offsets(self.group, topic)
