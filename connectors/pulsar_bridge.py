"""Bridges between a Pulsar enterprise bus and Kafka, both at-least-once.

``PulsarToKafka`` forwards every message of a Pulsar topic to ``events.raw`` as is, and acknowledges
the Pulsar messages only after Kafka acknowledged the batch: a crash at any point loses nothing, and
the redelivered copies are dropped downstream by the validate stage's dedup (same id, same bytes).
It does not validate: validation and the DLQ are the stream's job, so every way in shares one path and
one set of reasons.

``AlertsToPulsar`` mirrors a Kafka topic (``risk.alerts``) out to Pulsar and commits the Kafka offsets
only after Pulsar acknowledged every send of the batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, cast

import msgspec
import pulsar
from confluent_kafka import Consumer, TopicPartition

from connectors.errors import ConnectorError
from connectors.kafka import EventProducer, Record

log = logging.getLogger(__name__)


class _Subject(msgspec.Struct):
    subject: str | None = None


_subject = msgspec.json.Decoder(_Subject)


def kafka_key(value: bytes, pulsar_key: str | None) -> bytes | None:
    """The Kafka key of a forwarded event: its ``subject`` when readable, else the Pulsar key.

    Never raises: unreadable events are forwarded too (the validate stage dead-letters them).
    """
    try:
        subject = _subject.decode(value).subject
    except (msgspec.DecodeError, msgspec.ValidationError):
        subject = None
    if subject:
        return subject.encode()
    return pulsar_key.encode() if pulsar_key else None


def forward_record(msg: Any) -> Record:
    """A Pulsar message as the ``events.raw`` record: original bytes, where it came from in headers."""
    return Record(
        key=kafka_key(msg.data(), msg.partition_key() or None),
        value=msg.data(),
        headers=[
            ("supplynet.pulsar.topic", msg.topic_name().encode()),
            ("supplynet.pulsar.message-id", str(msg.message_id()).encode()),
        ],
    )


class PulsarToKafka:
    """Consumes a Pulsar topic (failover subscription, from the earliest message) into a Kafka topic."""

    def __init__(
        self,
        client: pulsar.Client,
        *,
        topic: str,
        subscription: str,
        producer: EventProducer,
        batch_max: int = 500,
        batch_wait_ms: int = 200,
    ) -> None:
        self.producer = producer
        self.consumer = client.subscribe(
            topic,
            subscription,
            consumer_type=pulsar.ConsumerType.Failover,
            initial_position=pulsar.InitialPosition.Earliest,
            batch_receive_policy=pulsar.ConsumerBatchReceivePolicy(
                batch_max, 64 * 1024 * 1024, batch_wait_ms
            ),
            negative_ack_redelivery_delay_ms=2000,
        )
        self.forwarded = 0

    def forward_batch(self) -> int:
        """Receive up to one batch, send it to Kafka, then ack it in Pulsar; return how many.

        If Kafka does not acknowledge, the batch is negatively acknowledged (Pulsar redelivers it)
        and the error is raised.
        """
        messages: Sequence[Any] = self.consumer.batch_receive()
        if not messages:
            return 0
        try:
            self.producer.send_many([forward_record(m) for m in messages])
        except Exception:
            for m in messages:
                self.consumer.negative_acknowledge(m)
            raise
        for m in messages:
            self.consumer.acknowledge(m)
        self.forwarded += len(messages)
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        """Forward until ``stop`` is set; a Kafka outage is logged and retried, never skipped."""
        while not stop.is_set():
            try:
                n = self.forward_batch()
                if n:
                    log.info("pulsar bridge: forwarded %d event(s)", n)
            except ConnectorError as e:
                log.warning("pulsar bridge: Kafka did not take the batch (%s); Pulsar will redeliver", e)
                stop.wait(1.0)

    def close(self) -> None:
        self.consumer.close()


class AlertsToPulsar:
    """Mirrors a Kafka topic to a Pulsar topic; Kafka offsets are committed after Pulsar acked."""

    def __init__(
        self,
        consumer: Consumer,
        producer: pulsar.Producer,
        *,
        kafka_topic: str,
        batch_max: int = 500,
        batch_wait_s: float = 0.5,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.kafka_topic = kafka_topic
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.mirrored = 0
        consumer.subscribe([kafka_topic])

    def mirror_batch(self) -> int:
        """Mirror up to one batch; commit its offsets only after every send was acknowledged.

        On a failed send the consumer is rewound to the batch's first offsets and the error raised.
        """
        msgs = [m for m in self.consumer.consume(self.batch_max, self.batch_wait_s) if not m.error()]
        if not msgs:
            return 0
        results: list[pulsar.Result | None] = [None] * len(msgs)

        def done(i: int) -> Any:
            def cb(res: pulsar.Result, _msg_id: Any) -> None:
                results[i] = res

            return cb

        for i, m in enumerate(msgs):
            raw_key = m.key()
            key = raw_key.decode("utf-8", "replace") if isinstance(raw_key, bytes) else raw_key
            self.producer.send_async(
                m.value() or b"",
                done(i),
                properties={
                    k: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                    for k, v in cast(list[tuple[str, Any]], m.headers() or [])
                },
                partition_key=key or None,
            )
        self.producer.flush()
        failed = [r for r in results if r != pulsar.Result.Ok]
        if failed:
            first: dict[int, int] = {}
            for m in msgs:
                first.setdefault(m.partition() or 0, m.offset() or 0)
            for p, o in first.items():
                self.consumer.seek(TopicPartition(self.kafka_topic, p, o))
            raise ConnectorError(f"Pulsar did not acknowledge {len(failed)} alert(s): {failed[0]}")
        last: dict[int, int] = {}
        for m in msgs:
            last[m.partition() or 0] = m.offset() or 0
        self.consumer.commit(
            offsets=[TopicPartition(self.kafka_topic, p, o + 1) for p, o in last.items()], asynchronous=False
        )
        self.mirrored += len(msgs)
        return len(msgs)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.mirror_batch()
            except (ConnectorError, pulsar.PulsarException) as e:
                log.warning("alerts mirror: %s; retrying", e)
                stop.wait(1.0)

    def close(self) -> None:
        self.producer.flush()
        self.consumer.close()
