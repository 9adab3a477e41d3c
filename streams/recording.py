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
from collections.abc import Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from connectors.record_store import RecordStore
from graph.registry import record_rows
from schema.envelope import ValidEvent
from schema.errors import EventRejected

log = logging.getLogger(__name__)

M = TypeVar("M")


def unavailable(e: BaseException) -> bool:
    """Whether a store error is transient: the same write may succeed later."""
    return isinstance(e, OperationalError) or (isinstance(e, DBAPIError) and e.connection_invalidated)


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

    async def _write(self, events: Sequence[tuple[M, ValidEvent]]) -> int:
        rows = record_rows(ev for _, ev in events)
        if not rows:
            return 0
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
                return await asyncio.to_thread(self.store.write, rows)
        raise AssertionError("unreachable: tenacity retries until the write succeeds or reraises")

    async def write(self, events: Sequence[tuple[M, ValidEvent]]) -> list[tuple[M, EventRejected]]:
        """Upsert the records of ``events``; return the events the store refuses for good, with why.

        Returns once everything else is written; waits out an unavailable store for as long as it
        takes (``asyncio.CancelledError`` passes through, leaving the batch unacknowledged).
        """
        try:
            await self._write(events)
            return []
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
                return [(msg, err)]
            log.warning(
                "project: the record store refused a batch of %d (%s); isolating", len(events), e.orig
            )
        mid = len(events) // 2
        return [*(await self.write(events[:mid])), *(await self.write(events[mid:]))]
