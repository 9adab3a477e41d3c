"""The record store: the flow's rows in SQL (SQLite embedded, PostgreSQL in production), written in bulk.

Guarantees, the same as the graph's: every write is an idempotent upsert keyed by business ids, and
each *field group* (the fields one kind of event writes) is applied only when the event's version
``(event time, sequence, event id)`` is newer than the group's stored one. So replays, duplicates and
any delivery order converge to the same rows. One transaction per batch; within a batch the rows of
one key and group are folded to the newest first, so a statement never touches a row twice.

Which event writes which rows is one registered unit per payload type (``ROWS``); ``RECORD_TYPES`` is
what the catalog must cover (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

from sqlalchemy import Engine, Table, or_, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from schema.envelope import ValidEvent
from schema.events import (
    CapacityReported,
    EquipmentAlarm,
    InventoryReported,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    QualityIncident,
    ShipmentDelayed,
)
from schema.records import (
    CapacityRecord,
    EquipmentAlarmRecord,
    OrderRecord,
    QualityIncidentRecord,
    ShipmentRecord,
    StockRecord,
)

Row = dict[str, Any]


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


@dataclass(frozen=True)
class Group:
    """Fields of one table that one kind of event writes together, versioned by ``<name>_t/_seq/_eid``."""

    table: Table
    key: tuple[str, ...]
    name: str
    fields: tuple[str, ...]

    @property
    def version_columns(self) -> tuple[str, str, str]:
        return (f"{self.name}_t", f"{self.name}_seq", f"{self.name}_eid")


_ORDER = _table(OrderRecord)
_SHIPMENT = _table(ShipmentRecord)
_PARTIES = ("supplier_id", "buyer_id")

ORDER_PLACED = Group(
    _ORDER,
    ("order_id",),
    "placed",
    (*_PARTIES, "sku", "quantity", "requested_date", "ordered_on", "unit_price", "currency"),
)
ORDER_CONFIRMED = Group(
    _ORDER, ("order_id",), "confirmed", (*_PARTIES, "confirmed_quantity", "promised_date")
)
ORDER_SHIPPED = Group(
    _ORDER, ("order_id",), "shipped", (*_PARTIES, "shipped_quantity", "shipped_on", "expected_delivery")
)
ORDER_DELIVERED = Group(
    _ORDER, ("order_id",), "delivered", (*_PARTIES, "quantity_delivered", "delivered_on", "due_date")
)
ORDER_CANCELLED = Group(_ORDER, ("order_id",), "cancelled", (*_PARTIES, "cancelled_on", "cancel_reason"))
SHIPMENT_SHIPPED = Group(
    _SHIPMENT,
    ("shipment_id",),
    "shipped",
    ("order_id", *_PARTIES, "quantity", "shipped_on", "expected_delivery", "carrier_id"),
)
SHIPMENT_DELAYED = Group(
    _SHIPMENT,
    ("shipment_id",),
    "delayed",
    ("order_id", *_PARTIES, "new_expected_delivery", "delay_days", "delay_reason"),
)
STOCK = Group(
    _table(StockRecord),
    ("enterprise_id", "sku", "facility_id"),
    "report",
    ("on_hand", "daily_usage", "reported_on"),
)
CAPACITY = Group(
    _table(CapacityRecord),
    ("enterprise_id", "sku", "facility_id"),
    "report",
    ("capacity_per_day", "utilization", "reported_on"),
)
QUALITY = Group(
    _table(QualityIncidentRecord),
    ("incident_id",),
    "report",
    ("supplier_id", "buyer_id", "sku", "severity", "defect_ppm", "description", "reported_on"),
)
ALARM = Group(
    _table(EquipmentAlarmRecord),
    ("alarm_id",),
    "report",
    (
        "enterprise_id",
        "equipment_id",
        "facility_id",
        "signal",
        "severity",
        "predicted_failure_days",
        "raised_on",
    ),
)


def _day(ev: ValidEvent) -> date:
    return ev.time.astimezone(UTC).date()


def _order_placed(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: OrderPlaced = ev.data
    return [
        (
            ORDER_PLACED,
            {
                "order_id": d.order_id,
                "supplier_id": d.supplier_id,
                "buyer_id": d.buyer_id,
                "sku": d.sku,
                "quantity": d.quantity,
                "requested_date": d.requested_date,
                "ordered_on": _day(ev),
                "unit_price": d.unit_price,
                "currency": d.currency,
            },
        )
    ]


def _order_confirmed(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: OrderConfirmed = ev.data
    row = {"order_id": d.order_id, "supplier_id": d.supplier_id, "buyer_id": d.buyer_id}
    return [
        (
            ORDER_CONFIRMED,
            {**row, "confirmed_quantity": d.confirmed_quantity, "promised_date": d.promised_date},
        )
    ]


def _order_shipped(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: OrderShipped = ev.data
    parties = {"supplier_id": d.supplier_id, "buyer_id": d.buyer_id}
    shipped = {"shipped_on": d.shipped_on, "expected_delivery": d.expected_delivery}
    return [
        (ORDER_SHIPPED, {"order_id": d.order_id, **parties, "shipped_quantity": d.quantity, **shipped}),
        (
            SHIPMENT_SHIPPED,
            {
                "shipment_id": d.shipment_id,
                "order_id": d.order_id,
                **parties,
                "quantity": d.quantity,
                **shipped,
                "carrier_id": d.carrier_id,
            },
        ),
    ]


def _order_delivered(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: OrderDelivered = ev.data
    return [
        (
            ORDER_DELIVERED,
            {
                "order_id": d.order_id,
                "supplier_id": d.supplier_id,
                "buyer_id": d.buyer_id,
                "quantity_delivered": d.quantity_delivered,
                "delivered_on": d.delivered_on,
                "due_date": d.promised_date,
            },
        )
    ]


def _order_cancelled(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: OrderCancelled = ev.data
    return [
        (
            ORDER_CANCELLED,
            {
                "order_id": d.order_id,
                "supplier_id": d.supplier_id,
                "buyer_id": d.buyer_id,
                "cancelled_on": _day(ev),
                "cancel_reason": d.reason,
            },
        )
    ]


def _shipment_delayed(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: ShipmentDelayed = ev.data
    return [
        (
            SHIPMENT_DELAYED,
            {
                "shipment_id": d.shipment_id,
                "order_id": d.order_id,
                "supplier_id": d.supplier_id,
                "buyer_id": d.buyer_id,
                "new_expected_delivery": d.new_expected_delivery,
                "delay_days": d.delay_days,
                "delay_reason": d.reason,
            },
        )
    ]


def _inventory(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: InventoryReported = ev.data
    key = {"enterprise_id": d.enterprise_id, "sku": d.sku, "facility_id": d.facility_id or ""}
    return [(STOCK, {**key, "on_hand": d.on_hand, "daily_usage": d.daily_usage, "reported_on": _day(ev)})]


def _capacity(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: CapacityReported = ev.data
    key = {"enterprise_id": d.enterprise_id, "sku": d.sku or "", "facility_id": d.facility_id or ""}
    return [
        (
            CAPACITY,
            {
                **key,
                "capacity_per_day": d.capacity_per_day,
                "utilization": d.utilization,
                "reported_on": _day(ev),
            },
        )
    ]


def _quality(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: QualityIncident = ev.data
    return [
        (
            QUALITY,
            {
                "incident_id": d.incident_id,
                "supplier_id": d.supplier_id,
                "buyer_id": d.buyer_id,
                "sku": d.sku,
                "severity": d.severity.value,
                "defect_ppm": d.defect_ppm,
                "description": d.description,
                "reported_on": _day(ev),
            },
        )
    ]


def _alarm(ev: ValidEvent) -> list[tuple[Group, Row]]:
    d: EquipmentAlarm = ev.data
    return [
        (
            ALARM,
            {
                "alarm_id": d.alarm_id,
                "enterprise_id": d.enterprise_id,
                "equipment_id": d.equipment_id,
                "facility_id": d.facility_id,
                "signal": d.signal,
                "severity": d.severity.value,
                "predicted_failure_days": d.predicted_failure_days,
                "raised_on": _day(ev),
            },
        )
    ]


ROWS: dict[type[Any], Callable[[ValidEvent], list[tuple[Group, Row]]]] = {
    OrderPlaced: _order_placed,
    OrderConfirmed: _order_confirmed,
    OrderShipped: _order_shipped,
    OrderDelivered: _order_delivered,
    OrderCancelled: _order_cancelled,
    ShipmentDelayed: _shipment_delayed,
    InventoryReported: _inventory,
    CapacityReported: _capacity,
    QualityIncident: _quality,
    EquipmentAlarm: _alarm,
}
"""The record rows of each payload type that is part of the flow; other types write no records."""

RECORD_TYPES: frozenset[str] = frozenset(t.TYPE for t in ROWS)


def record_rows(events: Iterable[ValidEvent]) -> dict[Group, list[Row]]:
    """Rows per field group, one per key: the newest version of that group in the batch. Pure."""
    newest: dict[Group, dict[tuple[Any, ...], Row]] = {}
    for ev in events:
        to_rows = ROWS.get(type(ev.data))
        if to_rows is None:
            continue
        version = (ev.time_ms, ev.sequence, ev.id)
        for group, row in to_rows(ev):
            t, seq, eid = group.version_columns
            row[t], row[seq], row[eid] = version
            rows = newest.setdefault(group, {})
            key = tuple(row[k] for k in group.key)
            held = rows.get(key)
            if held is None or (held[t], held[seq], held[eid]) < version:
                rows[key] = row
    return {g: list(rows.values()) for g, rows in newest.items()}


def _upsert(conn: Connection, group: Group, rows: Sequence[Row]) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(group.table)
    t, seq, eid = group.version_columns
    stored = group.table.c
    newer = or_(
        stored[t].is_(None),
        tuple_(stored[t], stored[seq], stored[eid])
        < tuple_(stmt.excluded[t], stmt.excluded[seq], stmt.excluded[eid]),
    )
    written = (*group.fields, t, seq, eid)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(group.key), set_={c: stmt.excluded[c] for c in written}, where=newer
    )
    # Keys in one order across workers: concurrent batches lock rows in the same order (no deadlocks).
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in group.key))
    conn.execute(stmt, ordered)


class RecordStore:
    """Writes the flow's records; thread-safe (one connection per call). Sync: call it off the event loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, events: Iterable[ValidEvent]) -> int:
        """Upsert the records of ``events`` in one transaction; return the rows offered (not all apply).

        Idempotent and order-independent (last-writer-wins per field group). Raises SQLAlchemy's errors
        (``OperationalError`` when the store is away): the caller must not ack the batch then.
        """
        groups = record_rows(events)
        if not groups:
            return 0
        with self.engine.begin() as conn:
            for group in sorted(groups, key=lambda g: (g.table.name, g.name)):
                _upsert(conn, group, groups[group])
        return sum(len(r) for r in groups.values())
