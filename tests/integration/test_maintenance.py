"""``delete_by_prefix`` against the real Neo4j: a prefixed world's data goes, regions included, and
nothing of another id space or a real region name is touched."""

from __future__ import annotations

import asyncio
import uuid

from graph.maintenance import delete_by_prefix
from supplynet import bootstrap
from supplynet.settings import Settings

SEED = """
MERGE (r:Region {name: $p + '湖北省 荆州市'})
MERGE (real:Region {name: '湖北省 荆州市'})
MERGE (e:Enterprise {id: $p + 'gear-maker-000001'})-[:LOCATED_IN]->(r)
MERGE (o:Enterprise {id: $other + 'gear-maker-000001'})-[:LOCATED_IN]->(real)
"""


def test_a_prefixed_worlds_regions_go_with_it_and_real_regions_stay(stack: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    prefix, other = f"mt{tag}-", f"mo{tag}-"

    async def run() -> tuple[int, list[str], list[str]]:
        driver = bootstrap.async_driver(stack)
        try:
            await driver.execute_query(SEED, p=prefix, other=other)
            deleted = await delete_by_prefix(driver, prefix)
            records, _, _ = await driver.execute_query(
                "MATCH (n) WHERE n:Region AND n.name ENDS WITH '湖北省 荆州市' "
                "AND (n.name STARTS WITH $p OR n.name = '湖北省 荆州市') RETURN n.name AS name",
                p=prefix,
            )
            left, _, _ = await driver.execute_query(
                "MATCH (e:Enterprise) WHERE e.id STARTS WITH $p OR e.id STARTS WITH $other RETURN e.id AS id",
                p=prefix,
                other=other,
            )
            await delete_by_prefix(driver, other)
            return deleted, [r["name"] for r in records], [r["id"] for r in left]
        finally:
            await driver.close()

    deleted, regions, enterprises = asyncio.run(run())
    assert deleted == 2
    assert regions == ["湖北省 荆州市"]
    assert enterprises == [f"{other}gear-maker-000001"]
