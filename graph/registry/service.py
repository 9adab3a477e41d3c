"""Service-oriented manufacturing: the installed base and its maintenance work orders (graph rows only).

``equipment.telemetry`` writes nothing here: readings are aggregated by the service stream job
(``streams/service.py``), which writes at most one health row per equipment and flush.
"""

from __future__ import annotations

from typing import Any

import orjson

from graph import model
from graph.registry.unit import EventUnit, Named, named
from graph.rows import GraphRows, Stamp
from schema.events import (
    EquipmentInstalled,
    EquipmentTelemetry,
    MaintenanceCompleted,
    MaintenanceRequested,
    MaintenanceScheduled,
)


def limits_json(d: EquipmentInstalled) -> str:
    """The equipment's metric bands as the JSON string the graph stores (a list of maps is not a
    Neo4j property type)."""
    return orjson.dumps(
        [{"metric": x.metric, "low": x.low, "high": x.high, "unit": x.unit} for x in d.limits]
    ).decode()


def _installed(b: GraphRows, d: EquipmentInstalled, st: Stamp) -> None:
    fields = {
        "sku": d.sku,
        "serial": d.serial,
        "installedOn": d.installed_on,
        "limits": limits_json(d),
        "installedAt": st.t,
    }
    b.node(model.EQUIPMENT, d.equipment_id, "installed", fields, st)
    b.link(model.EQUIPMENT_MAKER, d.equipment_id, d.maker_id, st)
    b.link(model.EQUIPMENT_CUSTOMER, d.equipment_id, d.customer_id, st)
    b.link(model.EQUIPMENT_FACILITY, d.equipment_id, d.facility_id, st)
    b.link(model.EQUIPMENT_PRODUCT, d.equipment_id, d.sku, st)


def _reading(b: GraphRows, d: EquipmentTelemetry, st: Stamp) -> None:
    """Nothing: a reading never becomes a graph row of its own."""


def _work_order(
    b: GraphRows, d: MaintenanceRequested | MaintenanceScheduled | MaintenanceCompleted, st: Stamp
) -> None:
    b.link(model.WORK_ORDER_EQUIPMENT, d.work_order_id, d.equipment_id, st)
    b.link(model.WORK_ORDER_CUSTOMER, d.work_order_id, d.customer_id, st)


def _requested(b: GraphRows, d: MaintenanceRequested, st: Stamp) -> None:
    fields = {"reason": d.reason, "priority": d.priority.value, "requestedAt": st.t}
    b.node(model.WORK_ORDER, d.work_order_id, "requested", fields, st)
    _work_order(b, d, st)


def _scheduled(b: GraphRows, d: MaintenanceScheduled, st: Stamp) -> None:
    fields = {"scheduledFor": d.scheduled_for, "technician": d.technician, "scheduledAt": st.t}
    b.node(model.WORK_ORDER, d.work_order_id, "scheduled", fields, st)
    _work_order(b, d, st)


def _completed(b: GraphRows, d: MaintenanceCompleted, st: Stamp) -> None:
    fields = {
        "completedOn": d.completed_on,
        "findings": d.findings,
        "partsReplaced": list(d.parts_replaced),
        "restored": d.restored,
        "completedAt": st.t,
    }
    b.node(model.WORK_ORDER, d.work_order_id, "completed", fields, st)
    _work_order(b, d, st)


def _installed_names(d: EquipmentInstalled) -> Named:
    return named(enterprises=[d.maker_id, d.customer_id], facilities=[d.facility_id])


def _customer(
    d: EquipmentTelemetry | MaintenanceRequested | MaintenanceScheduled | MaintenanceCompleted,
) -> Named:
    """The enterprise where the equipment runs (a batch of readings names each customer once)."""
    return named(enterprises=[d.customer_id])


UNITS: tuple[EventUnit[Any], ...] = (
    EventUnit(EquipmentInstalled, _installed, _installed_names),
    EventUnit(EquipmentTelemetry, _reading, _customer, streamed=True),
    EventUnit(MaintenanceRequested, _requested, _customer),
    EventUnit(MaintenanceScheduled, _scheduled, _customer),
    EventUnit(MaintenanceCompleted, _completed, _customer),
)
