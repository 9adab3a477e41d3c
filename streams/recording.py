"""The project stage's writes to the record store: a batch's records, before its graph transaction.

Order and replay: a batch's records are upserted (one SQL transaction) before its graph transaction
with its offsets commits. A crash in between leaves the records written and the offsets not: the batch
is read again and its upserts change nothing (last-writer-wins per field group, idempotent). So the
record store never misses an event the graph applied.

Errors: an unavailable store (``OperationalError``: server away, SQLite busy, deadlock) is retried with
capped exponential back-off (tenacity), for ever — the batch waits and nothing is skipped. Any other
database error means the store refuses some event for good (e.g. PostgreSQL refuses a NUL character in
text): the batch is bisected, every part the store takes is written, and the refused events are
returned for the caller to dead-letter (they are not projected at all).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from connectors.flow_store import Due, FlowKpis
from connectors.record_store import RecordStore, Written
from graph.kpis import LinkKey
from graph.registry import agreed_links, record_rows
from schema.envelope import ValidEvent
from schema.errors import EventRejected

log = logging.getLogger(__name__)

M = TypeVar("M")
T = TypeVar("T")


def unavailable(e: BaseException) -> bool:
    """Whether a store error is transient: the same write may succeed later."""
    return isinstance(e, OperationalError) or (isinstance(e, DBAPIError) and e.connection_invalidated)


@dataclass(slots=True)
class Recorded(Generic[M]):
    """A batch written: the events the store refused for good (with why) and the touched KPIs."""

    refused: list[tuple[M, EventRejected]] = field(default_factory=list)
    kpis: FlowKpis = field(default_factory=FlowKpis)

    def __iadd__(self, other: Recorded[M]) -> Recorded[M]:
        self.refused += other.refused
        self.kpis.links.extend(other.kpis.links)
        self.kpis.suppliers.extend(other.kpis.suppliers)
        return self


class RecordWriter(Generic[M]):
    """Writes batches of ``(message, event)`` pairs to the record store; one per project stage."""

    def __init__(self, store: RecordStore, *, max_backoff_s: float = 10.0) -> None:
        self.store = store
        self.max_backoff_s = max_backoff_s

    def _warn(self, state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        log.warning(
            "project: the record store is unavailable (%s); attempt %d, next in %.1f s; batch held",
            err,
            state.attempt_number,
            state.upcoming_sleep,
        )

    async def _retried(self, call: Callable[[], T]) -> T:
        """``call`` in a thread, retried while the store is unavailable (for ever, with back-off)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(unavailable),
            wait=wait_exponential_jitter(
                multiplier=0.05, max=self.max_backoff_s, jitter=self.max_backoff_s / 10
            ),
            before_sleep=self._warn,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await asyncio.to_thread(call)
        raise AssertionError("unreachable: tenacity retries until the call succeeds or reraises")

    async def _write(self, events: Sequence[tuple[M, ValidEvent]]) -> Written:
        rows = record_rows(ev for _, ev in events)
        links = agreed_links(ev for _, ev in events)
        if not rows and not links:
            return Written()
        return await self._retried(lambda: self.store.apply(rows, links))

    async def due(self, limit: int) -> Due:
        """KPI rows the stream clock moved, not yet in the graph, of at most ``limit`` enterprises
        (``RecordStore.due``); waits out an unavailable store."""
        return await self._retried(lambda: self.store.due(limit))

    async def link_kpis(self, links: Collection[LinkKey]) -> FlowKpis:
        """KPI rows of supply ``links`` at the stream clock (``RecordStore.link_kpis``); waits out the
        store."""
        return await self._retried(lambda: self.store.link_kpis(links))

    async def done(self, due: Due) -> None:
        """Forget the entries of ``due`` once the graph committed its rows; waits out the store."""
        await self._retried(lambda: self.store.done(due.entries))

    async def write(self, events: Sequence[tuple[M, ValidEvent]]) -> Recorded[M]:
        """Upsert the records of ``events``; return the events the store refuses for good, with why,
        and the KPI rows of the suppliers the written records touched (``connectors.flow_store``).

        Returns once everything else is written; waits out an unavailable store for as long as it
        takes (``asyncio.CancelledError`` passes through, leaving the batch unacknowledged).
        """
        try:
            written = await self._write(events)
            return Recorded(kpis=written.kpis)
        except DBAPIError as e:
            if len(events) == 1:
                msg, ev = events[0]
                err = EventRejected(
                    f"the record store refused it: {e.orig}",
                    event_id=ev.id,
                    event_type=ev.type,
                    error_class="records",
                )
                log.warning("project: dead-lettering %s", err.describe())
                return Recorded(refused=[(msg, err)])
            log.warning(
                "project: the record store refused a batch of %d (%s); isolating", len(events), e.orig
            )
        mid = len(events) // 2
        out = await self.write(events[:mid])
        out += await self.write(events[mid:])
        return out
