"""The forward policy of the stages: what Kafka did not acknowledge is sent again until it is, whatever
the outage; only a record refused for good comes back to the caller; nothing is dropped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import pytest
from confluent_kafka import KafkaError

from connectors.errors import DeliveryFailed, KafkaUnavailable
from connectors.kafka import Delivered, DeliveryReport, EventProducer, Record, Refused, refuses_record
from schema.examples import example_event
from streams.forwarding import Forwarder
from streams.pipeline import Pipeline
from streams.stages import Incoming


class FlakyKafka:
    """A producer that leaves everything unacknowledged for ``outage`` attempts, then keeps it; it
    refuses for good the values in ``refuse``."""

    def __init__(self, outage: int = 0, refuse: Iterable[bytes] = (), topic: str = "events.valid") -> None:
        self.topic = topic
        self.outage = outage
        self.refuse = set(refuse)
        self.attempts: list[list[bytes]] = []
        self.kept: list[bytes] = []

    def deliver(self, records: Iterable[Record]) -> DeliveryReport:
        batch = list(records)
        self.attempts.append([r.value for r in batch])
        out = DeliveryReport()
        for r in batch:
            if r.value in self.refuse:
                out.refused.append(Refused(r, "Broker: Message size too large"))
            elif len(self.attempts) <= self.outage:
                out.unacknowledged.append(r)
                out.note("Local: Message timed out")
            else:
                self.kept.append(r.value)
                out.delivered.append(Delivered(0, len(self.kept)))
        return out

    def close(self) -> None:
        pass


def forwarder(kafka: FlakyKafka) -> Forwarder:
    return Forwarder(kafka, stage="test", max_backoff_s=0.01)  # type: ignore[arg-type]


async def test_records_kafka_did_not_acknowledge_are_sent_again_until_it_does() -> None:
    kafka = FlakyKafka(outage=4)
    records = [Record(b"k", b"a"), Record(b"k", b"b")]

    refused = await forwarder(kafka).send(records)

    assert refused == []
    assert kafka.kept == [b"a", b"b"]
    assert len(kafka.attempts) == 5


async def test_only_what_was_not_acknowledged_is_sent_again_and_a_refusal_comes_back() -> None:
    kafka = FlakyKafka(outage=1, refuse=[b"huge"])
    refused = await forwarder(kafka).send([Record(b"k", b"a"), Record(b"k", b"huge")])

    assert [r.record.value for r in refused] == [b"huge"]
    assert kafka.attempts == [[b"a", b"huge"], [b"a"]]
    assert kafka.kept == [b"a"]


def test_a_timed_out_or_fatal_delivery_is_an_outage_and_only_a_record_level_error_a_refusal() -> None:
    for outage in (
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._FATAL,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    ):
        assert not refuses_record(KafkaError(outage)), outage
    for refusal in (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD):
        assert refuses_record(KafkaError(refusal)), refusal


class Writer:
    driver: Any = None


def _event(n: int) -> bytes:
    return msgspec.json.encode(example_event("inventory.reported", event_id=f"fw-{n}"))


async def test_validate_waits_out_an_outage_and_dead_letters_what_events_valid_refuses() -> None:
    valid_out, dlq_out = FlakyKafka(outage=3), FlakyKafka(topic="events.dlq")
    big = _event(2)
    valid_out.refuse = {big}
    pipeline = Pipeline(
        valid_out=valid_out,  # type: ignore[arg-type]
        dlq_out=dlq_out,  # type: ignore[arg-type]
        writer=Writer(),  # type: ignore[arg-type]
        max_backoff_s=0.01,
    )
    batch = [Incoming("events.raw", 0, i, b"k", v) for i, v in enumerate([_event(1), big, b"not json"])]

    ok, dead = await pipeline.validate(batch)

    assert (ok, dead) == (1, 2)
    assert valid_out.kept == [_event(1)]
    assert sorted(dlq_out.kept, key=len) == sorted([b"not json", big], key=len)


def test_send_many_tells_an_outage_from_a_refusal() -> None:
    producer = EventProducer({"bootstrap.servers": "127.0.0.1:1"}, "events.raw")  # never connects here
    producer.deliver = FlakyKafka(outage=1, refuse=[b"huge"]).deliver  # type: ignore[method-assign]
    with pytest.raises(KafkaUnavailable, match="Message timed out"):
        producer.send_many([Record(b"k", b"a")])
    with pytest.raises(DeliveryFailed, match="too large"):
        producer.send_many([Record(b"k", b"huge")])
    assert producer.send_many([Record(b"k", b"a")]) == [Delivered(0, 1)]
