"""Pure mapping of valid events to graph mutation rows: one list per mutation kind (see graph.model).

What each event type writes is its unit in ``graph.registry``; the rows are folded per entity to the
newest version of each aspect and sorted by key (``graph.rows``). No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from graph.registry import REGISTRY
from graph.rows import GraphRows, Key, Mutations, Row, Stamp, version
from schema.envelope import ValidEvent

__all__ = ["Key", "Mutations", "Row", "Stamp", "event_date", "to_mutations", "version"]


def to_mutations(events: Iterable[ValidEvent]) -> Mutations:
    """Map events to rows; fold each entity's rows to the newest per aspect; sort rows by key.

    Pure and deterministic: the same events in any order give the same rows. Raises ``TypeError`` for
    an event type without a registered unit (a programming error, caught by the registry test).
    """
    b = GraphRows()
    for ev in events:
        u = REGISTRY.get(type(ev.data))
        if u is None:
            raise TypeError(f"event {ev.id}: no registered unit for type {ev.type!r}")
        u.graph(b, ev.data, Stamp.of(ev))
    return b.result()


def event_date(ms: int) -> date:
    """The UTC calendar date of an epoch-millisecond instant."""
    return datetime.fromtimestamp(ms / 1000, UTC).date()
