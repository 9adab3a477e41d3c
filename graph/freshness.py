"""How fresh the derived state of the graph is (for the worker's metrics). Reads only."""

from __future__ import annotations

from neo4j import AsyncDriver, RoutingControl

_RISK_COMPUTED_AT = """
CALL () { MATCH (e:Enterprise) WHERE e.riskScore IS NOT NULL RETURN max(e.riskComputedAt) AS scored }
CALL () { MATCH (r:RiskRun) RETURN max(r.at) AS run }
RETURN CASE WHEN run IS NULL OR scored > run THEN scored ELSE run END AS at
"""


async def risk_computed_at(driver: AsyncDriver, *, database: str = "neo4j") -> int | None:
    """Epoch ms when the risk model was last current: the newest full recompute's mark (``RiskRun``;
    unchanged scores are not rewritten) or the newest score an incremental rescoring wrote, whichever
    is later (None if none was computed yet)."""
    result = await driver.execute_query(_RISK_COMPUTED_AT, routing_=RoutingControl.READ, database_=database)
    at = result.records[0]["at"] if result.records else None
    return int(at) if at is not None else None
