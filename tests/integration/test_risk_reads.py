"""The incremental path's reads (``RiskStore.facts_of``) cost what the touched enterprises have, not
what the graph has: measured in Neo4j db hits on a graph with many links and open disruptions."""

from __future__ import annotations

from typing import Any

import neo4j

from graph.risk.settings import RiskSettings
from graph.risk.store import FACTS_OF, LINKS_OF, RiskStore

LINKS = 3_000
DISRUPTIONS = 300


def _db_hits(plan: Any) -> int:
    return int(plan.get("dbHits", 0)) + sum(_db_hits(c) for c in plan.get("children", []))


async def _profile(driver: neo4j.AsyncDriver, query: str, **params: Any) -> int:
    _, summary, _ = await driver.execute_query("PROFILE " + query, params)
    assert summary.profile is not None
    return _db_hits(summary.profile)


async def _world(driver: neo4j.AsyncDriver, p: str) -> None:
    """300 enterprises with 3,000 links among them and 300 open disruptions elsewhere; ``p``+``focus``
    buys from ``p``+``a`` and supplies ``p``+``b``, runs one facility hit by a disruption, sits in a
    region hit by another."""
    await driver.execute_query(
        """
        UNWIND range(0, 299) AS i
        CREATE (:Enterprise {id: $p + 'n' + i, name: 'n' + i, region: $p + 'elsewhere'})
        """,
        p=p,
    )
    await driver.execute_query(
        """
        UNWIND range(0, $links - 1) AS i
        MATCH (s:Enterprise {id: $p + 'n' + (i % 300)}), (b:Enterprise {id: $p + 'n' + ((i * 7 + 1) % 300)})
        CREATE (s)-[:SUPPLIES {sku: 'sku' + i, share: 1.0}]->(b)
        """,
        p=p,
        links=LINKS,
    )
    await driver.execute_query(
        """
        UNWIND range(0, $n - 1) AS i
        MATCH (e:Enterprise {id: $p + 'n' + (i % 300)})
        CREATE (:Disruption {id: $p + 'd' + i, status: 'open', severity: 'high', kind: 'fire'})
                 -[:AFFECTS]->(e)
        """,
        p=p,
        n=DISRUPTIONS,
    )
    await driver.execute_query(
        """
        CREATE (f:Enterprise {id: $p + 'focus', name: 'focus', region: $p + 'r'}),
               (a:Enterprise {id: $p + 'a'}), (b:Enterprise {id: $p + 'b'}),
               (a)-[:SUPPLIES {sku: 'ore', share: 1.0}]->(f)-[:SUPPLIES {sku: 'steel', share: 0.5}]->(b),
               (fac:Facility {id: $p + 'focus-f1'})-[:OPERATED_BY]->(f),
               (:Disruption {id: $p + 'fire', status: 'open', severity: 'critical', kind: 'fire'})
                 -[:AFFECTS]->(fac),
               (r:Region {name: $p + 'r'}), (f)-[:LOCATED_IN]->(r),
               (:Disruption {id: $p + 'flood', status: 'open', severity: 'medium', kind: 'flood'})
                 -[:AFFECTS]->(r),
               (:Disruption {id: $p + 'old', status: 'closed', severity: 'low'})-[:AFFECTS]->(f)
        """,
        p=p,
    )


async def test_facts_of_one_enterprise_reads_its_own_links_and_disruptions_not_the_graphs(
    driver: neo4j.AsyncDriver, prefix: str
) -> None:
    await _world(driver, prefix)
    focus = [prefix + "focus"]

    links_hits = await _profile(driver, LINKS_OF, ids=focus)
    facts_hits = await _profile(driver, FACTS_OF, ids=focus, certificatesUntil=None)
    # The graph has 3,000+ links and 300+ open disruptions; the enterprise has 2 links, 1 facility,
    # 1 region and 3 disruptions. A scan of either would cost thousands of hits.
    assert links_hits < 200, f"LINKS_OF: {links_hits} db hits for one enterprise"
    assert facts_hits < 300, f"FACTS_OF: {facts_hits} db hits for one enterprise"

    ents, links = await RiskStore(driver, RiskSettings()).facts_of(focus)
    assert [e.id for e in ents] == focus
    assert sorted((d.id, d.where) for d in ents[0].disruptions) == [
        (prefix + "fire", "facility"),
        (prefix + "flood", "region"),
    ]
    assert ents[0].facilities == (prefix + "focus-f1",)
    assert sorted((lk.supplier, lk.buyer, lk.sku, lk.share) for lk in links) == [
        (prefix + "a", prefix + "focus", "ore", 1.0),
        (prefix + "focus", prefix + "b", "steel", 0.5),
    ]
