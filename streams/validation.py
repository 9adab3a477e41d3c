"""The validate stage's consumer: batches of ``events.raw`` from librdkafka, committed only once forwarded.

The guarantee: the stage's committed input offsets never pass a record whose forward (to
``events.valid`` or ``events.dlq``) Kafka did not acknowledge, for an outage of any length. Kept by
three rules: a batch's offsets are committed (synchronously) only after ``Pipeline.validate`` returned,
and it returns only once Kafka acknowledged every forward (``streams.forwarding`` waits out an
outage, retrying); a batch whose handling fails for another reason is retried, never passed over; a
batch cut short (the worker stopping, killed, or losing the partition) is simply not committed, so it
is read again, by this worker or the partition's next owner. Retries and re-reads may forward an
event twice; the dedup ledger and the graph's last-writer-wins absorb that.

Why not a faust agent (it was one): faust's ``Stream.take_events`` acks a batch's events in a
``finally`` around the ``yield``, so when the agent body raises (a forward that timed out during a
broker outage: ``DeliveryFailed('Local: Message timed out')``) or is cancelled, the batch is acked
all the same, faust restarts the agent and commits past it once the broker is back. An outage of
25-34 s lost 500-1,031 events that way. Reading with ``confluent_kafka.Consumer.consume(n, timeout)``
puts the commit in this module's hands (and saves faust's per-event overhead, ≈ 45% of a worker's
CPU in the project stage, see ``streams.batches``). The worker stays a faust app; this is one of its
tasks.

Offsets live in the consumer group ``<app_id>-validate`` (``streams.batches.validate_group``). A
partition that group never committed starts where the faust agent's group (``<app_id>``) left it, so
an upgraded deployment does not validate its whole retained log again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from streams.batches import (
    ConsumerLost,
    group_conf,
    incoming,
    is_fatal,
    next_offsets,
    replacing_lost_consumers,
    validate_group,
)
from streams.group_offsets import GroupOffsets
from streams.pipeline import Pipeline
from streams.stages import Incoming

log = logging.getLogger(__name__)

_MEMBERSHIP_LOST = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.FENCED_INSTANCE_ID,
        KafkaError._NO_OFFSET,
    }
)
"""Commit errors after which the batch simply stays uncommitted (the partition's next reader reads it
again); every other commit error is retried for a while."""


def _log_retry(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        log.warning(
            "validate: %s failed (%r); attempt %d, next in %.1f s",
            what,
            err,
            state.attempt_number,
            state.upcoming_sleep,
        )

    return before_sleep


def _commit_retryable(e: BaseException) -> bool:
    if not isinstance(e, KafkaException):
        return False
    err = e.args[0]
    return err.code() not in _MEMBERSHIP_LOST and not is_fatal(err)


class BatchValidation:
    """Consumes ``topic`` in batches, validates and forwards each, then commits its offsets.

    One batch is forwarded while the next is read. ``run`` returns after ``stop`` once the batch in
    flight is committed; cancelling ``run`` leaves that batch uncommitted (read again later).
    """

    def __init__(
        self,
        *,
        conf: Mapping[str, Any],
        app_id: str,
        topic: str,
        pipeline: Callable[[], Pipeline],
        batch_size: int,
        batch_seconds: float,
        instance_id: str | None = None,
        session_timeout_s: float = 20.0,
    ) -> None:
        self.topic = topic
        self.pipeline = pipeline
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.app_id = app_id
        self._offsets_conf = dict(conf)
        self._conf = group_conf(
            conf,
            group=validate_group(app_id),
            instance_id=instance_id,
            session_timeout_s=session_timeout_s,
        )
        self._conf["enable.auto.commit"] = False  # committed here, after the forward, synchronously
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask ``run`` to finish: the batch in flight is forwarded and committed, then it returns."""
        self._stopping.set()

    def _legacy_offsets(self, partitions: list[TopicPartition]) -> dict[int, int]:
        """Offsets the faust agent's group (``app_id``) committed for ``partitions``: through a consumer
        handle of that group, never the admin client (librdkafka #5040, ``streams.group_offsets``: on a
        fresh broker the admin call killed the worker with SIGSEGV on its first assignment)."""
        reader = GroupOffsets(self._offsets_conf)
        try:
            got = reader.committed(
                self.app_id, [TopicPartition(self.topic, tp.partition) for tp in partitions], timeout_s=30
            )
        finally:
            reader.close()
        return {partition: offset for (_, partition), offset in got.items()}

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Runs in the consumer thread, inside ``consume``.
        try:
            committed = consumer.committed(partitions, timeout=30)
            fresh = [tp for tp in committed if tp.offset < 0]
            legacy = self._legacy_offsets(fresh) if fresh else {}
        except KafkaException as e:  # starting from the group's own offsets (or earliest) is safe
            log.info("validate: earlier offsets not looked up (%s)", e)
            legacy = {}
        for tp in partitions:
            if tp.partition in legacy:
                tp.offset = legacy[tp.partition]
                log.info(
                    "validate: %s[%d] starts at the faust group's offset %d",
                    tp.topic,
                    tp.partition,
                    tp.offset,
                )
        log.info("validate: partitions assigned: %s", sorted(tp.partition for tp in partitions))
        consumer.incremental_assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("validate: partitions revoked: %s", sorted(tp.partition for tp in partitions))
        consumer.incremental_unassign(partitions)

    async def _validate(self, batch: list[Incoming]) -> None:
        """Forward the batch; retried (for ever, loudly) on anything but an outage, which
        ``Pipeline.validate`` waits out itself. Never returns before the batch is forwarded."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(multiplier=1.0, max=30.0),
            before_sleep=_log_retry("forwarding a batch"),
        ):
            with attempt:
                ok, bad = await self.pipeline().validate(batch)
        log.info("validate: %d valid, %d to DLQ", ok, bad)

    async def _commit(self, consumer: Consumer, batch: Sequence[Incoming]) -> None:
        offsets = [TopicPartition(self.topic, p, o) for p, o in next_offsets(batch).items()]
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_commit_retryable),
                wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5),
                stop=stop_after_delay(60),
                before_sleep=_log_retry("committing offsets"),
                reraise=True,
            ):
                with attempt:
                    await asyncio.to_thread(consumer.commit, offsets=offsets, asynchronous=False)
        except KafkaException as e:
            # Not a loss: the batch was forwarded; uncommitted, it is read and forwarded again.
            log.info("validate: offsets %s not committed (%s); the batch will be read again", offsets, e)
            if is_fatal(e.args[0]):
                raise ConsumerLost(e.args[0].str()) from e

    def _batch(self, messages: list[Message]) -> list[Incoming]:
        batch: list[Incoming] = []
        for m in messages:
            err = m.error()
            if err is None:
                batch.append(incoming(m, typed=False))
            elif is_fatal(err):
                raise ConsumerLost(err.str())
            elif err.code() != KafkaError._PARTITION_EOF:
                log.info("validate: consumer: %s", err)
        return batch

    async def run(self) -> None:
        """Consume, forward and commit until ``stop``. A consumer that reached a fatal state is
        replaced; the new one resumes from the committed offsets."""
        self.pipeline()  # made on the event loop, before the first batch
        await replacing_lost_consumers("validate", self._stopping, self._consume)

    async def _consume(self) -> None:
        thread = ThreadPoolExecutor(1, thread_name_prefix="validate-consumer")
        consumer = Consumer(self._conf)
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

        def read() -> asyncio.Future[list[Message]]:
            return asyncio.wrap_future(thread.submit(consumer.consume, self.batch_size, self.batch_seconds))

        try:
            reading = read()
            while not self._stopping.is_set():
                batch = self._batch(await reading)
                if self._stopping.is_set():
                    break  # read, not forwarded: not committed, read again by the next owner
                reading = read()  # the next batch is read while this one is forwarded
                if batch:
                    await self._validate(batch)
                    await self._commit(consumer, batch)
        finally:
            await asyncio.wrap_future(thread.submit(consumer.close))  # after a consume in flight
            thread.shutdown()
