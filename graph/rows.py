"""Graph mutation rows and the builder that folds them: one list per mutation kind (see graph.model).

Within a batch the rows of one entity are folded into one row, aspect by aspect, keeping the newest
version of each aspect; the writer then applies an aspect only if it is newer than the stored one.
Rows of every kind are sorted by their keys so concurrent writers lock nodes in one order (no
deadlocks between workers). What each event type writes is registered in ``graph.registry``. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

from graph import model
from schema.envelope import ValidEvent
from schema.events import BomDefined

Row = dict[str, Any]
Key = tuple[str, ...]


def version(time_ms: int, sequence: int, event_id: str) -> str:
    """The comparable version of an event: string order = (time, sequence, event id) order.

    Total and exact for every event the envelope accepts: time from 1970 to year 9999 fits 15 digits
    of milliseconds, a sequence up to ``MAX_SEQUENCE`` (2^63 - 1) fits 19 digits, and the fixed-width
    prefix leaves the event id to decide ties.
    """
    return f"{max(time_ms, 0):015d}:{sequence:019d}:{event_id}"


@dataclass(frozen=True, slots=True)
class Stamp:
    v: str
    eid: str
    src: str
    t: int
    on: date

    @classmethod
    def of(cls, ev: ValidEvent) -> Stamp:
        t = ev.time_ms
        return cls(version(t, ev.sequence, ev.id), ev.id, ev.source, t, ev.time.astimezone(UTC).date())


@dataclass
class Mutations:
    """Rows per mutation kind, and the master-data owners the batch claims."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    """(label, key) -> source: owners the batch's master data claims (``graph.ownership``); a stored
    owner is never replaced."""

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def kind(self, name: str) -> list[Row]:
        return self.rows.get(name, [])


class _Fold:
    """Folds rows of one kind per key, newest version per aspect and for provenance."""

    def __init__(self) -> None:
        self.rows: dict[Key, Row] = {}

    def put(self, key: Key, base: Row, aspect: str, fields: Row, st: Stamp) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {**base, "v": ""}
        if aspect:
            av = aspect + "V"
            if st.v > (row.get(av) or ""):
                row.update({f: _wire(v) for f, v in fields.items()})
                row[av] = st.v
        if st.v > row["v"]:
            row.update(v=st.v, lastEventId=st.eid, lastSource=st.src, lastEventAt=st.t)

    def first(self, key: Key, base: Row, st: Stamp) -> None:
        """A create-only row (``model.RelKind.create_only``): the oldest version wins, as in the graph,
        so the stored provenance is the earliest event's whatever the delivery order."""
        row = self.rows.get(key)
        if row is None or st.v < row["v"]:
            self.rows[key] = {
                **base,
                "v": st.v,
                "lastEventId": st.eid,
                "lastSource": st.src,
                "lastEventAt": st.t,
            }

    def link(self, key: Key, to: str | None, st: Stamp) -> None:
        """A single-target link: the newest row wins whole."""
        row = self.rows.get(key)
        if row is None or st.v > row["v"]:
            self.rows[key] = {
                "k": key[0],
                "to": to,
                "v": st.v,
                "lastEventId": st.eid,
                "lastSource": st.src,
                "lastEventAt": st.t,
            }

    def sorted_rows(self) -> list[Row]:
        return [self.rows[k] for k in sorted(self.rows)]


class GraphRows:
    """The rows of one batch under construction; ``result`` folds and sorts them."""

    def __init__(self) -> None:
        self.folds: dict[str, _Fold] = {name: _Fold() for name in model.KIND_NAMES}

    def node(self, kind: model.NodeKind, key: str, aspect: str, fields: Row, st: Stamp) -> None:
        self.folds[kind.name].put((key,), {"k": key}, aspect, fields, st)

    def rel(
        self, kind: model.RelKind, a: str, b: str, keys: Row, aspect: str, fields: Row, st: Stamp
    ) -> None:
        # Sorted by (end node, start node, key props): relationships lock both ends in one order.
        k = (b, a, *(str(keys[p]) for p in kind.rel_keys))
        if kind.create_only:
            self.folds[kind.name].first(k, {"a": a, "b": b, **keys}, st)
        else:
            self.folds[kind.name].put(k, {"a": a, "b": b, **keys}, aspect, fields, st)

    def link(self, kind: model.LinkKind, key: str, to: str | None, st: Stamp) -> None:
        self.folds[kind.name].link((key,), to, st)

    def bom(self, d: BomDefined, st: Stamp) -> None:
        fold = self.folds[model.BOMS]
        old = fold.rows.get((d.product_sku,))
        if old is None or st.v > old["v"]:
            fold.rows[(d.product_sku,)] = {
                "k": d.product_sku,
                "components": sorted(({"sku": c.sku, "qty": c.qty} for c in d.components), key=_sku),
                "on": st.on.isoformat(),
                "v": st.v,
                "lastEventId": st.eid,
                "lastSource": st.src,
                "lastEventAt": st.t,
            }

    def check(self, name: str, key: str, st: Stamp) -> None:
        """A row of a check that runs after the batch's other writes (``model.CHECKS``): newest per key."""
        fold = self.folds[name]
        old = fold.rows.get((key,))
        if old is None or st.v > old["v"]:
            fold.rows[(key,)] = {
                "k": key,
                "on": st.on.isoformat(),
                "v": st.v,
                "lastEventId": st.eid,
                "lastSource": st.src,
                "lastEventAt": st.t,
            }

    def result(self) -> Mutations:
        rows = {name: f.sorted_rows() for name, f in self.folds.items() if f.rows}
        return Mutations(rows=rows)


def _wire(v: Any) -> Any:
    """Dates travel as ISO strings and become ``date()`` in Cypher (see ``model.DATE_FIELDS``).

    The driver turns each ``datetime.date`` parameter into a Bolt date in Python (~10 µs each); a
    string is packed natively and Neo4j parses it for a fraction of that.
    """
    return v.isoformat() if type(v) is date else v


def _sku(c: Row) -> str:
    return str(c["sku"])
