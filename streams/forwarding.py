"""Forwarding a stage's output until Kafka acknowledged it, however long Kafka is away.

A stage commits its input offsets only after its output was acknowledged, so the forward must not give
up: ``Forwarder.send`` retries what Kafka did not acknowledge with capped exponential back-off
(tenacity), for ever, and returns only the records Kafka refused for good (for the caller to
dead-letter). Cancelling it (the worker stopping) leaves the input uncommitted: it is read again.
Records are sent again after an unclear outcome, so the output may hold duplicates; downstream
stages are idempotent (dedup ledger, last-writer-wins in the graph). Loss is what this prevents.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from connectors.errors import KafkaUnavailable
from connectors.kafka import EventProducer, Record, Refused

log = logging.getLogger(__name__)


class Forwarder:
    """Sends records to one producer's topic until every one is acknowledged or refused for good."""

    def __init__(self, producer: EventProducer, *, stage: str, max_backoff_s: float = 10.0) -> None:
        self.producer = producer
        self.stage = stage
        self.max_backoff_s = max_backoff_s

    def _warn(self, state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: Kafka is unavailable (%s); attempt %d, next in %.1f s; input held until acknowledged",
            self.stage,
            err,
            state.attempt_number,
            state.upcoming_sleep,
        )

    async def send(self, records: Sequence[Record]) -> list[Refused]:
        """Return once every record is acknowledged by Kafka, except those returned (refused for good).

        Never raises for an outage of any length; ``asyncio.CancelledError`` passes through.
        """
        pending = list(records)
        refused: list[Refused] = []
        if not pending:
            return refused
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(KafkaUnavailable),
            wait=wait_exponential_jitter(
                multiplier=0.5, max=self.max_backoff_s, jitter=self.max_backoff_s / 10
            ),
            before_sleep=self._warn,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                report = await asyncio.to_thread(self.producer.deliver, pending)
                refused += report.refused
                if report.unacknowledged:
                    pending = report.unacknowledged
                    raise KafkaUnavailable(
                        f"{len(pending)} record(s) to {self.producer.topic} not acknowledged: "
                        f"{report.first_error}"
                    )
        if retrying.statistics.get("attempt_number", 1) > 1:
            log.info("%s: Kafka is back; %d record(s) forwarded", self.stage, len(records))
        return refused

    async def keep(self, records: Sequence[Record], *, refused_retry_s: float = 30.0) -> None:
        """Return once every record is acknowledged, refused ones included: for a topic with nowhere
        else to go (the DLQ), a refused record stalls the stage, with an error logged every
        ``refused_retry_s``, until an operator lets the topic take it. Nothing is dropped."""
        pending = list(records)
        while pending:
            refused = await self.send(pending)
            for r in refused:
                log.error(
                    "%s: %s refused a record (%s); stage stalled, retrying in %.0f s",
                    self.stage,
                    self.producer.topic,
                    r.reason,
                    refused_retry_s,
                )
            pending = [r.record for r in refused]
            if pending:
                await asyncio.sleep(refused_retry_s)
