"""Lot genealogy reads: back to the raw-material lots, forward to every downstream lot and its holders.

A walk is one Neo4j statement that expands level by level (a batched ``UNWIND`` over each level's lots)
so that a caller's scope stops it at its network's edge, and so that ``max_depth`` and ``max_lots``
bound the work whatever the graph's size. A lot reached twice is visited once. Holders of a lot are the
enterprises it was shipped to, loose or packed in a shipping unit (``PACKED_IN`` then ``SHIPPED_TO``),
read after the walk for the lots it kept that were shipped or packed at all (``holders``). Both
statements answer in one record of lists, not a map per lot: decoding ~2,000 maps in the driver cost
more than Neo4j's own time (docs/traceability.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph.views import GraphViews, Record

_WALK_START = """
MATCH (s:Lot) WHERE s.id IN $start
WITH collect(s) AS frontier
WITH frontier, frontier AS seen, [] AS levels
"""

_WALK_LEVEL = """
CALL (frontier) {{
  UNWIND range(0, size(frontier) - 1) AS k
  WITH k, frontier[k] AS f
  MATCH (f){arrow}(i:Lot)
  WITH k, m, i ORDER BY k, i.id
  RETURN collect(k) AS at, collect(m) AS made, collect(i) AS linked
}}
WITH seen, linked, levels + [[
  [f IN frontier | f.id], [f IN frontier | f.sku], [f IN frontier | f.quantity],
  [f IN frontier | f.enterpriseId], [f IN frontier | f.facilityId], [f IN frontier | f.producedAt],
  [f IN frontier | f.productionId], {shipped},
  at, [m IN made | m.quantity], [i IN linked | i.id],
  [i IN linked | $scope IS NULL OR coalesce(i.enterpriseId IN $scope, false)]]] AS levels
CALL (seen, linked) {{
  UNWIND linked AS n
  WITH DISTINCT n
  WHERE size(seen) < $max AND ($scope IS NULL OR n.enterpriseId IN $scope) AND NOT n IN seen
  WITH collect(n) AS next
  RETURN CASE WHEN size(seen) < $max THEN next[0..$max - size(seen)] ELSE [] END AS next
}}
WITH levels, seen + next AS seen, next AS frontier
"""
"""One level, as parallel lists (decoded far faster than a map per lot): the frontier's lots (id, sku,
quantity, maker, facility, production time and id, whether shipped or packed: forward walks only), then
its links (the position of the frontier lot, the link's quantity, the linked lot and whether the caller
sees it)."""

_SHIPPED = "[f IN frontier | EXISTS { (f)-[:SHIPPED_TO|PACKED_IN]->() }]"
"""Per lot of a forward level: whether it has any holder to look for (a degree check, no lookup)."""


def _walk_query(forward: bool, max_depth: int) -> str:
    """The whole walk in one statement: ``max_depth`` + 1 levels, each one's lots with their links."""
    arrow = "<-[m:MADE_FROM]-" if forward else "-[m:MADE_FROM]->"
    level = _WALK_LEVEL.format(arrow=arrow, shipped=_SHIPPED if forward else "[]")
    return _WALK_START + level * (max_depth + 1) + "RETURN levels"


_HOLDERS = """
UNWIND $ids AS id
MATCH (l:Lot {id: id})
CALL (l) {
  MATCH (l)-[s:SHIPPED_TO]->(e:Enterprise)
  RETURN [e.id, s.shipmentId, s.supplierId, s.orderId, coalesce(s.receivedQuantity, s.shippedQuantity),
          s.shippedAt, s.receivedAt, null] AS h
  UNION
  MATCH (l)-[p:PACKED_IN]->(u:ShippingUnit)-[s:SHIPPED_TO]->(e:Enterprise)
  RETURN [e.id, s.shipmentId, s.supplierId, s.orderId, p.packedQuantity, s.shippedAt, s.receivedAt,
          u.id] AS h
}
RETURN collect([l.id] + h) AS rows
"""
"""One row of lists (lot id, then the holder's fields in ``_HOLDER_FIELDS`` order)."""

_HOLDER_FIELDS = (
    "enterpriseId",
    "shipmentId",
    "supplierId",
    "orderId",
    "quantity",
    "shippedAt",
    "receivedAt",
    "unitId",
)


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
    shipped: set[str] = field(default_factory=set)
    """Forward walks: the steps' lots shipped or packed at all (the only ones that can have holders)."""


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
    ) -> Genealogy:
        """Breadth-first from ``start`` (depth 0), at most ``max_depth`` levels and ``max_lots`` lots.

        A linked lot whose maker ``visible`` refuses is not entered: it is counted on the boundary of
        the lot it links to. ``truncated`` says a bound stopped the walk before its end. One round trip:
        Neo4j expands the levels into visible lots, each lot's links in id order, and stops at
        ``max_lots`` lots in the order kept here; the bounds and the boundaries are applied here, level
        by level, over each kept lot's links.
        """
        scope = None if visible.scope is None else sorted(visible.scope)
        rows = await self._read(_walk_query(forward, max_depth), start=start, scope=scope, max=max_lots)
        levels: list[list[list[Any]]] = rows[0]["levels"] if rows else []
        out = Genealogy()
        seen = set(start)
        level = list(start)
        depth = 0
        while level and depth < len(levels):
            ids, skus, quantities, makers, facilities, produced, productions, shipped = levels[depth][:8]
            at, link_quantities, linked, seeable = levels[depth][8:]
            position = {lot_id: j for j, lot_id in enumerate(ids)}
            links: list[list[tuple[str, float | None, bool]]] = [[] for _ in ids]
            for j, quantity, lot_id, seen_by_caller in zip(at, link_quantities, linked, seeable, strict=True):
                links[j].append((lot_id, quantity, seen_by_caller))
            nxt: list[str] = []
            for lot_id in level:
                j = position.get(lot_id)
                if j is None:
                    continue
                shown, hidden = [], 0
                for link_id, quantity, seen_by_caller in sorted(links[j], key=lambda x: x[0]):
                    if seen_by_caller:
                        shown.append({"lotId": link_id, "quantity": quantity})
                        if link_id not in seen:
                            if depth >= max_depth or len(seen) >= max_lots:
                                out.truncated = True
                                continue
                            seen.add(link_id)
                            nxt.append(link_id)
                    else:
                        hidden += 1
                if hidden:
                    out.boundaries.append(Boundary(lot_id, makers[j], hidden_lots=hidden))
                out.steps.append(
                    {
                        "id": lot_id,
                        "sku": skus[j],
                        "quantity": quantities[j],
                        "enterpriseId": makers[j],
                        "facilityId": facilities[j],
                        "producedAt": produced[j],
                        "productionId": productions[j],
                        "depth": depth,
                        "links": shown,
                    }
                )
                if shipped and shipped[j]:
                    out.shipped.add(lot_id)
            level = nxt
            depth += 1
        return out

    async def holders(self, ids: list[str]) -> dict[str, list[Record]]:
        """Lot id -> the shipments that took it to an enterprise (loose or in a shipping unit), in a
        round trip of its own: only for the lots a walk kept (of those, a caller need ask only for the
        ``Genealogy.shipped`` ones)."""
        if not ids:
            return {}
        rows = await self._read(_HOLDERS, ids=ids)
        out: dict[str, list[Record]] = {}
        for row in rows[0]["rows"] if rows else []:
            out.setdefault(row[0], []).append(dict(zip(_HOLDER_FIELDS, row[1:], strict=True)))
        return out
