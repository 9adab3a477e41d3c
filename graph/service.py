"""The installed base in Neo4j: the service job's checkpoint (health rows with its offsets) and the
reads behind the GraphQL service views. Parameterised Cypher only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from neo4j import AsyncDriver, RoutingControl

from graph import model
from graph.health import Health, HealthSettings, bands_of
from graph.rows import GraphRows, Mutations, Stamp, version
from graph.writer import GraphWriter, Position

_LOAD = """
MATCH (q:Equipment)
RETURN q.id AS id, q.makerId AS maker, q.customerId AS customer, q.facilityId AS facility,
       q.limits AS limits, q.healthState AS state, q.readings AS readings
"""


async def load_health(driver: AsyncDriver, *, database: str) -> dict[str, Health]:
    """Every equipment's indicator state as last checkpointed (or fresh, for equipment without one)."""
    result = await driver.execute_query(_LOAD, routing_=RoutingControl.READ, database_=database)
    out: dict[str, Health] = {}
    for r in result.records:
        h = Health(str(r["id"]), r["maker"], r["customer"], r["facility"], bands_of(r["limits"]))
        h.load_state(r["state"], r["readings"])
        out[h.equipment_id] = h
    return out


def health_rows(
    equipment: Iterable[Health], settings: HealthSettings, *, flushed_ms: int, sequence: int
) -> Mutations:
    """One ``health`` row per equipment given (the batch's changed ones). Versioned by the flush's
    wall time and a per-process sequence, so a later flush always wins. Pure."""
    b = GraphRows()
    for h in equipment:
        sc = h.score(settings)
        eid = h.last_event_id or "service"
        st = Stamp(
            version(flushed_ms, sequence, eid), eid, "supplynet/service", flushed_ms, _today(flushed_ms)
        )
        fields = {
            "health": sc.health,
            "healthStatus": sc.status,
            "alarmRate": sc.alarm_rate,
            "exceedance": sc.exceedance,
            "worstMetric": sc.worst_metric,
            "healthReason": sc.reason,
            "readings": h.readings,
            "healthAt": h.at_ms,
            "healthState": h.state_json(),
        }
        b.node(model.EQUIPMENT, h.equipment_id, "health", fields, st)
    return b.result()


def _today(ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).date()


async def checkpoint(writer: GraphWriter, rows: Mutations, offsets: Sequence[Position]) -> None:
    """The health rows and the offsets they cover, in one transaction (retried until it commits)."""
    await writer.write(rows, offsets)


# -- reads for the API -------------------------------------------------------------------------------

_EQUIPMENT_FIELDS = """
{id: q.id, sku: q.sku, serial: q.serial, makerId: q.makerId, customerId: q.customerId,
 facilityId: q.facilityId, installedOn: toString(q.installedOn), health: q.health,
 healthStatus: q.healthStatus, alarmRate: q.alarmRate, exceedance: q.exceedance,
 worstMetric: q.worstMetric, healthReason: q.healthReason, readings: q.readings, healthAt: q.healthAt}
"""

_WORK_ORDER_FIELDS = """
{id: w.id, equipmentId: w.equipmentId, customerId: w.customerId, status: w.status, reason: w.reason,
 priority: w.priority, requestedAt: w.requestedAt, scheduledFor: toString(w.scheduledFor),
 technician: w.technician, completedOn: toString(w.completedOn), findings: w.findings,
 partsReplaced: w.partsReplaced, restored: w.restored}
"""

_INSTALLED_BASE = f"""
MATCH (q:Equipment) WHERE q.makerId = $maker AND ($allowed IS NULL OR q.customerId IN $allowed)
WITH q ORDER BY coalesce(q.health, 1.0), q.id LIMIT $limit
RETURN {_EQUIPMENT_FIELDS} AS equipment
"""

_CUSTOMER_EQUIPMENT = f"""
MATCH (q:Equipment) WHERE q.customerId = $customer AND ($allowed IS NULL OR q.makerId IN $allowed)
WITH q ORDER BY q.id LIMIT $limit
RETURN {_EQUIPMENT_FIELDS} AS equipment
"""

_WORK_ORDERS = f"""
UNWIND $ids AS eid
MATCH (w:WorkOrder) WHERE w.equipmentId = eid AND ($open = false OR w.status <> 'completed')
RETURN eid, {_WORK_ORDER_FIELDS} AS wo ORDER BY eid, coalesce(w.requestedAt, 0), w.id
"""


class ServiceViews:
    """The installed base and its work orders, read-only. ``allowed``: the enterprises the caller may
    see (``None``: all); equipment whose other party is outside it is left out."""

    def __init__(self, driver: AsyncDriver, *, database: str = "neo4j") -> None:
        self.driver = driver
        self.database = database

    async def _read(self, query: str, **params: Any) -> list[Any]:
        result = await self.driver.execute_query(
            query, params, routing_=RoutingControl.READ, database_=self.database
        )
        return list(result.records)

    async def installed_base(
        self, maker_id: str, *, allowed: list[str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """The maker's equipment, least healthy first (no health yet counts as 1)."""
        records = await self._read(_INSTALLED_BASE, maker=maker_id, allowed=allowed, limit=limit)
        return [dict(r["equipment"]) for r in records]

    async def customer_equipment(
        self, customer_id: str, *, allowed: list[str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """The customer's equipment by id."""
        records = await self._read(_CUSTOMER_EQUIPMENT, customer=customer_id, allowed=allowed, limit=limit)
        return [dict(r["equipment"]) for r in records]

    async def work_orders(
        self, equipment_ids: list[str], *, open_only: bool
    ) -> dict[str, list[dict[str, Any]]]:
        """equipment id -> its work orders, oldest request first (``open_only``: not completed)."""
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in equipment_ids}
        for r in await self._read(_WORK_ORDERS, ids=equipment_ids, open=open_only):
            out[str(r["eid"])].append(dict(r["wo"]))
        return out
