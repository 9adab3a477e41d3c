"""The project stage's consumer: whole batches of ``events.valid`` from librdkafka, not one event at a time.

Why not a faust agent: profiled under full load (py-spy, 300k events), faust's per-event machinery
(fetcher drain, one ``Event`` per message, stream iteration with a task per ``wait_first``) took
about 45% of the worker's main thread, ≈ 135 µs per event, more than decoding, mapping and the
Neo4j client together. ``confluent_kafka.Consumer.consume(n, timeout)`` hands over a size- and
time-bounded batch in one C call, in a thread (the GIL is released while it waits). The worker
stays a faust app: the validate agent, the retention timer, the risk agent and the web endpoint are
faust's; this loop runs as one of its tasks and stops with it.

Exactly once stays where it was: the graph. Each batch's offsets commit in the batch's Neo4j
transaction (``Projector.commit``); when partitions are assigned, each starts at the offset stored
in the graph (``on_assign``). Kafka's own committed offsets (consumer group ``<app_id>-project``)
follow behind, for lag monitoring and as the start of a partition the graph has not seen yet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from streams.metrics import WorkerMetrics
from streams.projection import Projected, Projector
from streams.stages import Incoming, event_type

log = logging.getLogger(__name__)


def kafka_group(app_id: str) -> str:
    """The Kafka consumer group of the project stage (faust's own group uses a different protocol)."""
    return f"{app_id}-project"


def validate_group(app_id: str) -> str:
    """The Kafka consumer group of the validate stage."""
    return f"{app_id}-validate"


class ConsumerLost(Exception):
    """The consumer reached a fatal state; a new one takes over from the committed offsets.

    Seen after a broker outage with static membership: the consumer rejoins under its instance id,
    the coordinator gives it a new member id and fences the old one, and a commit still in flight
    under the old id turns fatal ("Static consumer fenced by other consumer with same
    group.instance.id"). Nothing is lost: what was not committed is read again.
    """


def is_fatal(err: KafkaError) -> bool:
    """Whether a consumer error leaves the consumer unusable (it must be replaced)."""
    return bool(err.fatal()) or err.code() in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID)


async def replacing_lost_consumers(
    stage: str, stopping: asyncio.Event, run: Callable[[], Awaitable[None]]
) -> None:
    """Run ``run`` (one consumer's lifetime) until ``stopping``; start it again after ``ConsumerLost``."""
    lost = 0
    while not stopping.is_set():
        try:
            await run()
            return
        except ConsumerLost as e:
            lost += 1
            wait = min(30.0, 2.0**lost)
            log.warning(
                "%s: consumer lost (%s); a new one resumes from the committed offsets in %.0f s "
                "(if this repeats: is another live worker using the same stream.instance_id?)",
                stage,
                e,
                wait,
            )
            await asyncio.sleep(wait)


def group_conf(
    conf: Mapping[str, Any], *, group: str, instance_id: str | None, session_timeout_s: float
) -> dict[str, Any]:
    """librdkafka settings of a stage's consumer in ``group``.

    With ``instance_id``, the consumer is a static member (KIP-345): a worker restarted with the same
    id (after a crash, a SIGKILL, a deploy) takes its partitions back at once, with no rebalance and
    no wait for the dead member's session to expire. The price: a static member that stops for good
    keeps its partitions until ``session_timeout_s`` has passed (close() does not leave the group).
    """
    out: dict[str, Any] = {
        **conf,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": int(session_timeout_s * 1000),
        # Prefetch a few batches, not librdkafka's default 64 MiB per partition (worker memory).
        "queued.max.messages.kbytes": 16_384,
    }
    if instance_id:
        out["group.instance.id"] = instance_id
    return out


def next_offsets(batch: Sequence[Incoming]) -> dict[int, int]:
    """partition -> the offset after the batch's last record of it (what a commit stores)."""
    top: dict[int, int] = {}
    for m in batch:
        top[m.partition] = max(top.get(m.partition, 0), m.offset + 1)
    return top


def incoming(m: Message, *, typed: bool = True) -> Incoming:
    """``typed``: read the validate stage's ``supplynet.event.type`` header (the project stage); the
    validate stage itself passes ``False``: on ``events.raw`` that header is the sender's, never read."""
    return Incoming(
        topic=m.topic() or "",
        partition=m.partition() or 0,
        offset=m.offset() or 0,
        key=m.key(),
        value=m.value() or b"",
        event_type=event_type(m) if typed else None,
    )


class BatchProjection:
    """Consumes ``topic`` in batches and hands them to the projector, two batches in flight.

    Batch N+1 is read and mapped while Neo4j writes batch N; commits stay in order, one at a time.
    ``run`` returns after ``stop``: the batch in flight is committed, then the consumer closes (a
    dynamic member leaves its group at once; a static one, see ``group_conf``, keeps its partitions
    for the session timeout, for a restart with its id to take them straight back).
    """

    def __init__(
        self,
        *,
        conf: Mapping[str, Any],
        app_id: str,
        topic: str,
        projector: Callable[[], Projector],
        batch_size: int,
        batch_seconds: float,
        metrics: WorkerMetrics | None = None,
        instance_id: str | None = None,
        session_timeout_s: float = 20.0,
    ) -> None:
        self.topic = topic
        self.metrics = metrics
        self.projector = projector
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self._conf = group_conf(
            conf, group=kafka_group(app_id), instance_id=instance_id, session_timeout_s=session_timeout_s
        )
        # Offsets are stored only once the graph holds the batch; librdkafka commits them.
        self._conf["enable.auto.commit"] = True
        self._conf["enable.auto.offset.store"] = False
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_batch = float("-inf")

    def busy(self, *, within: float) -> bool:
        """Whether a batch arrived in the last ``within`` seconds (the stage is not idle)."""
        return time.monotonic() - self._last_batch < within

    def stop(self) -> None:
        """Ask ``run`` to finish: it commits the batch in flight, then closes the consumer."""
        self._stopping.set()

    async def _graph_offsets(self) -> dict[int, int]:
        return await self.projector().stored_offsets(self.topic)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Runs in the consumer thread (inside ``consume``), while the event loop is free: the
        # graph's offsets are read through the loop, where the Neo4j driver lives.
        assert self._loop is not None
        stored = asyncio.run_coroutine_threadsafe(self._graph_offsets(), self._loop).result(timeout=120)
        for tp in partitions:
            offset = stored.get(tp.partition)
            if offset is not None:
                tp.offset = offset
                log.info("project: %s[%d] starts at graph offset %d", tp.topic, tp.partition, offset)
        log.info("project: partitions assigned: %s", sorted(tp.partition for tp in partitions))
        consumer.incremental_assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("project: partitions revoked: %s", sorted(tp.partition for tp in partitions))
        consumer.incremental_unassign(partitions)

    def _store(self, consumer: Consumer, done: Projected, batch: list[Incoming], started: float) -> None:
        """Let Kafka's committed offsets follow the graph (lag monitoring; never the source of truth)."""
        top = next_offsets(batch)
        try:
            consumer.store_offsets(offsets=[TopicPartition(self.topic, p, o) for p, o in top.items()])
        except KafkaException as e:  # a partition revoked meanwhile: the graph holds the truth anyway
            log.debug("project: offsets not stored in Kafka (%s)", e)
        log.info("project: %d events applied, %d to DLQ", done.applied, done.dead_lettered)
        if self.metrics is not None:
            self.metrics.batch(
                "project",
                size=len(batch),
                seconds=time.monotonic() - started,
                applied=done.applied,
                dlq=done.dead_lettered,
            )

    async def run(self) -> None:
        """Consume and project until ``stop``; re-raises what the projector cannot handle.

        A consumer that reached a fatal state is replaced; the new one starts at the graph's offsets.
        """
        self._loop = asyncio.get_running_loop()
        self.projector()  # made here, on the event loop (the assign callback runs in a thread)
        await replacing_lost_consumers("project", self._stopping, self._consume)

    async def _consume(self) -> None:
        # One thread owns every call into the consumer, so ``close`` waits for a ``consume`` in flight.
        thread = ThreadPoolExecutor(1, thread_name_prefix="project-consumer")
        consumer = Consumer(self._conf)
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        writing: asyncio.Task[Projected] | None = None
        in_flight: list[Incoming] = []
        in_flight_started = 0.0
        try:
            while not self._stopping.is_set():
                messages = await asyncio.wrap_future(
                    thread.submit(consumer.consume, self.batch_size, self.batch_seconds)
                )
                batch: list[Incoming] = []
                for m in messages:
                    err = m.error()
                    if err is None:
                        batch.append(incoming(m))
                    elif is_fatal(err):
                        raise ConsumerLost(err.str())
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("project: consumer error: %s", err)
                if batch:
                    self._last_batch = started = time.monotonic()
                if not batch and writing is None:
                    await self.projector().idle()
                prepared = await self.projector().prepare(batch) if batch else None
                if writing is not None and (prepared is not None or writing.done()):
                    self._store(consumer, await writing, in_flight, in_flight_started)
                    writing = None
                if prepared is not None:
                    writing = asyncio.ensure_future(self.projector().commit(prepared))
                    in_flight, in_flight_started = batch, started
        finally:
            try:
                if writing is not None:
                    self._store(consumer, await writing, in_flight, in_flight_started)
            finally:
                thread.submit(consumer.close).result(timeout=60)
                thread.shutdown()
