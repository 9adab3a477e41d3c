"""The HTTP ingest core: request body bytes in, a per-event report out. No HTTP framework here.

Interface (used by ``connectors.http_router`` and reusable by any other front end, e.g. GraphQL):

- ``split_body(body, content_type) -> list[bytes]``: the events of a ``application/json`` array or an
  ``application/x-ndjson`` body (one event per non-blank line). Raises ``BodyUnreadable`` (answer 400)
  or ``UnsupportedMediaType`` (answer 415).
- ``check_events(events, caller) -> (records, report)``: pure. Validates each event with
  ``schema.validate.decode_event``, refuses a second use of an id within the request and, for an
  ``erp`` caller, any event whose ``source`` is not the caller's. Returns the Kafka records of the
  events that passed (keyed by subject, original bytes) and a report with every event's outcome;
  passed events are marked ``accepted`` only provisionally.
- ``ingest(body, content_type, caller, producer) -> IngestReport``: the above, then
  ``producer.send_many`` (idempotent, ``acks=all``; blocks, so call it off the event loop). Returns
  only after Kafka acknowledged every accepted event. Raises ``IngestUnavailable`` (answer 503) when
  Kafka did not acknowledge in time: then nothing is reported accepted (a retry is safe, the stream
  deduplicates by event id).
- ``ProducerPool``: several producers behind one ``send_many`` (concurrent requests do not wait for
  each other's flush).
- ``TokenBucket``: the per-key rate limit (pure, clock injected).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import msgspec

from connectors.errors import DeliveryFailed, KafkaUnavailable
from connectors.kafka import Record
from schema.errors import EventRejected
from schema.tables import Role
from schema.validate import MAX_FUTURE, decode_event

JSON = "application/json"
NDJSON = "application/x-ndjson"
MEDIA_TYPES = (JSON, NDJSON)


class BodyUnreadable(ValueError):
    """The body as a whole cannot be split into events (e.g. a JSON body that is not an array)."""


class UnsupportedMediaType(ValueError):
    """The Content-Type is neither ``application/json`` nor ``application/x-ndjson``."""


class IngestUnavailable(Exception):
    """Kafka did not acknowledge the accepted events in time; none of them is reported accepted."""


class Caller(Protocol):
    """Who sends: ``role`` and, for an ``erp`` caller, the only ``source`` it may send as."""

    @property
    def role(self) -> Role: ...

    @property
    def source(self) -> str | None: ...


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class FieldError(msgspec.Struct, frozen=True, gc=False):
    """Why an event was rejected: the JSON path of the field, the reason, and the error class."""

    field: str | None
    reason: str
    error_class: str


class EventResult(msgspec.Struct, gc=False):
    """One event's outcome; ``index`` is its position in the request (0-based)."""

    index: int
    id: str | None
    status: Outcome
    errors: list[FieldError] = msgspec.field(default_factory=list)


class IngestReport(msgspec.Struct, gc=False):
    """Every event of a request, in request order, with the counts."""

    accepted: int
    rejected: int
    events: list[EventResult]


@dataclass
class _Checked:
    records: list[Record] = field(default_factory=list)
    results: list[EventResult] = field(default_factory=list)


_array = msgspec.json.Decoder(list[msgspec.Raw])


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header (parameters such as charset dropped)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def split_body(body: bytes, content_type: str | None) -> list[bytes]:
    """The events of a body, each as its own bytes (unparsed; the validator reads them one by one)."""
    kind = media_type(content_type)
    if kind == NDJSON:
        return [line for line in (ln.strip() for ln in body.split(b"\n")) if line]
    if kind == JSON:
        try:
            items = _array.decode(body)
        except msgspec.ValidationError:
            raise BodyUnreadable("an application/json body must be a JSON array of events") from None
        except msgspec.DecodeError as e:
            raise BodyUnreadable(f"body is not JSON ({e}); send one JSON array of events") from None
        return [bytes(item) for item in items]
    raise UnsupportedMediaType(
        f"Content-Type {content_type!r} is not supported; send {JSON} (an array) or {NDJSON}"
    )


def _rejected(index: int, event_id: str | None, *errors: FieldError) -> EventResult:
    return EventResult(index=index, id=event_id, status=Outcome.REJECTED, errors=list(errors))


def check_events(
    events: Sequence[bytes], caller: Caller, *, max_future: timedelta = MAX_FUTURE
) -> tuple[list[Record], IngestReport]:
    """Validate every event; pure. Records are those of the events the report marks accepted.

    An event whose ``time`` is more than ``max_future`` ahead of the clock is refused (``$.time``)."""
    out = _Checked()
    first_index: dict[str, int] = {}
    now = datetime.now(UTC)  # one clock reading per request: "too far in the future" is per request
    for i, raw in enumerate(events):
        try:
            event = decode_event(raw, now=now, max_future=max_future)
        except EventRejected as e:
            out.results.append(_rejected(i, e.event_id, FieldError(e.field, e.reason, e.error_class)))
            continue
        seen = first_index.get(event.id)
        if seen is not None:
            out.results.append(
                _rejected(
                    i,
                    event.id,
                    FieldError(
                        "$.id", f"id already used by event {seen} of this request; sent once", "duplicate"
                    ),
                )
            )
            continue
        first_index[event.id] = i
        if caller.role is not Role.ADMIN and event.source != caller.source:
            out.results.append(
                _rejected(
                    i,
                    event.id,
                    FieldError(
                        "$.source",
                        f"source {event.source!r} is not this key's source {caller.source!r}",
                        "source",
                    ),
                )
            )
            continue
        out.records.append(Record(key=event.subject.encode(), value=raw))
        out.results.append(EventResult(index=i, id=event.id, status=Outcome.ACCEPTED))
    accepted = len(out.records)
    return out.records, IngestReport(
        accepted=accepted, rejected=len(out.results) - accepted, events=out.results
    )


class Sender(Protocol):
    """What ``ingest`` needs of a producer (``connectors.kafka.EventProducer``)."""

    def send_many(self, records: Sequence[Record]) -> object: ...


class Closable(Sender, Protocol):
    def close(self) -> None: ...


def ingest(
    body: bytes,
    content_type: str | None,
    caller: Caller,
    producer: Sender,
    *,
    max_future: timedelta = MAX_FUTURE,
) -> IngestReport:
    """Split, validate and send; returns once Kafka acknowledged every accepted event. Blocking."""
    records, report = check_events(split_body(body, content_type), caller, max_future=max_future)
    if records:
        try:
            producer.send_many(records)
        except (KafkaUnavailable, DeliveryFailed) as e:
            raise IngestUnavailable(
                f"Kafka is unavailable, none was accepted: {e}; send all {len(records)} event(s) again "
                "after Retry-After seconds (any that reached Kafka anyway are deduplicated by id)"
            ) from e
    return report


class ProducerPool:
    """Several producers behind one ``send_many``: each request flushes only its own producer.

    ``EventProducer.send_many`` flushes the whole producer, so concurrent requests sharing one wait for
    each other's records; with a pool they don't. Thread-safe; a request waits for a free producer.
    """

    def __init__(self, producers: Sequence[Closable]) -> None:
        if not producers:
            raise ValueError("a producer pool needs at least one producer")
        self._all = list(producers)
        self._free: queue.SimpleQueue[Closable] = queue.SimpleQueue()
        for p in self._all:
            self._free.put(p)

    def send_many(self, records: Sequence[Record]) -> object:
        producer = self._free.get()
        try:
            return producer.send_many(records)
        finally:
            self._free.put(producer)

    def close(self) -> None:
        for p in self._all:
            p.close()


class TokenBucket:
    """Per-key rate limit: ``rate`` requests per second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0.0 when ``key`` may go ahead now (a token is spent); else the seconds until it may."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate
