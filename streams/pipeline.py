"""What the agents do with a batch: validate and route, or project into the graph.

Kept apart from the faust app so it can be driven by tests and benchmarks without faust.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from connectors.kafka import EventProducer, Record
from graph.writer import GraphWriter
from schema.validate import MAX_FUTURE
from streams.dedup import SeenEvents
from streams.metrics import WorkerMetrics
from streams.stages import Incoming, Routed, route, split_records

log = logging.getLogger(__name__)


class Pipeline:
    """The validate stage over injected adapters, and the writer the projector (``streams.projection``) uses.

    At-least-once: ``validate`` returns only after everything it produced was acknowledged by Kafka,
    and only then does the caller ack the input offsets.
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
    ) -> None:
        self.valid_out = valid_out
        self.dlq_out = dlq_out
        self.writer = writer
        self.seen = seen
        """The dedup ledger; with it, each event id is forwarded to ``events.valid`` once."""
        self.max_future = max_future
        self.metrics = metrics
        """How far an event's time may be ahead of the clock (further: dead-lettered, naming ``$.time``)."""

    async def _send(self, producer: EventProducer, records: Sequence[Record]) -> None:
        if records:
            # confluent-kafka's flush blocks; run it off the event loop.
            await asyncio.to_thread(producer.send_many, records)

    async def validate(self, batch: Sequence[Incoming]) -> tuple[int, int]:
        """Route valid events to ``events.valid`` and the rest to ``events.dlq``; return the counts.

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
        valid, dead = split_records(routed, stage="validate")
        for _, err in routed.rejected:
            log.warning("rejected %s", err.describe())
        await asyncio.gather(self._send(self.valid_out, valid), self._send(self.dlq_out, dead))
        if self.seen is not None:
            await asyncio.to_thread(self.seen.record, routed.valid)
        if self.metrics is not None:
            self.metrics.batch(
                "validate",
                size=len(batch),
                seconds=time.monotonic() - started,
                valid=len(valid),
                dlq=len(dead),
                duplicate=duplicates,
            )
        return len(valid), len(dead)

    def close(self) -> None:
        self.valid_out.close()
        self.dlq_out.close()
