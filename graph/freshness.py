"""How fresh the derived state of the graph is (for the worker's metrics). Reads only."""

from __future__ import annotations

from neo4j import AsyncDriver, RoutingControl

_RISK_COMPUTED_AT = """
MATCH (e:Enterprise) WHERE e.riskScore IS NOT NULL
RETURN max(e.riskComputedAt) AS at
"""


async def risk_computed_at(driver: AsyncDriver, *, database: str = "neo4j") -> int | None:
    """Epoch ms of the newest enterprise risk score (None if none was computed yet)."""
    result = await driver.execute_query(_RISK_COMPUTED_AT, routing_=RoutingControl.READ, database_=database)
    at = result.records[0]["at"] if result.records else None
    return int(at) if at is not None else None
