"""Lot genealogy reads: back to the raw-material lots, forward to every downstream lot and its holders.

A walk is one Neo4j statement that expands level by level (a batched ``UNWIND`` over each level's lots)
so that a caller's scope stops it at its network's edge, and so that ``max_depth`` and ``max_lots``
bound the work whatever the graph's size. A lot reached twice is visited once. Holders of a lot are the
enterprises it was shipped to, loose or packed in a shipping unit (``PACKED_IN`` then ``SHIPPED_TO``),
read after the walk for the lots it kept (``holders``); a walk ``with_holders`` reads them in its own
statement instead, for every lot it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graph.views import GraphViews, Record

_WALK_START = """
MATCH (s:Lot) WHERE s.id IN $start
WITH collect(s) AS frontier
WITH frontier, frontier AS seen, [] AS levels
"""

_WALK_LEVEL = """
CALL (frontier) {{
  UNWIND frontier AS f
  OPTIONAL MATCH (f){arrow}(i:Lot)
  WITH f, collect(CASE WHEN i IS NULL THEN null ELSE {{lotId: i.id, quantity: m.quantity,
                       enterpriseId: i.enterpriseId, node: i}} END) AS links
  RETURN collect({{lot: f {{.id, .sku, .quantity, .enterpriseId, .facilityId, .producedAt, .productionId}},
                  links: [x IN links | x {{.lotId, .quantity, .enterpriseId}}]{holders}}}) AS rows,
         collect(links) AS linked
}}
WITH seen, levels + [rows] AS levels, linked
CALL (seen, linked) {{
  UNWIND linked AS links
  UNWIND links AS x
  WITH DISTINCT x.node AS n, x.enterpriseId AS e
  WHERE size(seen) <= $max AND ($scope IS NULL OR e IN $scope) AND NOT n IN seen
  RETURN collect(n) AS next
}}
WITH levels, seen + next AS seen, next AS frontier
"""


_LEVEL_HOLDERS = """,
                  holders: [(f)-[s:SHIPPED_TO]->(e:Enterprise) |
                            {enterpriseId: e.id, shipmentId: s.shipmentId, supplierId: s.supplierId,
                             orderId: s.orderId, quantity: coalesce(s.receivedQuantity, s.shippedQuantity),
                             shippedAt: s.shippedAt, receivedAt: s.receivedAt, unitId: null}]
                         + [(f)-[p:PACKED_IN]->(u:ShippingUnit)-[s:SHIPPED_TO]->(e:Enterprise) |
                            {enterpriseId: e.id, shipmentId: s.shipmentId, supplierId: s.supplierId,
                             orderId: s.orderId, quantity: p.packedQuantity, shippedAt: s.shippedAt,
                             receivedAt: s.receivedAt, unitId: u.id}]"""
"""Per lot of a level: the shipments that took it to an enterprise, loose, then in a shipping unit."""


def _walk_query(forward: bool, max_depth: int, *, with_holders: bool = False) -> str:
    """The whole walk in one statement: ``max_depth`` + 1 levels, each one's lots with their links
    (and, ``with_holders``, each lot's holders)."""
    arrow = "<-[m:MADE_FROM]-" if forward else "-[m:MADE_FROM]->"
    level = _WALK_LEVEL.format(arrow=arrow, holders=_LEVEL_HOLDERS if with_holders else "")
    return _WALK_START + level * (max_depth + 1) + "RETURN levels"


_HOLDERS = """
UNWIND $ids AS id
MATCH (l:Lot {id: id})
CALL (l) {
  MATCH (l)-[s:SHIPPED_TO]->(e:Enterprise)
  RETURN {enterpriseId: e.id, shipmentId: s.shipmentId, supplierId: s.supplierId, orderId: s.orderId,
          quantity: coalesce(s.receivedQuantity, s.shippedQuantity), shippedAt: s.shippedAt,
          receivedAt: s.receivedAt, unitId: null} AS h
  UNION
  MATCH (l)-[p:PACKED_IN]->(u:ShippingUnit)-[s:SHIPPED_TO]->(e:Enterprise)
  RETURN {enterpriseId: e.id, shipmentId: s.shipmentId, supplierId: s.supplierId, orderId: s.orderId,
          quantity: p.packedQuantity, shippedAt: s.shippedAt, receivedAt: s.receivedAt, unitId: u.id} AS h
}
WITH l, collect(h) AS holders
RETURN collect({lotId: l.id, holders: holders}) AS rows
"""


def _distinct(holders: list[Record]) -> list[Record]:
    """Each shipment once (a lot's loose and packed shipments are told apart by ``unitId``)."""
    return list({tuple(sorted(h.items())): h for h in holders}.values())


@dataclass(frozen=True)
class Visibility:
    """Lots made by the enterprises of ``scope`` are visible (``None``: every lot, makers unknown too).

    The walk sends the scope to Neo4j, which expands only into visible lots."""

    scope: frozenset[str] | None

    def __call__(self, enterprise_id: str | None) -> bool:
        return self.scope is None or (enterprise_id is not None and enterprise_id in self.scope)


@dataclass
class Boundary:
    """Where a scoped walk stopped: lots beyond ``lot_id`` (made outside the caller's network)."""

    lot_id: str
    enterprise_id: str | None
    hidden_lots: int = 0
    hidden_holders: int = 0


@dataclass
class Genealogy:
    """A walk's answer: the lots reached in visit order (each with its depth and visible links)."""

    steps: list[Record] = field(default_factory=list)
    boundaries: list[Boundary] = field(default_factory=list)
    truncated: bool = False
    holders: dict[str, list[Record]] = field(default_factory=dict)
    """Lot id -> the shipments that took it to an enterprise (a walk ``with_holders``; every step's lot)."""


class LotTrace(GraphViews):
    """Genealogy walks over ``(:Lot)-[:MADE_FROM]->(:Lot)``; see the module docstring."""

    async def lot_makers(self, ids: list[str]) -> dict[str, str | None]:
        """Lot id -> the enterprise that made it (``None``: known lot, maker not reported)."""
        rows = await self._read(
            "UNWIND $ids AS id MATCH (l:Lot {id: id}) RETURN l.id AS id, l.enterpriseId AS e", ids=ids
        )
        return {r["id"]: r["e"] for r in rows}

    async def walk(
        self,
        start: list[str],
        *,
        forward: bool,
        max_depth: int,
        max_lots: int,
        visible: Visibility,
        with_holders: bool = False,
    ) -> Genealogy:
        """Breadth-first from ``start`` (depth 0), at most ``max_depth`` levels and ``max_lots`` lots.

        A linked lot whose maker ``visible`` refuses is not entered: it is counted on the boundary of
        the lot it links to. ``truncated`` says a bound stopped the walk before its end. One round trip:
        Neo4j expands the levels (into visible lots, until more than ``max_lots`` are reached: a
        superset of what is kept); the bounds and the boundaries are applied here, level by level.
        ``with_holders``: every step's holders (``Genealogy.holders``, unfiltered: the caller applies
        its visibility), read in the same statement.
        """
        scope = None if visible.scope is None else sorted(visible.scope)
        query = _walk_query(forward, max_depth, with_holders=with_holders)
        rows = await self._read(query, start=start, scope=scope, max=max_lots)
        levels: list[list[Record]] = rows[0]["levels"] if rows else []
        out = Genealogy()
        seen = set(start)
        level = list(start)
        depth = 0
        while level and depth < len(levels):
            found = {r["lot"]["id"]: r for r in levels[depth]}
            nxt: list[str] = []
            for lot_id in level:
                r = found.get(lot_id)
                if r is None:
                    continue
                lot = r["lot"]
                shown, hidden = [], 0
                for link in sorted(r["links"], key=lambda x: x["lotId"]):
                    if visible(link["enterpriseId"]):
                        shown.append({"lotId": link["lotId"], "quantity": link["quantity"]})
                        if link["lotId"] not in seen:
                            if depth >= max_depth or len(seen) >= max_lots:
                                out.truncated = True
                                continue
                            seen.add(link["lotId"])
                            nxt.append(link["lotId"])
                    else:
                        hidden += 1
                if hidden:
                    out.boundaries.append(Boundary(lot_id, lot.get("enterpriseId"), hidden_lots=hidden))
                out.steps.append({**lot, "depth": depth, "links": shown})
                if with_holders:
                    out.holders[lot_id] = _distinct(r["holders"])
            level = nxt
            depth += 1
        return out

    async def holders(self, ids: list[str]) -> dict[str, list[Record]]:
        """Lot id -> the shipments that took it to an enterprise (loose or in a shipping unit), in a
        round trip of its own: only for the lots a walk kept. What the resolvers use; a walk
        ``with_holders`` answered faster at the median but slower at p95 (docs/traceability.md)."""
        if not ids:
            return {}
        rows = await self._read(_HOLDERS, ids=ids)
        return {r["lotId"]: r["holders"] for r in (rows[0]["rows"] if rows else [])}
