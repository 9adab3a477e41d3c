"""Operations: stock, capacity, quality incidents and equipment alarms (the flow: graph rows and records)."""

from __future__ import annotations

from typing import Any

from graph import model
from graph.registry.unit import EventUnit, Named, RecordRows, named
from graph.rows import GraphRows, Stamp
from schema.events import CapacityReported, EquipmentAlarm, InventoryReported, QualityIncident
from schema.records import ALARM, CAPACITY, QUALITY, STOCK


def _inventory(b: GraphRows, d: InventoryReported, st: Stamp) -> None:
    """No graph rows: the stock is a record (``_inventory_records``) and its days of cover reach the
    enterprise with the batch's KPI row (``connectors.flow_store``)."""


def _inventory_records(d: InventoryReported, st: Stamp) -> RecordRows:
    key = {"enterprise_id": d.enterprise_id, "sku": d.sku, "facility_id": d.facility_id or ""}
    return [(STOCK, {**key, "on_hand": d.on_hand, "daily_usage": d.daily_usage, "reported_on": st.on})]


def _capacity(b: GraphRows, d: CapacityReported, st: Stamp) -> None:
    """A report of a sku makes the enterprise a producer of it at the site (network, written once);
    capacity and utilisation are records only."""
    if d.sku is not None:
        b.rel(model.PRODUCES, d.enterprise_id, d.sku, {"site": d.facility_id or ""}, "", {}, st)


def _capacity_records(d: CapacityReported, st: Stamp) -> RecordRows:
    key = {"enterprise_id": d.enterprise_id, "sku": d.sku or "", "facility_id": d.facility_id or ""}
    row = {**key, "capacity_per_day": d.capacity_per_day, "utilization": d.utilization, "reported_on": st.on}
    return [(CAPACITY, row)]


def _site(d: InventoryReported | CapacityReported | EquipmentAlarm) -> Named:
    return named(enterprises=[d.enterprise_id], facilities=[d.facility_id])


def _quality(b: GraphRows, d: QualityIncident, st: Stamp) -> None:
    """Quality incidents write no graph rows: they are records, and the supplier's and link's KPI
    buckets count them (``connectors.flow_store``)."""


def _quality_records(d: QualityIncident, st: Stamp) -> RecordRows:
    row = {
        "incident_id": d.incident_id,
        "supplier_id": d.supplier_id,
        "buyer_id": d.buyer_id,
        "sku": d.sku,
        "severity": d.severity.value,
        "defect_ppm": d.defect_ppm,
        "description": d.description,
        "reported_on": st.on,
    }
    return [(QUALITY, row)]


def _alarm(b: GraphRows, d: EquipmentAlarm, st: Stamp) -> None:
    """No graph rows: the alarm is a record (``_alarm_records``); a high or critical one is counted in
    its enterprise's and facility's recent alarms on the enterprise's KPI row (``connectors.flow_store``)."""


def _alarm_records(d: EquipmentAlarm, st: Stamp) -> RecordRows:
    row = {
        "alarm_id": d.alarm_id,
        "enterprise_id": d.enterprise_id,
        "equipment_id": d.equipment_id,
        "facility_id": d.facility_id,
        "signal": d.signal,
        "severity": d.severity.value,
        "predicted_failure_days": d.predicted_failure_days,
        "raised_on": st.on,
    }
    return [(ALARM, row)]


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(InventoryReported, _inventory, _site, _inventory_records),
    EventUnit(CapacityReported, _capacity, _site, _capacity_records),
    EventUnit(
        QualityIncident, _quality, lambda d: named(enterprises=[d.supplier_id, d.buyer_id]), _quality_records
    ),
    EventUnit(EquipmentAlarm, _alarm, _site, _alarm_records),
)
