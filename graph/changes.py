"""A committed batch's changes, from what its statements returned (``graph.model``): ``graph.changes``
records, one per key (the subject of the events that caused the changes). Pure; no I/O.

Only what the statements returned is reported: a row older than (or as old as) the stored version
returns nothing, so an ignored, duplicate or dead-lettered event never appears. Each change names
the one event that caused it (read from the version of the aspect it moved); a folded row that
several events of the batch moved gives one change per event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph import model
from graph.rows import Mutations, Row
from schema.changes import AggregateChange, CausingEvent, Change, GraphChanges, LinkChange, NodeChange

Records = Sequence[Mapping[str, Any]]
Applied = Mapping[str, Records]
"""Mutation kind -> the records its statement returned (``GraphWriter.write``)."""

MAX_CHANGES = 500
"""Most node and link changes in one record: a batch's changes for one busy key are split so that a
record stays far below Kafka's default 1 MB message size (≈ 250 bytes per change)."""

ENDING: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("supplies", "validity", "supply.ended"),
        ("disruptions", "resolved", "disruption.resolved"),
        ("certifications", "expired", "certification.expired"),
        ("packed_in", "unpacked", "lot.unpacked"),
    }
)
"""(kind, aspect, event type) that end what they change."""

_NODES = {k.name: k for k in model.NODE_KINDS}
_LINKS = {k.name: k for k in model.LINK_KINDS}
_RELS = {k.name: k for k in model.REL_KINDS}
_PARTY_FIELDS = ("supplierId", "buyerId", "enterpriseId")


def event_id(version: str) -> str:
    """The event id inside a version (``"<time>:<sequence>:<event id>"``; ids may contain ``:``)."""
    return version.split(":", 2)[2]


def _when(e: CausingEvent) -> tuple[datetime, str]:
    return e.time, e.id


def _parties(kind: model.NodeKind, key: str, row: Row) -> list[str]:
    if kind.label == "Enterprise":
        return [key]
    out = [str(row[f]) for f in _PARTY_FIELDS if row.get(f)]
    if row.get("targetKind") == "enterprise" and row.get("targetId"):
        out.append(str(row["targetId"]))
    return sorted(set(out))


@dataclass
class _Batch:
    events: Mapping[str, CausingEvent]
    nodes: list[NodeChange] = field(default_factory=list)
    links: list[LinkChange] = field(default_factory=list)

    def by_event(self, kind: str, moved: Sequence[str], row: Row) -> dict[str, list[str]]:
        """event id -> the aspects it moved (for an aspect-less kind: the row's newest event)."""
        out: dict[str, list[str]] = {}
        for aspect in moved:
            version = row.get(f"{aspect}V") or row["v"]
            out.setdefault(event_id(version), []).append(aspect)
        return out

    def change(self, kind: str, aspects: Sequence[str], eid: str, first: bool) -> Change:
        etype = self.events[eid].type if eid in self.events else ""
        if any((kind, a, etype) in ENDING for a in aspects):
            return Change.ENDED
        return Change.CREATED if first else Change.CHANGED


def _node_changes(b: _Batch, kind: model.NodeKind, rows: Sequence[Row], applied: Records) -> None:
    by_key = {str(r["k"]): r for r in rows}
    for rec in applied:
        key = str(rec["k"])
        row = by_key[key]
        moved = b.by_event(kind.name, list(rec["moved"]), row)
        parties = _parties(kind, key, row)
        first = min(moved, key=lambda e: row.get(f"{moved[e][0]}V") or row["v"]) if rec["created"] else None
        for eid, aspects in moved.items():
            b.nodes.append(
                NodeChange(
                    kind=kind.name,
                    label=kind.label,
                    id=key,
                    change=b.change(kind.name, aspects, eid, eid == first),
                    aspects=aspects,
                    event=eid,
                    version=max(str(row.get(f"{a}V") or row["v"]) for a in aspects),
                    enterprises=parties,
                )
            )


def _rel_changes(b: _Batch, kind: model.RelKind, rows: Sequence[Row], applied: Records) -> None:
    by_key = {(str(r["b"]), str(r["a"]), *(str(r[p]) for p in kind.rel_keys)): r for r in rows}
    for rec in applied:
        keys = [str(v) for v in rec["keys"]]
        row = by_key[(str(rec["b"]), str(rec["a"]), *keys)]
        moved = b.by_event(kind.name, list(rec["moved"]), row)
        first = min(moved, key=lambda e: row.get(f"{moved[e][0]}V") or row["v"]) if rec["created"] else None
        for eid, aspects in moved.items():
            b.links.append(
                LinkChange(
                    kind=kind.name,
                    type=kind.rel,
                    start_label=kind.src_label,
                    start=str(row["a"]),
                    end_label=kind.dst_label,
                    end=str(row["b"]),
                    keys=dict(zip(kind.rel_keys, keys, strict=True)),
                    change=b.change(kind.name, aspects, eid, eid == first),
                    aspects=aspects,
                    event=eid,
                    version=max(str(row.get(f"{a}V") or row["v"]) for a in aspects),
                )
            )


def _link_changes(b: _Batch, kind: model.LinkKind, rows: Sequence[Row], applied: Records) -> None:
    by_key = {str(r["k"]): r for r in rows}
    aspect = kind.version.removesuffix("V")

    def link(target: str, change: Change, row: Row) -> LinkChange:
        a, z = (kind.label, str(row["k"])), (kind.target_label, target)
        start, end = (a, z) if kind.outgoing else (z, a)
        return LinkChange(
            kind=kind.name,
            type=kind.rel,
            start_label=start[0],
            start=start[1],
            end_label=end[0],
            end=end[1],
            change=change,
            aspects=[aspect],
            event=str(row["lastEventId"]),
            version=str(row["v"]),
        )

    for rec in applied:
        row = by_key[str(rec["k"])]
        for gone in sorted(str(g) for g in rec["gone"]):
            b.links.append(link(gone, Change.ENDED, row))
        if rec["to"] is not None:
            b.links.append(link(str(rec["to"]), Change.CHANGED if rec["kept"] else Change.CREATED, row))


def _award_changes(b: _Batch, rows: Sequence[Row], applied: Records) -> None:
    """An award that took effect: the proposer's project membership and, where the call names a supply,
    its new supply link to the calling enterprise (``model.CALL_AWARDS_CYPHER`` returns them)."""
    by_key = {str(r["k"]): r for r in rows}
    for rec in applied:
        row = by_key[str(rec["k"])]
        eid, version = str(row["lastEventId"]), str(row["v"])
        joined = Change.CHANGED if rec["joinedBefore"] else Change.CREATED
        targets: list[tuple[str, str, str, dict[str, str], Change]] = [
            ("COLLABORATES_ON", "DesignProject", str(rec["project"]), {}, joined)
        ]
        if rec["sku"] is not None:
            supplied = Change.CHANGED if rec["suppliedBefore"] else Change.CREATED
            targets.append(("SUPPLIES", "Enterprise", str(rec["buyer"]), {"sku": str(rec["sku"])}, supplied))
        for rel, label, end, keys, change in targets:
            b.links.append(
                LinkChange(
                    kind=model.CALL_AWARDS,
                    type=rel,
                    start_label="Enterprise",
                    start=str(rec["enterprise"]),
                    end_label=label,
                    end=end,
                    keys=keys,
                    change=change,
                    aspects=["award"],
                    event=eid,
                    version=version,
                )
            )


def _bom_changes(b: _Batch, rows: Sequence[Row], applied: Records) -> None:
    by_key = {str(r["k"]): r for r in rows}
    for rec in applied:
        key = str(rec["k"])
        row = by_key[key]
        eid, version = str(row["lastEventId"]), str(row["v"])
        b.nodes.append(
            NodeChange(
                kind=model.BOMS,
                label="Material",
                id=key,
                change=Change.CHANGED,
                aspects=["bom"],
                event=eid,
                version=version,
            )
        )
        for sku, change in [
            *((str(s), Change.ENDED) for s in sorted(rec["ended"])),
            *((str(s), Change.CREATED) for s in sorted(rec["added"])),
        ]:
            b.links.append(
                LinkChange(
                    kind=model.BOMS,
                    type="COMPONENT_OF",
                    start_label="Material",
                    start=sku,
                    end_label="Material",
                    end=key,
                    change=change,
                    aspects=["bom"],
                    event=eid,
                    version=version,
                )
            )


def graph_changes(
    m: Mutations,
    applied: Applied,
    events: Mapping[str, CausingEvent],
    *,
    batch: str,
    committed_at: datetime,
    aggregates: Sequence[AggregateChange] = (),
    max_changes: int = MAX_CHANGES,
) -> list[GraphChanges]:
    """The records of one committed batch: its applied changes grouped by the subject of the event
    that caused each (``events``: the batch's events by id), at most ``max_changes`` per record.
    ``aggregates`` (what the batch's aggregate writes moved) go under their enterprise, or a supply
    link's buyer (the subject of the flow events that move it).

    Record ids are ``<batch>/<n>``; records are in key order, their events in (time, id) order. Empty
    when nothing was applied.
    """
    b = _Batch(events)
    for name, recs in applied.items():
        if not recs:
            continue
        rows = m.kind(name)
        if name in _NODES:
            _node_changes(b, _NODES[name], rows, recs)
        elif name in _RELS:
            _rel_changes(b, _RELS[name], rows, recs)
        elif name in _LINKS:
            _link_changes(b, _LINKS[name], rows, recs)
        elif name == model.BOMS:
            _bom_changes(b, rows, recs)
        elif name == model.CALL_AWARDS:
            _award_changes(b, rows, recs)
    grouped: dict[str, tuple[list[NodeChange], list[LinkChange]]] = {}

    def key_of(eid: str) -> str:
        ev = events.get(eid)
        return ev.subject if ev is not None else eid

    for n in b.nodes:
        grouped.setdefault(key_of(n.event), ([], []))[0].append(n)
    for lk in b.links:
        grouped.setdefault(key_of(lk.event), ([], []))[1].append(lk)
    moved: dict[str, list[AggregateChange]] = {}
    for a in aggregates:
        moved.setdefault(str(a.enterprise or a.buyer or a.supplier), []).append(a)
    out: list[GraphChanges] = []
    for key in sorted(grouped.keys() | moved.keys()):
        nodes, links = grouped.get(key, ([], []))
        changes: list[NodeChange | LinkChange | AggregateChange] = [*nodes, *links, *moved.get(key, [])]
        for i in range(0, len(changes), max_changes):
            part = changes[i : i + max_changes]
            eids = {e for c in part for e in (c.events if isinstance(c, AggregateChange) else [c.event])}
            causing = sorted((events[e] for e in eids if e in events), key=_when)
            out.append(
                GraphChanges(
                    id=f"{batch}/{len(out)}",
                    key=key,
                    committed_at=committed_at,
                    events=causing,
                    nodes=[c for c in part if isinstance(c, NodeChange)],
                    links=[c for c in part if isinstance(c, LinkChange)],
                    aggregates=[c for c in part if isinstance(c, AggregateChange)],
                )
            )
    return out
