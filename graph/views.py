"""Read views of the partner graph. Every query is parameterised and batched by key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import AsyncDriver, RoutingControl

Record = dict[str, Any]

_ENTERPRISES = """
UNWIND $ids AS id
MATCH (e:Enterprise {id: id})
RETURN e {.id, .name, .industry, .region, .country, .lastEventId, .lastSource, .lastEventAt} AS e
"""

_SUPPLIERS = """
UNWIND $ids AS id
MATCH (s:Enterprise)-[x:SUPPLIES]->(:Enterprise {id: id})
RETURN id AS key, s {.id, .name, .industry, .region, .country} AS partner,
       x {.sku, .share, .leadTimeDays, .validFrom, .validTo} AS link
ORDER BY key, partner.id, link.sku
"""

_CUSTOMERS = """
UNWIND $ids AS id
MATCH (:Enterprise {id: id})-[x:SUPPLIES]->(b:Enterprise)
RETURN id AS key, b {.id, .name, .industry, .region, .country} AS partner,
       x {.sku, .share, .leadTimeDays, .validFrom, .validTo} AS link
ORDER BY key, partner.id, link.sku
"""


class GraphViews:
    """Batched reads: each method takes many keys and makes one round trip."""

    def __init__(self, driver: AsyncDriver, *, database: str = "neo4j") -> None:
        self.driver = driver
        self.database = database

    async def _read(self, query: str, **params: Any) -> list[Record]:
        result = await self.driver.execute_query(
            query,
            params,
            routing_=RoutingControl.READ,
            database_=self.database,
        )
        return [r.data() for r in result.records]

    async def enterprises(self, ids: Sequence[str]) -> list[Record | None]:
        """Enterprises in the order of ``ids``; ``None`` where an id is unknown."""
        found = {r["e"]["id"]: r["e"] for r in await self._read(_ENTERPRISES, ids=list(ids))}
        return [found.get(i) for i in ids]

    async def _links(self, query: str, ids: Sequence[str]) -> list[list[Record]]:
        grouped: dict[str, list[Record]] = {i: [] for i in ids}
        for r in await self._read(query, ids=list(ids)):
            grouped[r["key"]].append({"partner": r["partner"], "link": r["link"]})
        return [grouped[i] for i in ids]

    async def suppliers(self, ids: Sequence[str]) -> list[list[Record]]:
        """For each buyer id: its suppliers with the supply link (sku, share, lead time)."""
        return await self._links(_SUPPLIERS, ids)

    async def customers(self, ids: Sequence[str]) -> list[list[Record]]:
        """For each supplier id: its buyers with the supply link."""
        return await self._links(_CUSTOMERS, ids)
