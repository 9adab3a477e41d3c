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
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from connectors.flow_store import FlowKpis
from connectors.kafka import EventProducer, Record
from connectors.record_store import RecordStore
from graph.mutations import Mutations, to_mutations
from graph.ownership import Verdict, check_owners, records_by_label
from graph.writer import GraphWriter, GraphWriteRejected, Position
from schema.envelope import ValidEvent
from schema.errors import EventRejected
from streams.forwarding import Forwarder
from streams.recording import RecordWriter
from streams.stages import Incoming, dlq_record, route

log = logging.getLogger(__name__)

Pair = tuple[Incoming, ValidEvent]


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
    ) -> None:
        self.writer = writer
        self.records: RecordWriter[Incoming] | None = RecordWriter(records) if records is not None else None
        """Where the batch's records go before its graph transaction (None: no record store)."""
        self.dlq_out = dlq_out
        self.group = group
        self.admin_sources = frozenset(admin_sources)
        """Sources that may change master data another source owns."""
        self._to_dlq = Forwarder(dlq_out, stage="project")

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
        routed = route(batch, max_future=None)  # checked at validation; time only moves on
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
        return Prepared(valid, mutations, positions(batch, self.group), len(dead), kpis)

    async def commit(self, p: Prepared) -> Projected:
        """Write a prepared batch and its offsets in one transaction (culprits to the DLQ)."""
        done = await self.apply(p.valid, p.offsets, mutations=p.mutations, kpis=p.kpis)
        done.dead_lettered += p.dead_lettered
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
        try:
            m = mutations if mutations is not None else to_mutations(ev for _, ev in events)
            m.owners = verdict.claims
            await self.writer.write(m, offsets, kpis=kpis)
            return Projected(applied=len(events), dead_lettered=refused)
        except GraphWriteRejected as e:
            log.warning("project: Neo4j refused a batch of %d (%s); isolating the culprit", len(events), e)
        culprits = await self._isolate(events)
        await self._dead_letter([dlq_record(m, err, stage="project") for m, err in culprits])
        await self.writer.write(Mutations(owners=verdict.claims), offsets, kpis=kpis)
        return Projected(applied=len(events) - len(culprits), dead_lettered=len(culprits) + refused)

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
                await self.writer.write(to_mutations([ev]))
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
                await self.writer.write(to_mutations(ev for _, ev in half))
            except GraphWriteRejected:
                culprits += await self._isolate(half)
        return culprits

    async def refresh_kpis(self, *, limit: int = 2000, rounds: int | None = None) -> int:
        """Recompute the KPIs the committed batches marked (see ``GraphWriter.refresh_kpis``), the flow
        KPIs read from the record store's buckets."""
        flow = self.records.store.kpis if self.records is not None else None
        return await self.writer.refresh_kpis(limit=limit, rounds=rounds, flow=flow)

    async def stored_offsets(self, topic: str) -> dict[int, int]:
        """partition -> next offset to read, as committed with the graph for this group."""
        return await self.writer.stored_offsets(self.group, topic)
