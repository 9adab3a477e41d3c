"""What one event changed in the graph, read from a ``graph.changes`` record: a pure mapping.

A record holds what one commit applied for one key; the ``graphChanges`` subscription shows it per
causing event, as the nodes and relationships that event created, changed or ended — an order event,
which writes records and KPI buckets only, as the supplier and supply link whose KPIs it moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schema.changes import GraphChanges


@dataclass(frozen=True)
class NodeRef:
    label: str
    key: str
    change: str = "changed"


@dataclass(frozen=True)
class RelRef:
    type: str
    start_label: str
    start: str
    end_label: str
    end: str
    key: str | None = None
    """The relationship's own key (e.g. the sku of a SUPPLIES link)."""
    change: str = "changed"


@dataclass
class GraphChange:
    """What one event changed, as the graph committed it: nodes and relationships (by business keys)."""

    event_id: str
    event_type: str
    committed_at: datetime | None = None
    nodes: list[NodeRef] = field(default_factory=list)
    relationships: list[RelRef] = field(default_factory=list)
    parties: set[str] = field(default_factory=set)
    """Enterprises named on changed nodes (an order's supplier and buyer, an incident's supplier)."""

    def enterprises(self) -> set[str]:
        """Enterprise ids among the changed nodes and relationship ends."""
        out = {n.key for n in self.nodes if n.label == "Enterprise"} | self.parties
        for r in self.relationships:
            if r.start_label == "Enterprise":
                out.add(r.start)
            if r.end_label == "Enterprise":
                out.add(r.end)
        return out


def _same_link(a: RelRef, b: RelRef) -> bool:
    return (a.type, a.start, a.end, a.key) == (b.type, b.start, b.end, b.key)


def event_changes(record: GraphChanges) -> list[GraphChange]:
    """The record's changes per causing event, in the order of its ``events`` (then event id)."""
    types = {e.id: e.type for e in record.events}
    by_event: dict[str, GraphChange] = {}

    def of(eid: str) -> GraphChange:
        if eid not in by_event:
            by_event[eid] = GraphChange(eid, types.get(eid, ""), record.committed_at)
        return by_event[eid]

    for n in record.nodes:
        c = of(n.event)
        c.nodes.append(NodeRef(n.label, n.id, n.change.value))
        c.parties.update(n.enterprises)
    for lk in record.links:
        key = ",".join(lk.keys.values()) or None
        of(lk.event).relationships.append(
            RelRef(lk.type, lk.start_label, lk.start, lk.end_label, lk.end, key, lk.change.value)
        )
    # KPI properties the commit moved on an enterprise or a supply link: listed once per event, and not
    # at all for an event that already lists the same node or link (e.g. a link it agreed, whose first
    # KPI row rides the same batch).
    for a in record.aggregates:
        for eid in a.events:
            c = of(eid)
            if a.kind == "supply_link" and a.supplier is not None and a.buyer is not None:
                ref = RelRef("SUPPLIES", "Enterprise", a.supplier, "Enterprise", a.buyer, a.sku)
                if not any(_same_link(ref, r) for r in c.relationships):
                    c.relationships.append(ref)
            elif a.enterprise is not None and not any(
                (n.label, n.key) == ("Enterprise", a.enterprise) for n in c.nodes
            ):
                c.nodes.append(NodeRef("Enterprise", a.enterprise))
    order = {e.id: i for i, e in enumerate(record.events)}
    return sorted(by_event.values(), key=lambda c: (order.get(c.event_id, len(order)), c.event_id))
