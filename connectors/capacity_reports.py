"""Capacity reports of materials from the record store, per (enterprise, sku): what re-sourcing ranks
spare capacity by (``graph.resourcing``). The graph says who produces or supplies a sku; how much of it
they can make and how busy they are is flow, kept in ``CapacityRecord`` rows."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine, Table, select

from schema.records import CapacityRecord

Pair = tuple[str, str]
"""(enterprise id, sku)"""

CAPACITY: Table = CapacityRecord.__table__  # type: ignore[attr-defined]

CHUNK = 500
"""Enterprises per statement (bounded parameter lists on SQLite and PostgreSQL alike)."""


def capacity_sites(engine: Engine, pairs: Collection[Pair]) -> dict[Pair, list[dict[str, Any]]]:
    """The latest capacity report of each site of each (enterprise, sku) in ``pairs``, as
    ``{"capacityPerDay", "utilization", "capacityReportedAt"}`` (epoch ms of the report's event), sites
    in id order. Only reports that name the sku count; a pair without one is left out. One primary-key
    range read per ``CHUNK`` enterprises. Sync: call off the event loop."""
    wanted = set(pairs)
    if not wanted:
        return {}
    c = CAPACITY.c
    enterprises = sorted({e for e, _ in wanted})
    skus = sorted({s for _, s in wanted})
    out: dict[Pair, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for i in range(0, len(enterprises), CHUNK):
            chunk = enterprises[i : i + CHUNK]
            stmt = (
                select(c.enterprise_id, c.sku, c.capacity_per_day, c.utilization, c.report_t)
                .where(c.enterprise_id.in_(chunk), c.sku.in_(skus), c.capacity_per_day.is_not(None))
                .order_by(c.enterprise_id, c.sku, c.facility_id)
            )
            for r in conn.execute(stmt):
                pair = (r.enterprise_id, r.sku)
                if pair in wanted:
                    out.setdefault(pair, []).append(
                        {
                            "capacityPerDay": r.capacity_per_day,
                            "utilization": r.utilization,
                            "capacityReportedAt": r.report_t,
                        }
                    )
    return out


__all__ = ["CAPACITY", "CHUNK", "Pair", "capacity_sites"]
