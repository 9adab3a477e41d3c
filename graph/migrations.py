"""Constraints and indexes of the partner graph. Every statement is idempotent (``IF NOT EXISTS``)."""

from __future__ import annotations

from neo4j import AsyncDriver

STATEMENTS: tuple[str, ...] = (
    "CREATE CONSTRAINT enterprise_id IF NOT EXISTS FOR (e:Enterprise) REQUIRE e.id IS UNIQUE",
    "CREATE INDEX enterprise_industry IF NOT EXISTS FOR (e:Enterprise) ON (e.industry)",
    "CREATE INDEX enterprise_region IF NOT EXISTS FOR (e:Enterprise) ON (e.region)",
    "CREATE INDEX supplies_sku IF NOT EXISTS FOR ()-[s:SUPPLIES]-() ON (s.sku)",
)


async def migrate(driver: AsyncDriver, *, database: str = "neo4j") -> int:
    """Apply every constraint and index; return how many statements ran. Safe to run again."""
    for statement in STATEMENTS:
        await driver.execute_query(statement, database_=database)
    await driver.execute_query("CALL db.awaitIndexes(60)", database_=database)
    return len(STATEMENTS)
