"""confluent-kafka producer and topic admin.

The producer is idempotent with ``acks=all`` and ``send_many`` returns only after the broker
acknowledged every record, so a caller may report "accepted" only for what Kafka actually keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions, NewTopic

from connectors.errors import DeliveryFailed, KafkaUnavailable

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Delivered:
    partition: int
    offset: int


class EventProducer:
    """Sends records to one topic and waits for the broker's acknowledgement.

    Thread-safe. Close it with ``close()`` (flushes what is in flight).
    """

    def __init__(
        self, conf: Mapping[str, str | int | float | bool], topic: str, *, timeout_s: float = 15.0
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = Producer(
            {
                **conf,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                "message.timeout.ms": int(timeout_s * 1000),
            }
        )

    def send_many(self, records: Iterable[Record]) -> list[Delivered]:
        """Produce records in order; return their partitions/offsets once all are acknowledged.

        Raises ``KafkaUnavailable`` when the broker did not acknowledge in time (nothing may be assumed
        kept), ``DeliveryFailed`` when it refused a record.
        """
        results: list[Delivered | KafkaError | None] = []

        def report(idx: int) -> Callable[[KafkaError | None, Message], None]:
            def cb(err: KafkaError | None, msg: Message) -> None:
                results[idx] = err if err is not None else Delivered(msg.partition() or 0, msg.offset() or 0)

            return cb

        for rec in records:
            results.append(None)
            while True:
                try:
                    self._producer.produce(
                        self.topic,
                        value=rec.value,
                        key=rec.key,
                        headers=list(rec.headers) or None,
                        on_delivery=report(len(results) - 1),
                    )
                    break
                except BufferError:
                    self._producer.poll(0.05)  # local queue full: serve callbacks, then retry
                except KafkaException as e:
                    raise DeliveryFailed(str(e)) from e
        if not results:
            return []
        # flush() serves every delivery callback; what it leaves in flight was not acknowledged.
        remaining = self._producer.flush(self.timeout_s)
        if remaining:
            raise KafkaUnavailable(
                f"Kafka did not acknowledge {remaining} record(s) within {self.timeout_s}s"
            )
        out: list[Delivered] = []
        for r in results:
            if isinstance(r, Delivered):
                out.append(r)
                continue
            if r is not None and r.retriable():
                raise KafkaUnavailable(f"Kafka did not keep the record: {r.str()}")
            raise DeliveryFailed(f"Kafka refused the record: {r.str() if r is not None else 'no report'}")
        return out

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
