"""The graph holds no capacity figures and no quality incidents: the migration removes those of older
releases (the events write none: tests/integration/test_resourcing.py)."""

from __future__ import annotations

import neo4j

from graph.migrations import NO_FLOW_OF_CAPACITY_OR_QUALITY, migrate
from supplynet import bootstrap
from supplynet.settings import Settings

_CAPACITY = {"capacityPerDay": 100.0, "utilization": 0.5, "capacityReportedAt": 1, "capacityV": "v"}


async def test_the_migration_removes_incident_nodes_and_capacity_properties(
    stack: Settings, run_id: str
) -> None:
    driver: neo4j.AsyncDriver = bootstrap.async_driver(stack)
    p = f"{run_id}-nf-"
    try:
        await migrate(driver)
        # What an older release left: incident nodes with their schema, capacity on the network.
        await driver.execute_query(
            "CREATE CONSTRAINT quality_incident_id IF NOT EXISTS "
            "FOR (n:QualityIncident) REQUIRE n.id IS UNIQUE"
        )
        await driver.execute_query(
            "CREATE INDEX quality_incident_supplier IF NOT EXISTS FOR (q:QualityIncident) ON (q.supplierId)"
        )
        await driver.execute_query(
            """
            CREATE (e:Enterprise {id: $p + 'mill'}) SET e += $cap
            CREATE (f:Facility {id: $p + 'site'}) SET f += $cap
            CREATE (e)-[x:PRODUCES {site: ''}]->(:Material {sku: $p + 'hrc'})
            SET x += $cap, x.lastVersion = 'v'
            WITH e UNWIND range(1, 25) AS i
            CREATE (:QualityIncident {id: $p + toString(i), supplierId: e.id})-[:AGAINST]->(e)
            """,
            p=p,
            cap=_CAPACITY,
        )
        await driver.execute_query(
            "MATCH (m:SchemaMigration {id: $id}) DELETE m", id=NO_FLOW_OF_CAPACITY_OR_QUALITY
        )

        await migrate(driver)

        rec, _, _ = await driver.execute_query(
            """
            CALL () { MATCH (q:QualityIncident) RETURN count(q) AS incidents }
            MATCH (e:Enterprise {id: $p + 'mill'})-[x:PRODUCES]->(:Material {sku: $p + 'hrc'})
            MATCH (f:Facility {id: $p + 'site'})
            RETURN incidents, COUNT { (e)<-[:AGAINST]-() } AS against,
                   [k IN keys(e) + keys(f) + keys(x) WHERE k IN $names] AS left, x.lastVersion AS kept
            """,
            p=p,
            names=list(_CAPACITY),
        )
        assert dict(rec[0]) == {"incidents": 0, "against": 0, "left": [], "kept": "v"}  # PRODUCES stays
        rec, _, _ = await driver.execute_query(
            "SHOW INDEXES YIELD name, labelsOrTypes WHERE 'QualityIncident' IN labelsOrTypes RETURN name"
        )
        assert rec == []
    finally:
        await driver.execute_query(
            "MATCH (x) WHERE (x:Enterprise OR x:Facility OR x:Material) "
            "AND coalesce(x.id, x.sku) STARTS WITH $p DETACH DELETE x",
            p=p,
        )
        await driver.close()
