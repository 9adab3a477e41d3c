"""The event-type registry: one unit per payload type (``EventUnit``) says what the type writes to the
graph, what it writes to the record store and which network ids it names. Adding an event type to the
catalog means adding one unit here; ``tests/unit/test_registry.py`` fails while a catalog type has no
complete unit. Pure; no I/O.

``record_rows`` folds a batch's record rows to one per key and field group (the newest by (event time,
sequence, event id)): what ``connectors.record_store.RecordStore.write`` upserts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graph.registry import (
    crowd,
    design,
    disruptions,
    materials,
    operations,
    orders,
    partners,
    service,
    supply,
    traceability,
)
from graph.registry.unit import EventUnit, Named, RecordRows
from graph.rows import Row, Stamp
from schema.envelope import ValidEvent
from schema.events import CATALOG, Payload, SupplyAgreed, SupplyEnded
from schema.records import Group

__all__ = ["REGISTRY", "EventUnit", "Named", "RecordRows", "agreed_links", "missing_units", "record_rows"]

FLOW_GROUPS = frozenset({"orders and logistics", "operations"})
"""Catalog groups whose events are the flow: each of their types writes records."""

REGISTRY: Mapping[type[Payload], EventUnit[Any]] = {
    u.payload: u
    for u in (
        *partners.UNITS,
        *materials.UNITS,
        *supply.UNITS,
        *orders.UNITS,
        *operations.UNITS,
        *disruptions.UNITS,
        *design.UNITS,
        *traceability.UNITS,
        *crowd.UNITS,
        *service.UNITS,
    )
}


def missing_units() -> dict[str, str]:
    """Catalog types whose unit is absent or incomplete, with what is missing (empty: complete)."""
    out: dict[str, str] = {}
    for event_type, payload in sorted(CATALOG.items()):
        u = REGISTRY.get(payload)
        if u is None:
            out[event_type] = "no unit registered"
        elif payload.GROUP in FLOW_GROUPS and u.records is None:
            out[event_type] = f"a flow type ({payload.GROUP}) without record rows"
        elif payload.GROUP not in FLOW_GROUPS and u.records is not None:
            out[event_type] = f"record rows for a type outside the flow ({payload.GROUP})"
    return out


def record_rows(events: Iterable[ValidEvent]) -> dict[Group, list[Row]]:
    """Rows per field group, one per key: the newest version of that group in the batch.

    Each row carries its version in the group's ``<group>_t/_seq/_eid`` columns. Pure; events of
    types that write no records are skipped.
    """
    newest: dict[Group, dict[tuple[Any, ...], Row]] = {}
    for ev in events:
        to_rows = REGISTRY[type(ev.data)].records
        if to_rows is None:
            continue
        version = (ev.time_ms, ev.sequence, ev.id)
        for group, row in to_rows(ev.data, Stamp.of(ev)):
            t, seq, eid = group.version_columns
            row[t], row[seq], row[eid] = version
            rows = newest.setdefault(group, {})
            key = tuple(row[k] for k in group.key)
            held = rows.get(key)
            if held is None or (held[t], held[seq], held[eid]) < version:
                rows[key] = row
    return {g: list(rows.values()) for g, rows in newest.items()}


def agreed_links(events: Iterable[ValidEvent]) -> list[tuple[str, str, str]]:
    """(supplier, buyer, sku) of the batch's supply agreements and endings, sorted: links whose KPI row
    the batch writes with them (a new link starts with its flow so far, empty windows if none). An
    ending counts too: delivered before its agreement, it creates the link. Pure."""
    return sorted(
        {
            (ev.data.supplier_id, ev.data.buyer_id, ev.data.sku)
            for ev in events
            if isinstance(ev.data, (SupplyAgreed, SupplyEnded))
        }
    )
