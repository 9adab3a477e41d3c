"""The HTTP ingest core without HTTP or Kafka: splitting, per-event outcomes, the token bucket, the pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import pytest

from connectors.errors import KafkaUnavailable
from connectors.http_ingest import (
    BodyUnreadable,
    IngestUnavailable,
    Outcome,
    ProducerPool,
    TokenBucket,
    UnsupportedMediaType,
    check_events,
    ingest,
    split_body,
)
from connectors.kafka import Record
from schema.examples import example_event
from schema.tables import Role


@dataclass(frozen=True)
class Caller:
    role: Role
    source: str | None = None


ERP = Caller(Role.ERP, "sap-ecc/wisco")


class RecordingProducer:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Record] = []
        self.fail = fail
        self.closed = False

    def send_many(self, records: Sequence[Record]) -> object:
        if self.fail:
            raise KafkaUnavailable("Kafka did not acknowledge 1 record(s) within 2s")
        self.sent.extend(records)
        return None

    def close(self) -> None:
        self.closed = True


def ev(n: int, **changes: object) -> bytes:
    e = example_event("inventory.reported", event_id=f"e{n}")
    e.update(changes)
    return msgspec.json.encode(e)


def test_split_body_reads_ndjson_lines_and_json_arrays_alike() -> None:
    events = [ev(1), ev(2)]
    assert split_body(b"\n".join(events) + b"\n\n", "application/x-ndjson") == events
    assert split_body(b"[" + b",".join(events) + b"]", "application/json; charset=utf-8") == events


@pytest.mark.parametrize("body", [b"{}", b"[1,", b"not json"])
def test_a_json_body_that_is_not_an_array_is_unreadable(body: bytes) -> None:
    with pytest.raises(BodyUnreadable):
        split_body(body, "application/json")


def test_other_media_types_are_refused() -> None:
    with pytest.raises(UnsupportedMediaType, match="text/csv"):
        split_body(b"a,b", "text/csv")


def test_every_event_gets_an_outcome_and_only_accepted_ones_become_records() -> None:
    events = [ev(1), ev(2, source="kingdee/dongfeng"), ev(1), b"\xff", ev(3, subject="other")]
    records, report = check_events(events, ERP)
    assert [(r.index, r.id, r.status) for r in report.events] == [
        (0, "e1", Outcome.ACCEPTED),
        (1, "e2", Outcome.REJECTED),
        (2, "e1", Outcome.REJECTED),
        (3, None, Outcome.REJECTED),
        (4, "e3", Outcome.REJECTED),
    ]
    assert (report.accepted, report.rejected) == (1, 4)
    assert [r.value for r in records] == [events[0]]
    assert records[0].key == msgspec.json.decode(events[0])["subject"].encode()
    assert [e.errors[0].error_class for e in report.events[1:]] == [
        "source",
        "duplicate",
        "encoding",
        "contract",
    ]
    assert "kingdee/dongfeng" in report.events[1].errors[0].reason
    assert "sap-ecc/wisco" in report.events[1].errors[0].reason
    assert report.events[4].errors[0].field == "$.subject"


def test_an_admin_may_send_any_source() -> None:
    _, report = check_events([ev(1, source="kingdee/dongfeng")], Caller(Role.ADMIN))
    assert report.accepted == 1


def test_nothing_is_reported_accepted_when_kafka_does_not_acknowledge() -> None:
    with pytest.raises(IngestUnavailable, match="none was accepted"):
        ingest(ev(1), "application/x-ndjson", ERP, RecordingProducer(fail=True))


def test_ingest_sends_the_accepted_events_as_sent() -> None:
    producer = RecordingProducer()
    report = ingest(b"\n".join([ev(1), ev(2, source="x")]), "application/x-ndjson", ERP, producer)
    assert report.accepted == 1
    assert [r.value for r in producer.sent] == [ev(1)]


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("k") == pytest.approx(0.5)
    assert bucket.take("other") == 0.0
    now[0] = 0.5
    assert bucket.take("k") == 0.0
    assert bucket.take("k") > 0


def test_producer_pool_uses_its_producers_and_closes_them_all() -> None:
    a, b = RecordingProducer(), RecordingProducer()
    pool = ProducerPool([a, b])
    pool.send_many([Record(b"k", b"1")])
    pool.send_many([Record(b"k", b"2")])
    assert len(a.sent) + len(b.sent) == 2
    pool.close()
    assert a.closed
    assert b.closed
