"""The graph holds no orders: order events write none, and the migration removes those of older releases."""

from __future__ import annotations

import neo4j

from graph.migrations import NO_ORDER_NODES, migrate
from supplynet import bootstrap
from supplynet.settings import Settings


async def test_the_migration_removes_order_nodes_and_their_schema(stack: Settings, run_id: str) -> None:
    driver: neo4j.AsyncDriver = bootstrap.async_driver(stack)
    try:
        await migrate(driver)
        # What an older release left: Order nodes with their constraint and indexes, migration not run.
        await driver.execute_query(
            "CREATE CONSTRAINT order_id IF NOT EXISTS FOR (n:Order) REQUIRE n.id IS UNIQUE"
        )
        await driver.execute_query(
            "CREATE INDEX order_supplier IF NOT EXISTS FOR (o:Order) ON (o.supplierId)"
        )
        await driver.execute_query(
            "UNWIND range(1, 25) AS i CREATE (:Order {id: $p + toString(i), supplierId: 's'})",
            p=f"{run_id}-o",
        )
        await driver.execute_query("MATCH (m:SchemaMigration {id: $id}) DELETE m", id=NO_ORDER_NODES)

        await migrate(driver)

        records, _, _ = await driver.execute_query("MATCH (o:Order) RETURN count(o) AS n")
        assert records[0]["n"] == 0
        records, _, _ = await driver.execute_query(
            "SHOW INDEXES YIELD name, labelsOrTypes WHERE 'Order' IN labelsOrTypes RETURN name"
        )
        assert records == []
    finally:
        await driver.close()
