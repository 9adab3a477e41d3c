"""Ingest from the API: the same contract check and Kafka path as the HTTP/file ingest (``events.raw``).

Never writes the graph: accepted events go to ``events.raw`` keyed by subject, and the stream workers
validate, deduplicate and project them like any other event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from api.auth import Principal
from connectors.kafka import EventProducer, Record
from schema.errors import EventRejected
from schema.tables import Role
from schema.validate import decode_event


@dataclass(frozen=True)
class Refusal:
    """Why one event was refused: its index in the request, its id, the field and the reason."""

    index: int
    event_id: str | None
    field: str | None
    reason: str


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def check_events(
    events: Sequence[bytes | dict[str, Any]], principal: Principal
) -> tuple[list[Record], IngestResult]:
    """Validate each event; an erp caller may only send as its own source. Pure (no I/O)."""
    result = IngestResult()
    records: list[Record] = []
    for i, ev in enumerate(events):
        raw = ev if isinstance(ev, bytes) else orjson.dumps(ev)
        try:
            valid = decode_event(raw)
        except EventRejected as e:
            result.refused.append(Refusal(i, e.event_id, e.field, e.reason))
            continue
        if principal.role is Role.ERP and valid.source != principal.source:
            result.refused.append(
                Refusal(i, valid.id, "$.source", f"this key may only send as source {principal.source!r}")
            )
            continue
        records.append(Record(key=valid.subject.encode(), value=raw))
        result.accepted.append(valid.id)
    return records, result


class EventGateway:
    """Validates events and sends the valid ones to ``events.raw``, waiting for Kafka's acknowledgement."""

    def __init__(self, producer: EventProducer) -> None:
        self.producer = producer

    async def __call__(self, events: Sequence[bytes | dict[str, Any]], principal: Principal) -> IngestResult:
        records, result = check_events(events, principal)
        if records:
            await asyncio.to_thread(self.producer.send_many, records)
        return result
