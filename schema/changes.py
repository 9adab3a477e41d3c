"""The contract of ``graph.changes``: what one committed graph batch applied, for one Kafka key.

The project stage publishes these after each graph commit (``streams.projection``). A change is in a
record only if the graph applied it: a row older than the stored version, a re-sent duplicate or a
dead-lettered event never appears. Each node or link change names the one event that caused it;
``aggregates`` lists the enterprise and supply-link aggregates (KPIs) the batch moved.

Delivery is at least once: a record may arrive twice (same ``id``), and records of different keys
may arrive in any order. Each change carries the ``version`` it applied (``"<time ms>:<sequence>:
<event id>"``, compared as strings), so a consumer that keeps state can apply last-writer-wins itself.
msgspec structs, like the event payloads: the record is built on the projection's hot path and
decoded by every consumer.
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec

TYPE = "graph.changes"
"""What the records are (the JSON Schema's title)."""
VERSION = 1
"""The record's schema version (``docs/contracts/jsonschema/graph.changes.v1.json``)."""


class Change(enum.StrEnum):
    """What happened to a node, link or aggregate."""

    CREATED = "created"
    """The first event the graph applied to it (a link that did not exist, a node that had no data)."""
    CHANGED = "changed"
    """A newer version of some of its fields (``aspects``)."""
    ENDED = "ended"
    """It stopped holding: a supply link ended, a disruption resolved, a certificate expired, a lot
    unpacked, a single-target link removed or moved away, a component left a bill of materials."""


class CausingEvent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An event whose changes the record carries."""

    id: str
    type: str
    subject: str
    """The event's subject: the record's Kafka key."""
    time: datetime
    source: str


class NodeChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A node one event created, changed or ended.

    ``kind`` is the graph model's mutation kind (``enterprises``, ``facilities``, ``disruptions``,
    ``certifications``, ``materials``, ``orders``, …), ``label`` its Neo4j label and ``id`` its
    business key. ``enterprises`` are the enterprises the node concerns: the node itself for an
    enterprise; the supplier and buyer of an order or quality incident; a disruption's target.
    """

    kind: str
    label: str
    id: str
    change: Change
    aspects: list[str]
    """The field groups the event moved (``graph/model.py``; ``bom`` for a bill of materials)."""
    event: str
    """The id of the event that caused it."""
    version: str
    enterprises: list[str] = msgspec.field(default_factory=list)


class LinkChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A relationship one event created, changed or ended, its ends by business key.

    ``kind`` is the graph model's mutation kind (``supplies``, ``enterprise_region``, ``stocks``, …),
    ``type`` its relationship type; ``keys`` its own key properties (a supply link's ``sku``, a stock
    position's ``site``). A supply link is ``SUPPLIES`` from ``start`` (the supplier) to ``end`` (the
    buyer), keyed by ``sku``.
    """

    kind: str
    type: str
    start_label: str
    start: str
    end_label: str
    end: str
    change: Change
    aspects: list[str]
    event: str
    version: str
    keys: dict[str, str] = msgspec.field(default_factory=dict)


class AggregateChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An enterprise's or a supply link's aggregates (KPIs) that moved in the batch.

    ``kind`` is ``enterprise`` (``enterprise`` set) or ``supply_link`` (``supplier``, ``buyer``,
    ``sku`` set); ``fields`` the aggregate properties written; ``events`` the events folded in.
    """

    kind: str
    fields: list[str]
    enterprise: str | None = None
    supplier: str | None = None
    buyer: str | None = None
    sku: str | None = None
    events: list[str] = msgspec.field(default_factory=list)


class GraphChanges(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What one committed graph batch applied for one key (the subject of the events that caused it).

    ``id`` is unique per batch and key and the same on every copy (the dedup key of a consumer);
    ``committed_at`` is when the batch's transaction wrote the record, just before it committed.
    """

    id: str
    key: str
    committed_at: datetime
    events: list[CausingEvent]
    nodes: list[NodeChange] = msgspec.field(default_factory=list)
    links: list[LinkChange] = msgspec.field(default_factory=list)
    aggregates: list[AggregateChange] = msgspec.field(default_factory=list)

    def enterprises(self) -> set[str]:
        """Every enterprise the record's changes concern (nodes, link ends, aggregates)."""
        out: set[str] = set()
        for n in self.nodes:
            out.update(n.enterprises)
        for lk in self.links:
            if lk.start_label == "Enterprise":
                out.add(lk.start)
            if lk.end_label == "Enterprise":
                out.add(lk.end)
        for a in self.aggregates:
            out.update(x for x in (a.enterprise, a.supplier, a.buyer) if x is not None)
        return out


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(GraphChanges)


def encode(record: GraphChanges) -> bytes:
    """The record as JSON (what ``graph.changes`` carries)."""
    return _encoder.encode(record)


def decode(value: bytes | str) -> GraphChanges:
    """A ``graph.changes`` value; raises ``msgspec.ValidationError``/``DecodeError`` if it is not one."""
    return _decoder.decode(value)
