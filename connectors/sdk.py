"""A small typed publisher for ERP adapters: payload structs in, per-event results out.

    from connectors.sdk import Publisher
    from schema.events import InventoryReported

    with Publisher.over_http("https://supplynet.example", api_key="sn_…", source="sap-ecc/wisco") as pub:
        results = pub.publish([InventoryReported(...)])

``Publisher`` fills in the envelope (``id`` a fresh UUID unless given, ``time`` now, ``subject`` from the
payload's business key, ``type`` and ``dataschema`` from the payload class), validates every event
locally with the same validator as the server (``EventRejected`` before anything is sent) and sends
through a transport: ``KafkaTransport`` (straight to the raw topic, acknowledged with ``acks=all``) or
``HttpTransport`` (``POST /v1/events``; the server's per-event answer is returned as is).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol, Self

import msgspec

from connectors.http_ingest import NDJSON, EventResult, IngestReport, IngestUnavailable, Outcome
from connectors.kafka import EventProducer, Record
from schema.envelope import SPECVERSION
from schema.errors import EventRejected
from schema.events import Payload, schema_uri
from schema.validate import decode_event

__all__ = ["EventRejected", "HttpTransport", "KafkaTransport", "Outgoing", "Publisher", "Transport"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One payload with optional envelope overrides (``id`` for an idempotent resend, ``time``)."""

    payload: Payload
    id: str | None = None
    time: datetime | None = None
    sequence: int = 0


class Transport(Protocol):
    """Sends validated events (UTF-8 JSON) and says what became of each."""

    def send(self, events: Sequence[bytes], subjects: Sequence[str]) -> list[EventResult]: ...

    def close(self) -> None: ...


class KafkaTransport:
    """Straight to the raw topic; every event is accepted once Kafka acknowledged it."""

    def __init__(self, producer: EventProducer) -> None:
        self.producer = producer

    def send(self, events: Sequence[bytes], subjects: Sequence[str]) -> list[EventResult]:
        """Raises ``IngestUnavailable`` when Kafka did not acknowledge (nothing may be assumed kept)."""
        from connectors.errors import DeliveryFailed, KafkaUnavailable

        try:
            self.producer.send_many(
                [Record(key=s.encode(), value=e) for e, s in zip(events, subjects, strict=True)]
            )
        except (KafkaUnavailable, DeliveryFailed) as e:
            raise IngestUnavailable(str(e)) from e
        ids = [msgspec.json.decode(e, type=_IdOnly).id for e in events]
        return [EventResult(index=i, id=ids[i], status=Outcome.ACCEPTED) for i in range(len(events))]

    def close(self) -> None:
        self.producer.close()


class _IdOnly(msgspec.Struct):
    id: str


class HttpTransport:
    """``POST /v1/events`` as NDJSON with an API key; returns the server's per-event results."""

    def __init__(self, base_url: str, *, api_key: str, timeout_s: float = 30.0) -> None:
        import httpx

        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": NDJSON},
            timeout=timeout_s,
        )

    def send(self, events: Sequence[bytes], subjects: Sequence[str]) -> list[EventResult]:
        """Raises ``IngestUnavailable`` on 503, ``httpx.HTTPStatusError`` on any other refusal."""
        response = self._client.post("/v1/events", content=b"\n".join(events) + b"\n")
        if response.status_code == 503:
            raise IngestUnavailable(response.text)
        response.raise_for_status()
        return msgspec.json.decode(response.content, type=IngestReport).events

    def close(self) -> None:
        self._client.close()


class Publisher:
    """Builds, checks and sends events of one ``source`` (the sending system, e.g. ``sap-ecc/wisco``)."""

    def __init__(self, transport: Transport, *, source: str) -> None:
        self.transport = transport
        self.source = source

    @classmethod
    def over_kafka(cls, producer: EventProducer, *, source: str) -> Publisher:
        return cls(KafkaTransport(producer), source=source)

    @classmethod
    def over_http(cls, base_url: str, *, api_key: str, source: str, timeout_s: float = 30.0) -> Publisher:
        return cls(HttpTransport(base_url, api_key=api_key, timeout_s=timeout_s), source=source)

    def envelope(self, item: Payload | Outgoing) -> bytes:
        """The event's wire form; raises ``EventRejected`` (field and reason) if it breaks its contract."""
        out = item if isinstance(item, Outgoing) else Outgoing(item)
        p = out.payload
        cls = type(p)
        raw = msgspec.json.encode(
            {
                "specversion": SPECVERSION,
                "id": out.id or str(uuid.uuid4()),
                "source": self.source,
                "type": cls.TYPE,
                "time": out.time or datetime.now(UTC),
                "subject": getattr(p, cls.SUBJECT),
                "sequence": out.sequence,
                "dataschema": schema_uri(cls.TYPE, cls.VERSION),
                "data": p,
            }
        )
        decode_event(raw)
        return raw

    def publish(self, items: Sequence[Payload | Outgoing]) -> list[EventResult]:
        """Per-event results in order. Nothing is sent if any event fails its local check."""
        events = [self.envelope(i) for i in items]
        subjects = [
            getattr(
                o.payload if isinstance(o, Outgoing) else o,
                type(o.payload if isinstance(o, Outgoing) else o).SUBJECT,
            )
            for o in items
        ]
        return self.transport.send(events, subjects) if events else []

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
