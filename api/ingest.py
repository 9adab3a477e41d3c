"""Ingest from the API: the HTTP ingest's own contract check and Kafka path (``connectors.http_ingest``).

Never writes the graph: accepted events go to ``events.raw`` keyed by subject, and the stream workers
validate, deduplicate and project them like any other event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from connectors.http_ingest import Caller, Outcome, check_events
from connectors.kafka import EventProducer
from schema.tables import Role


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


@dataclass(frozen=True)
class ServerBuilt:
    """The caller of an event the API built itself (e.g. a disruption report) with a source it set."""

    role: Role
    source: str | None


class EventGateway:
    """Validates events and sends the valid ones to ``events.raw``, waiting for Kafka's acknowledgement.

    The rules are the HTTP ingest's (``connectors.http_ingest.check_events``): an id once per call,
    and a non-admin caller only as its own ``source``.
    """

    def __init__(self, producer: EventProducer) -> None:
        self.producer = producer

    async def __call__(self, events: Sequence[bytes | dict[str, Any]], caller: Caller) -> IngestResult:
        raw = [ev if isinstance(ev, bytes) else orjson.dumps(ev) for ev in events]
        records, report = check_events(raw, caller)
        if records:
            await asyncio.to_thread(self.producer.send_many, records)
        result = IngestResult()
        for ev in report.events:
            if ev.status is Outcome.ACCEPTED and ev.id is not None:
                result.accepted.append(ev.id)
            else:
                err = ev.errors[0] if ev.errors else None
                result.refused.append(
                    Refusal(ev.index, ev.id, err.field if err else None, err.reason if err else "rejected")
                )
        return result
