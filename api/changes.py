"""Which graph nodes and relationships an event touches: a pure mapping over graph/mutations.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from graph import model
from graph.mutations import to_mutations
from schema.envelope import ValidEvent

_NODES = {k.name: k for k in model.NODE_KINDS}
_LINKS = {k.name: k for k in model.LINK_KINDS}
_RELS = {k.name: k for k in model.REL_KINDS}


@dataclass(frozen=True)
class NodeRef:
    label: str
    key: str


@dataclass(frozen=True)
class RelRef:
    type: str
    start_label: str
    start: str
    end_label: str
    end: str
    key: str | None = None
    """The relationship's own key (e.g. the sku of a SUPPLIES link)."""


@dataclass
class GraphChange:
    """What one event wrote: nodes and relationships (by business keys)."""

    event_id: str
    event_type: str
    nodes: list[NodeRef] = field(default_factory=list)
    relationships: list[RelRef] = field(default_factory=list)
    parties: set[str] = field(default_factory=set)
    """Enterprises named on touched nodes (an order's supplier and buyer, an incident's supplier)."""

    def enterprises(self) -> set[str]:
        """Enterprise ids among the touched nodes and relationship ends."""
        out = {n.key for n in self.nodes if n.label == "Enterprise"} | self.parties
        for r in self.relationships:
            if r.start_label == "Enterprise":
                out.add(r.start)
            if r.end_label == "Enterprise":
                out.add(r.end)
        return out


def graph_change(ev: ValidEvent) -> GraphChange:
    """The nodes and relationships ``ev`` writes when projected (same mapping as the projector)."""
    change = GraphChange(ev.id, ev.type)
    for name, rows in to_mutations([ev]).rows.items():
        for row in rows:
            if name in _NODES:
                change.nodes.append(NodeRef(_NODES[name].label, str(row["k"])))
                change.parties.update(
                    str(row[f]) for f in ("supplierId", "buyerId", "enterpriseId") if row.get(f)
                )
            elif name in _LINKS:
                lk = _LINKS[name]
                if row.get("to") is None:
                    change.nodes.append(NodeRef(lk.label, str(row["k"])))
                    continue
                a, b = (lk.label, str(row["k"])), (lk.target_label, str(row["to"]))
                s, e = (a, b) if lk.outgoing else (b, a)
                change.relationships.append(RelRef(lk.rel, s[0], s[1], e[0], e[1]))
            elif name in _RELS:
                rk = _RELS[name]
                key = ",".join(str(row[p]) for p in rk.rel_keys) or None
                change.relationships.append(
                    RelRef(rk.rel, rk.src_label, str(row["a"]), rk.dst_label, str(row["b"]), key)
                )
            elif name == model.BOMS:
                change.nodes.append(NodeRef("Material", str(row["k"])))
                for c in row["components"]:
                    change.relationships.append(
                        RelRef("COMPONENT_OF", "Material", str(c["sku"]), "Material", str(row["k"]))
                    )
    if not change.nodes and not change.relationships:  # the flow (orders): records only, its parties
        change.parties.update(
            str(v) for v in (getattr(ev.data, f, None) for f in ("supplier_id", "buyer_id")) if v
        )
    return change
