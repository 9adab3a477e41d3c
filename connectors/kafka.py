"""confluent-kafka producer and topic admin.

The producer is idempotent with ``acks=all`` and ``send_many`` returns only after the broker
acknowledged every record, so a caller may report "accepted" only for what Kafka actually keeps.

What Kafka did not acknowledge is told apart from what it refused (``deliver``): "Local: Message timed
out", a lost connection, a leader election or a producer in a fatal idempotence state all mean Kafka
was (or is) away, and sending the record again is right; only a record Kafka will never take as it is
(too large, invalid) is refused. A producer that reached a fatal state is replaced by a fresh one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions, NewTopic

from connectors.errors import DeliveryFailed, KafkaUnavailable

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]

RECORD_REFUSALS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
    }
)
"""Errors that concern the record itself: sending it again as it is can never succeed. Everything
else that is not an acknowledgement (time-outs, transport, leadership, unknown topic while metadata
recovers, authorization, a fatal producer) is Kafka not keeping it *now*."""


def refuses_record(err: KafkaError) -> bool:
    """Whether ``err`` refuses this record for good (rather than Kafka being unavailable)."""
    return err.code() in RECORD_REFUSALS


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Delivered:
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Refused:
    """A record Kafka will never keep as it is, and why."""

    record: Record
    reason: str


@dataclass
class DeliveryReport:
    """What became of each record of a ``deliver`` call, in input order within each list."""

    delivered: list[Delivered] = field(default_factory=list)
    unacknowledged: list[Record] = field(default_factory=list)
    """Not acknowledged (Kafka unavailable): may or may not have been kept; safe to send again."""
    refused: list[Refused] = field(default_factory=list)
    first_error: str = ""

    def note(self, err: str) -> None:
        if not self.first_error:
            self.first_error = err


class EventProducer:
    """Sends records to one topic and waits for the broker's acknowledgement.

    Thread-safe. Close it with ``close()`` (flushes what is in flight).
    """

    def __init__(
        self, conf: Mapping[str, str | int | float | bool], topic: str, *, timeout_s: float = 15.0
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._conf = {
            **conf,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.timeout.ms": int(timeout_s * 1000),
        }
        self._lock = threading.Lock()
        self._producer = Producer(self._conf)

    def _renew(self, broken: Producer) -> None:
        """Replace a producer in a fatal state (idempotence can no longer be guaranteed by it)."""
        with self._lock:
            if self._producer is broken:
                log.warning("Kafka producer of %s reached a fatal state; replaced by a new one", self.topic)
                self._producer = Producer(self._conf)

    def deliver(self, records: Iterable[Record]) -> DeliveryReport:
        """Produce records in order and wait for every one's outcome; never raises for Kafka's answers.

        Waits at most ``timeout_s`` + 2 s (librdkafka reports each record by ``message.timeout.ms``).
        """
        producer = self._producer
        results: list[Delivered | KafkaError | None] = []
        sent: list[Record] = []

        def report(idx: int) -> Callable[[KafkaError | None, Message], None]:
            def cb(err: KafkaError | None, msg: Message) -> None:
                results[idx] = err if err is not None else Delivered(msg.partition() or 0, msg.offset() or 0)

            return cb

        for rec in records:
            results.append(None)
            sent.append(rec)
            while True:
                try:
                    producer.produce(
                        self.topic,
                        value=rec.value,
                        key=rec.key,
                        headers=list(rec.headers) or None,
                        on_delivery=report(len(results) - 1),
                    )
                    break
                except BufferError:
                    producer.poll(0.05)  # local queue full: serve callbacks, then retry
                except KafkaException as e:
                    results[-1] = e.args[0]
                    break
        out = DeliveryReport()
        if not sent:
            return out
        # flush() serves every delivery callback; what it leaves in flight was not acknowledged.
        producer.flush(self.timeout_s + 2.0)
        fatal = False
        for rec, r in zip(sent, results, strict=True):
            if isinstance(r, Delivered):
                out.delivered.append(r)
            elif r is None:
                out.unacknowledged.append(rec)
                out.note(f"no acknowledgement within {self.timeout_s:g}s")
            elif refuses_record(r):
                out.refused.append(Refused(rec, r.str()))
                out.note(r.str())
            else:
                fatal = fatal or r.fatal() or r.code() == KafkaError._FATAL
                out.unacknowledged.append(rec)
                out.note(r.str())
        if fatal:
            self._renew(producer)
        return out

    def send_many(self, records: Iterable[Record]) -> list[Delivered]:
        """Produce records in order; return their partitions/offsets once all are acknowledged.

        Raises ``DeliveryFailed`` when Kafka refused a record for good, else ``KafkaUnavailable`` when
        it did not acknowledge every record (nothing may be assumed kept; sending again is safe).
        """
        report = self.deliver(records)
        if report.refused:
            raise DeliveryFailed(f"Kafka refused the record: {report.refused[0].reason}")
        if report.unacknowledged:
            raise KafkaUnavailable(
                f"Kafka did not acknowledge {len(report.unacknowledged)} record(s): {report.first_error}"
            )
        return report.delivered

    def send(self, record: Record) -> Delivered:
        return self.send_many([record])[0]

    def close(self) -> None:
        self._producer.flush(self.timeout_s)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    config: Mapping[str, str] | None = None


def ensure_topics(
    conf: Mapping[str, str | int | float | bool], topics: Sequence[TopicSpec], *, timeout_s: float = 30
) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent.

    An existing topic with fewer partitions than asked is grown (Kafka cannot shrink one).
    """
    admin = AdminClient({k: v for k, v in conf.items()})
    existing = admin.list_topics(timeout=timeout_s).topics
    new = [
        NewTopic(
            t.name,
            num_partitions=t.partitions,
            replication_factor=t.replication_factor,
            config=dict(t.config or {}),
        )
        for t in topics
        if t.name not in existing
    ]
    created: list[str] = []
    if new:
        for name, fut in admin.create_topics(new, operation_timeout=timeout_s).items():
            try:
                fut.result(timeout_s)
                created.append(name)
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    grow = [
        NewPartitions(t.name, t.partitions)
        for t in topics
        if t.name in existing and len(existing[t.name].partitions) < t.partitions
    ]
    if grow:
        for fut in admin.create_partitions(grow, operation_timeout=timeout_s).values():
            fut.result(timeout_s)
    return created


def topic_ends(
    conf: Mapping[str, str | int | float | bool], topic: str, *, timeout_s: float = 30
) -> dict[int, int]:
    """The next offset of each of ``topic``'s partitions (its high watermark)."""
    consumer = Consumer({**conf, "group.id": "supplynet-topic-ends", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        return {
            p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1])
            for p in sorted(partitions)
        }
    finally:
        consumer.close()
