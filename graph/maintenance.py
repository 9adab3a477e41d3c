"""Operator chores on the graph: delete a test or benchmark run's data by its id prefix."""

from __future__ import annotations

from neo4j import AsyncDriver

from graph import model

KEYED: tuple[tuple[str, str], ...] = (
    *((k.label, k.key) for k in model.NODE_KINDS),
    ("ShippingUnit", "id"),
    ("Region", "name"),
)
"""(label, key) of every node kind that carries a business id; a region's name carries its world's
prefix when a generated world was given one (real region names never start with an id prefix)."""


async def delete_by_prefix(driver: AsyncDriver, prefix: str, *, database: str = "neo4j") -> int:
    """Detach-delete every node whose business key starts with ``prefix`` (in batches); return the count.

    Regions named with the prefix go too (a prefixed generated world's); regions with real names are
    kept. Refuses an empty or very short prefix: it would hit others' data.
    """
    if len(prefix) < 6:
        raise ValueError(f"prefix {prefix!r} is too short to delete by")
    total = 0
    async with driver.session(database=database) as session:
        for label, key in KEYED:
            result = await session.run(
                f"MATCH (n:{label}) WHERE n.{key} STARTS WITH $p "
                "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS",
                p=prefix,
            )
            summary = await result.consume()
            total += summary.counters.nodes_deleted
    return total


async def delete_offsets(driver: AsyncDriver, group: str, *, database: str = "neo4j") -> None:
    """Forget the stored offsets (and unpublished change messages, and supply links marked for a KPI
    recheck) of one consumer group (the graph is then rebuilt from Kafka's)."""
    for label in ("KafkaOffset", "ChangeOutbox", "KpiRecheck"):
        await driver.execute_query(
            f"MATCH (k:{label}) WHERE k.group = $g DELETE k", g=group, database_=database
        )
