"""The flow's aggregates in the record store: day buckets per supply link, open orders, high/critical
equipment alarms per enterprise site and day, the stream clock.

Maintained by ``connectors.flow_store`` in the same SQL transaction as the records they summarise, by
deltas against the records' prior state, so they always equal a fresh aggregation of the stored
records (replays, duplicates and any delivery order included). A link is (supplier, buyer, sku);
``""`` stands for a buyer or sku the records do not name (an incident without a buyer, a delivery
whose placement has not arrived): such rows count for the supplier, never for a named link.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel


class LinkDay(SQLModel, table=True):
    """One supply link's deliveries and quality incidents on one UTC day (of the event time)."""

    __tablename__ = "link_day"
    __table_args__ = (
        Index("ix_link_day_day", "day"),
        # A touched supplier's KPI read is a window of days: this range, not every day its links have
        # kept (the primary key ranges over buyer and sku first); 2.1x on bench.kpi_refresh at 400 days
        Index("ix_link_day_supplier_day", "supplier_id", "day"),
    )

    supplier_id: str = Field(primary_key=True, max_length=128)
    buyer_id: str = Field(primary_key=True, max_length=128)
    sku: str = Field(primary_key=True, max_length=128)
    day: date = Field(primary_key=True)
    deliveries: int = 0
    on_time: int = 0
    in_full: int = 0
    otif: int = 0
    lead_count: int = 0
    """Deliveries with a lead time (an order date known)."""
    lead_sum: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    """Sum of the lead times in whole days."""
    incidents: int = 0


class AlarmDay(SQLModel, table=True):
    """High and critical equipment alarms raised at one enterprise's site on one UTC day (of the event
    time); ``facility_id`` is ``""`` for an alarm that names no facility."""

    __tablename__ = "alarm_day"
    __table_args__ = (Index("ix_alarm_day_day", "day"),)

    enterprise_id: str = Field(primary_key=True, max_length=128)
    facility_id: str = Field(primary_key=True, max_length=128)
    day: date = Field(primary_key=True)
    alarms: int = 0


class LinkLeadTime(SQLModel, table=True):
    """The lead-time histogram of one link's deliveries on one day: how many took ``lead_days`` days."""

    __tablename__ = "link_lead_time"
    __table_args__ = (
        Index("ix_link_lead_supplier_day", "supplier_id", "day"),
    )  # as ix_link_day_supplier_day

    supplier_id: str = Field(primary_key=True, max_length=128)
    buyer_id: str = Field(primary_key=True, max_length=128)
    sku: str = Field(primary_key=True, max_length=128)
    day: date = Field(primary_key=True)
    lead_days: int = Field(primary_key=True)
    deliveries: int = 0


class LinkOpen(SQLModel, table=True):
    """Orders placed and neither delivered nor cancelled, per link (not windowed)."""

    __tablename__ = "link_open"

    supplier_id: str = Field(primary_key=True, max_length=128)
    buyer_id: str = Field(primary_key=True, max_length=128)
    sku: str = Field(primary_key=True, max_length=128)
    open_orders: int = 0


class SupplierRevision(SQLModel, table=True):
    """A counter bumped by every record transaction that touches a supplier's flow.

    Bumped first in the transaction, so concurrent writers of one supplier's flow run one after the
    other; the KPIs computed in that transaction carry it, and the graph keeps the highest (an older
    computation never overwrites a newer one).
    """

    __tablename__ = "supplier_revision"

    supplier_id: str = Field(primary_key=True, max_length=128)
    revision: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class StreamClock(SQLModel, table=True):
    """The stream's event-time clock: the newest event time of any record written (epoch ms)."""

    __tablename__ = "stream_clock"

    id: int = Field(primary_key=True)
    newest_t: int = Field(sa_column=Column(BigInteger, nullable=False))


class ClockDue(SQLModel, table=True):
    """A KPI row the stream clock moved that the graph has not committed yet.

    When a record transaction moves the clock into a new day, every enterprise with a delivery, an
    incident or an alarm day leaving a window needs its KPI row again, with its links — O(network),
    not O(batch). The transaction names those rows here (``buyer_id`` and ``sku`` ``""``: the
    enterprise's own row) instead of computing them, and the project stage writes them to the graph in
    bounded transactions ahead of the batch, deleting each entry once the graph committed its row
    (``streams.projection``). So the batch's graph transaction and the worker's memory stay O(batch),
    and a worker killed in between leaves the entries to the next one. ``due_t`` is the clock that named
    the entry: an entry a later day named again is kept until a row at least that new is written.
    """

    __tablename__ = "clock_due"

    supplier_id: str = Field(primary_key=True, max_length=128)
    buyer_id: str = Field(primary_key=True, max_length=128)
    sku: str = Field(primary_key=True, max_length=128)
    due_t: int = Field(sa_column=Column(BigInteger, nullable=False))
