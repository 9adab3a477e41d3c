"""What the agents do with a batch: validate and route, or project into the graph.

Kept apart from the faust app so it can be driven by tests and benchmarks without faust.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from connectors.kafka import EventProducer, Refused
from connectors.record_store import RecordStore
from graph.writer import GraphWriter
from schema.envelope import ValidEvent
from schema.errors import EventRejected
from schema.validate import MAX_FUTURE
from streams.dedup import SeenEvents
from streams.forwarding import Forwarder
from streams.metrics import WorkerMetrics
from streams.stages import Incoming, Routed, dlq_record, forwards, route

log = logging.getLogger(__name__)


def refusal(ev: ValidEvent, reason: str) -> EventRejected:
    """A valid event that Kafka refused to keep in ``events.valid``, as a dead-letter reason."""
    return EventRejected(
        f"events.valid refused the record: {reason}",
        event_id=ev.id,
        event_type=ev.type,
        error_class="kafka",
    )


async def _nothing_refused() -> list[Refused]:
    return []


class Pipeline:
    """The validate stage over injected adapters, and the writers the projector (``streams.projection``)
    uses: the graph's and the record store's.

    At-least-once, for an outage of any length: ``validate`` returns only after everything it produced
    was acknowledged by Kafka (it waits, retrying, while Kafka is away), and only then does the caller
    commit the input offsets (``streams.validation``).
    """

    def __init__(
        self,
        *,
        valid_out: EventProducer,
        dlq_out: EventProducer,
        writer: GraphWriter,
        seen: SeenEvents | None = None,
        max_future: timedelta = MAX_FUTURE,
        metrics: WorkerMetrics | None = None,
        max_backoff_s: float = 10.0,
        records: RecordStore | None = None,
        changes_out: EventProducer | None = None,
        telemetry_out: EventProducer | None = None,
    ) -> None:
        self.valid_out = valid_out
        self.telemetry_out = telemetry_out
        """Where the types the service job folds go (``streams.routing``); None: everything to
        ``events.valid``, as before ``events.telemetry`` existed."""
        self.changes_out = changes_out
        """Where the project stage publishes what each graph commit applied (None: nowhere)."""
        self.dlq_out = dlq_out
        self.writer = writer
        self.records = records
        """The record store the project stage writes each batch's records to (None: none)."""
        self.seen = seen
        """The dedup ledger; with it, each event id is forwarded to ``events.valid`` once."""
        self.max_future = max_future
        """How far an event's time may be ahead of the clock (further: dead-lettered, naming ``$.time``)."""
        self.metrics = metrics
        self._to_valid = Forwarder(valid_out, stage="validate", max_backoff_s=max_backoff_s)
        self._to_dlq = Forwarder(dlq_out, stage="validate", max_backoff_s=max_backoff_s)
        self._to_telemetry = (
            Forwarder(telemetry_out, stage="validate", max_backoff_s=max_backoff_s)
            if telemetry_out is not None
            else None
        )

    async def validate(self, batch: Sequence[Incoming]) -> tuple[int, int]:
        """Route valid events to ``events.valid`` and/or ``events.telemetry`` (``streams.routing``) and
        the rest to ``events.dlq``; return the counts.

        With a dedup ledger: a redelivered copy of a forwarded event is dropped (logged), an id reused
        for other content is dead-lettered, and ids are recorded only after Kafka acked the forward.
        """
        started = time.monotonic()
        routed = route(batch, max_future=self.max_future)
        duplicates = 0
        if self.seen is not None:
            verdict = await asyncio.to_thread(self.seen.check, routed.valid)
            duplicates = len(verdict.redelivered)
            if verdict.redelivered:
                log.info("validate: dropped %d redelivered duplicate(s)", len(verdict.redelivered))
            routed = Routed(valid=verdict.forward, rejected=[*routed.rejected, *verdict.reused])
        out = forwards(routed, stage="validate", telemetry=self._to_telemetry is not None)
        for _, err in routed.rejected:
            log.warning("rejected %s", err.describe())
        to_telemetry = self._to_telemetry
        refused_valid, refused_telemetry, _ = await asyncio.gather(
            self._to_valid.send([r for r, _ in out.valid]),
            to_telemetry.send([r for r, _ in out.telemetry]) if to_telemetry else _nothing_refused(),
            self._to_dlq.keep(out.dead),
        )
        refused = [*refused_valid, *refused_telemetry]
        forwarded = routed.valid
        failed: dict[int, tuple[tuple[Incoming, ValidEvent], str]] = {}
        if refused:
            # A topic will never take these as they are (e.g. larger than its max.message.bytes):
            # dead-lettered with Kafka's reason, and not recorded as forwarded.
            reasons = {id(r.record): r.reason for r in refused}
            for rec, pair in [*out.valid, *out.telemetry]:
                if id(rec) in reasons:
                    failed.setdefault(id(pair), (pair, reasons[id(rec)]))
            forwarded = [pair for pair in routed.valid if id(pair) not in failed]
            await self._to_dlq.keep(
                [dlq_record(m, refusal(ev, reason), stage="validate") for (m, ev), reason in failed.values()]
            )
        if self.seen is not None:
            await asyncio.to_thread(self.seen.record, forwarded)
        if self.metrics is not None:
            self.metrics.batch(
                "validate",
                size=len(batch),
                seconds=time.monotonic() - started,
                valid=len(forwarded),
                dlq=len(out.dead) + len(failed),
                duplicate=duplicates,
            )
        return len(forwarded), len(out.dead) + len(failed)

    def close(self) -> None:
        self.valid_out.close()
        self.dlq_out.close()
        if self.telemetry_out is not None:
            self.telemetry_out.close()
        if self.changes_out is not None:
            self.changes_out.close()
