"""The pure steps of the pipeline: validate a batch, and route its results. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec
from confluent_kafka import Message

from connectors.kafka import Record
from schema.envelope import ValidEvent
from schema.errors import EventRejected
from schema.validate import MAX_FUTURE, decode_event
from streams.routing import to_telemetry, to_valid


class Incoming(msgspec.Struct, frozen=True):
    """A consumed Kafka message, as much of it as the stages need (immutable; made once per message)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    event_type: str | None = None
    """The ``supplynet.event.type`` header the validate stage sets on ``events.valid`` (``None``: absent,
    e.g. on ``events.raw``): lets a stage pass over a type it has nothing to do for without decoding it."""


def event_type(m: Message) -> str | None:
    """The ``supplynet.event.type`` header the validate stage sets (``None``: absent)."""
    headers = m.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    for k, v in pairs:
        if k == "supplynet.event.type":
            return v.decode() if isinstance(v, bytes) else v
    return None


@dataclass
class Routed:
    valid: list[tuple[Incoming, ValidEvent]] = field(default_factory=list)
    rejected: list[tuple[Incoming, EventRejected]] = field(default_factory=list)


def route(messages: Iterable[Incoming], *, max_future: timedelta | None = MAX_FUTURE) -> Routed:
    """Validate each message; never raises for bad input (it is routed to ``rejected``).

    ``max_future``: how far an event's time may be ahead of the clock (``None``: not checked); the clock
    is read once, when the batch's routing starts.
    """
    out = Routed()
    now = datetime.now(UTC)
    for msg in messages:
        try:
            out.valid.append((msg, decode_event(msg.value, now=now, max_future=max_future)))
        except EventRejected as e:
            out.rejected.append((msg, e))
    return out


def dlq_record(msg: Incoming, err: EventRejected, *, stage: str) -> Record:
    """The dead-letter record: original key and bytes, headers say where it came from and why.

    Header names follow Kafka Connect's DLQ (``__connect.errors.*``) so existing tooling reads them.
    """
    headers: list[tuple[str, bytes]] = [
        ("__connect.errors.topic", msg.topic.encode()),
        ("__connect.errors.partition", str(msg.partition).encode()),
        ("__connect.errors.offset", str(msg.offset).encode()),
        ("__connect.errors.exception.class.name", f"supplynet.{err.error_class}".encode()),
        ("__connect.errors.exception.message", err.describe().encode()),
        ("supplynet.stage", stage.encode()),
        ("supplynet.reason", err.reason.encode()),
    ]
    if err.field:
        headers.append(("supplynet.field", err.field.encode()))
    if err.event_id:
        headers.append(("supplynet.event.id", err.event_id.encode()))
    if err.event_type:
        headers.append(("supplynet.event.type", err.event_type.encode()))
    return Record(key=msg.key, value=msg.value, headers=headers)


def valid_record(msg: Incoming, ev: ValidEvent) -> Record:
    """Forward the sender's exact bytes, keyed by subject so one enterprise stays in one partition."""
    return Record(
        key=ev.subject.encode(), value=msg.value, headers=[("supplynet.event.type", ev.type.encode())]
    )


@dataclass
class Forwards:
    """A routed batch's records by destination (``streams.routing``), each with the pair it came from."""

    valid: list[tuple[Record, tuple[Incoming, ValidEvent]]] = field(default_factory=list)
    telemetry: list[tuple[Record, tuple[Incoming, ValidEvent]]] = field(default_factory=list)
    dead: list[Record] = field(default_factory=list)


def forwards(routed: Routed, *, stage: str, telemetry: bool = True) -> Forwards:
    """The records of a routed batch, in batch order: ``events.valid`` for what has graph rows or
    records, ``events.telemetry`` for what the service job folds (both, for some types). Without
    ``telemetry`` (no such topic), every valid event to ``events.valid``."""
    out = Forwards(dead=[dlq_record(m, e, stage=stage) for m, e in routed.rejected])
    for pair in routed.valid:
        m, ev = pair
        rec = valid_record(m, ev)
        if not telemetry or to_valid(ev.type):
            out.valid.append((rec, pair))
        if telemetry and to_telemetry(ev.type):
            out.telemetry.append((rec, pair))
    return out
