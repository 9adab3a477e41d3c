"""The record store's tables: the flow of the network (orders, shipments, stock, capacity, quality, alarms).

The graph holds the network; these rows hold the high-volume facts that move along it. Each table is
written by ``connectors.record_store`` with idempotent upserts, last-writer-wins per *field group*: a
group's fields are written together by one kind of event and carry that event's version in three
columns ``<group>_t`` (event time, epoch ms), ``<group>_seq`` (sequence) and ``<group>_eid`` (event id),
compared as a row value ``(t, seq, eid)`` — a total order for every value the envelope accepts, with no
string padding to outgrow. Any delivery order and any number of replays give the same rows.

The field groups are declared here (``Group``, one constant per group); which event writes which
group is registered per event type in ``graph.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Table, text
from sqlmodel import Field, SQLModel


class OrderRecord(SQLModel, table=True):
    """One purchase order's lifecycle: placed, confirmed, shipped, delivered or cancelled."""

    __tablename__ = "order_record"
    __table_args__ = (
        # A supplier's orders by id; the buyer lets a partner's merge (one range per network supplier)
        # check the buyer is in the network from the index alone
        Index("ix_order_supplier_buyer", "supplier_id", "order_id", "buyer_id"),
        Index("ix_order_buyer", "buyer_id", "order_id"),
        Index("ix_order_sku", "sku", "order_id"),
        # An order-date range is ordered by (ordered_on, order_id): one index range
        Index("ix_order_ordered_on", "ordered_on", "order_id"),
        # A partner's page merges one range per network supplier (connectors/record_queries.py): of a
        # sku, of an order-date range. The date range has no other filter than the buyer, which the
        # index carries: at 10M events (2.2M orders) a partner's week read ~1% matching rows of its
        # suppliers' ranges, each a table lookup without it (p95 53 ms over HTTP, docs/graphql.md)
        Index("ix_order_supplier_sku", "supplier_id", "sku", "order_id"),
        Index("ix_order_supplier_ordered_on_buyer", "supplier_id", "ordered_on", "order_id", "buyer_id"),
        # Cancelled orders are few (~2%): a partner's page of them walked every order of its suppliers
        # (PostgreSQL, 10M events: 220 ms); only the cancelled ones are in this index
        Index(
            "ix_order_supplier_cancelled_buyer",
            "supplier_id",
            "order_id",
            "buyer_id",
            sqlite_where=text("cancelled_t IS NOT NULL"),
            postgresql_where=text("cancelled_t IS NOT NULL"),
        ),
    )

    order_id: str = Field(primary_key=True, max_length=128)
    supplier_id: str = Field(max_length=128)
    buyer_id: str = Field(max_length=128)
    # placed
    sku: str | None = Field(default=None, max_length=128)
    quantity: float | None = None
    requested_date: date | None = None
    ordered_on: date | None = None
    unit_price: float | None = None
    currency: str | None = Field(default=None, max_length=3)
    placed_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    placed_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    placed_eid: str | None = Field(default=None, max_length=256)
    # confirmed
    confirmed_quantity: float | None = None
    promised_date: date | None = None
    confirmed_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    confirmed_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    confirmed_eid: str | None = Field(default=None, max_length=256)
    # shipped (the latest shipment of the order; every shipment is a ShipmentRecord)
    shipped_quantity: float | None = None
    shipped_on: date | None = None
    expected_delivery: date | None = None
    shipped_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    shipped_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    shipped_eid: str | None = Field(default=None, max_length=256)
    # delivered
    quantity_delivered: float | None = None
    delivered_on: date | None = None
    due_date: date | None = None
    """The promised date the delivery was measured against (from ``order.delivered``)."""
    delivered_quantity_ordered: float | None = None
    """The quantity ordered as the delivery states it (what "in full" is measured against)."""
    delivered_ordered_on: date | None = None
    """The order date as the delivery states it (the lead time's start when given)."""
    delivered_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    delivered_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    delivered_eid: str | None = Field(default=None, max_length=256)
    # cancelled
    cancelled_on: date | None = None
    cancel_reason: str | None = Field(default=None, max_length=4000)
    cancelled_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    cancelled_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    cancelled_eid: str | None = Field(default=None, max_length=256)


class ShipmentRecord(SQLModel, table=True):
    """One shipment of an order, and its latest announced delay."""

    __tablename__ = "shipment_record"
    __table_args__ = (
        # the buyer rides the supplier's ranges, so a partner's merge checks it on the index alone
        Index("ix_shipment_supplier_buyer", "supplier_id", "shipment_id", "buyer_id"),
        Index("ix_shipment_buyer", "buyer_id", "shipment_id"),
        # Delayed shipments of a supplier (and a partner's merge of them): only the delayed ones
        Index(
            "ix_shipment_supplier_delayed_buyer",
            "supplier_id",
            "shipment_id",
            "buyer_id",
            sqlite_where=text("delayed_t IS NOT NULL"),
            postgresql_where=text("delayed_t IS NOT NULL"),
        ),
    )

    shipment_id: str = Field(primary_key=True, max_length=128)
    order_id: str = Field(max_length=128, index=True)
    supplier_id: str = Field(max_length=128)
    buyer_id: str = Field(max_length=128)
    # shipped
    quantity: float | None = None
    shipped_on: date | None = None
    expected_delivery: date | None = None
    carrier_id: str | None = Field(default=None, max_length=128)
    shipped_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    shipped_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    shipped_eid: str | None = Field(default=None, max_length=256)
    # delayed
    new_expected_delivery: date | None = None
    delay_days: int | None = None
    delay_reason: str | None = Field(default=None, max_length=4000)
    delayed_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    delayed_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    delayed_eid: str | None = Field(default=None, max_length=256)


class StockRecord(SQLModel, table=True):
    """The latest stock report of one material at one enterprise (and site; ``""`` = no site given)."""

    __tablename__ = "stock_record"

    enterprise_id: str = Field(primary_key=True, max_length=128)
    sku: str = Field(primary_key=True, max_length=128, index=True)
    facility_id: str = Field(primary_key=True, max_length=128, default="")
    on_hand: float | None = None
    daily_usage: float | None = None
    reported_on: date | None = None
    report_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_eid: str | None = Field(default=None, max_length=256)


class CapacityRecord(SQLModel, table=True):
    """The latest capacity report of one enterprise (per material and site where given; ``""`` = all)."""

    __tablename__ = "capacity_record"

    enterprise_id: str = Field(primary_key=True, max_length=128)
    sku: str = Field(primary_key=True, max_length=128, default="")
    facility_id: str = Field(primary_key=True, max_length=128, default="")
    capacity_per_day: float | None = None
    utilization: float | None = None
    reported_on: date | None = None
    report_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_eid: str | None = Field(default=None, max_length=256)


class QualityIncidentRecord(SQLModel, table=True):
    """A quality incident a buyer (or the supplier) reported against a supplier's material."""

    __tablename__ = "quality_incident_record"
    __table_args__ = (Index("ix_quality_supplier_buyer", "supplier_id", "incident_id", "buyer_id"),)

    incident_id: str = Field(primary_key=True, max_length=128)
    supplier_id: str = Field(max_length=128)
    buyer_id: str | None = Field(default=None, max_length=128)
    sku: str | None = Field(default=None, max_length=128)
    severity: str | None = Field(default=None, max_length=16)
    defect_ppm: float | None = None
    description: str | None = Field(default=None, max_length=4000)
    reported_on: date | None = None
    report_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_eid: str | None = Field(default=None, max_length=256)


class EquipmentAlarmRecord(SQLModel, table=True):
    """An equipment alarm raised at an enterprise's site."""

    __tablename__ = "equipment_alarm_record"
    __table_args__ = (Index("ix_alarm_enterprise", "enterprise_id", "alarm_id"),)

    alarm_id: str = Field(primary_key=True, max_length=128)
    enterprise_id: str = Field(max_length=128)
    equipment_id: str | None = Field(default=None, max_length=128)
    facility_id: str | None = Field(default=None, max_length=128)
    signal: str | None = Field(default=None, max_length=256)
    severity: str | None = Field(default=None, max_length=16)
    predicted_failure_days: int | None = None
    raised_on: date | None = None
    report_t: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    report_eid: str | None = Field(default=None, max_length=256)


# -- field groups --------------------------------------------------------------------------------


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


ORDER_TABLE = _table(OrderRecord)
SHIPMENT_TABLE = _table(ShipmentRecord)
_PARTIES = ("supplier_id", "buyer_id")

ORDER_PLACED = Group(
    ORDER_TABLE,
    ("order_id",),
    "placed",
    (*_PARTIES, "sku", "quantity", "requested_date", "ordered_on", "unit_price", "currency"),
)
ORDER_CONFIRMED = Group(
    ORDER_TABLE, ("order_id",), "confirmed", (*_PARTIES, "confirmed_quantity", "promised_date")
)
ORDER_SHIPPED = Group(
    ORDER_TABLE, ("order_id",), "shipped", (*_PARTIES, "shipped_quantity", "shipped_on", "expected_delivery")
)
ORDER_DELIVERED = Group(
    ORDER_TABLE,
    ("order_id",),
    "delivered",
    (
        *_PARTIES,
        "quantity_delivered",
        "delivered_on",
        "due_date",
        "delivered_quantity_ordered",
        "delivered_ordered_on",
    ),
)
ORDER_CANCELLED = Group(ORDER_TABLE, ("order_id",), "cancelled", (*_PARTIES, "cancelled_on", "cancel_reason"))
SHIPMENT_SHIPPED = Group(
    SHIPMENT_TABLE,
    ("shipment_id",),
    "shipped",
    ("order_id", *_PARTIES, "quantity", "shipped_on", "expected_delivery", "carrier_id"),
)
SHIPMENT_DELAYED = Group(
    SHIPMENT_TABLE,
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

ALL_GROUPS: tuple[Group, ...] = (
    ORDER_PLACED,
    ORDER_CONFIRMED,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    ORDER_CANCELLED,
    SHIPMENT_SHIPPED,
    SHIPMENT_DELAYED,
    STOCK,
    CAPACITY,
    QUALITY,
    ALARM,
)
"""Every field group."""
