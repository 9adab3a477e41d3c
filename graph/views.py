"""Read views of the partner graph. Every query is parameterised and batched by key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from neo4j import READ_ACCESS, AsyncDriver, Query
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

from graph import kpis
from graph.names import pinyin_query_key
from graph.resourcing import LINKS_SCAN, ORIGINS, SOURCING_CANDIDATES

Record = dict[str, Any]

_ENTERPRISES = """
UNWIND $ids AS id
MATCH (e:Enterprise {id: id})
RETURN e {.id, .name, .industry, .region, .country, .riskScore, .lastEventId, .lastSource, .lastEventAt} AS e
"""

_SUPPLIERS = """
UNWIND $ids AS id
MATCH (s:Enterprise)-[x:SUPPLIES]->(:Enterprise {id: id})
WITH id AS key, s {.id, .name, .industry, .region, .country, .riskScore} AS partner,
       x {.sku, .share, .leadTimeDays, .unitPrice, .currency, .annualVolume, .validFrom, .validTo,
          .riskScore, .riskFactors, .riskComputedAt} AS link
ORDER BY key, partner.id, link.sku
RETURN collect({key: key, partner: partner, link: link}) AS rows
"""

_CUSTOMERS = """
UNWIND $ids AS id
MATCH (:Enterprise {id: id})-[x:SUPPLIES]->(b:Enterprise)
WITH id AS key, b {.id, .name, .industry, .region, .country, .riskScore} AS partner,
       x {.sku, .share, .leadTimeDays, .unitPrice, .currency, .annualVolume, .validFrom, .validTo,
          .riskScore, .riskFactors, .riskComputedAt} AS link
ORDER BY key, partner.id, link.sku
RETURN collect({key: key, partner: partner, link: link}) AS rows
"""


_RETRYABLE = (TransientError, SessionExpired, ServiceUnavailable)


async def read_records(
    driver: AsyncDriver,
    database: str,
    query: str,
    params: dict[str, Any],
    *,
    timeout_s: float | None = None,
) -> list[Record]:
    """The records of a read-only query as dicts, in one auto-commit round trip; with ``timeout_s``
    Neo4j itself stops the transaction after that long (``TransientError`` … ``TransactionTimedOut``,
    not retried).

    Auto-commit instead of ``execute_query``: a managed transaction adds a COMMIT round trip (measured:
    a one-row lookup 2.0 ms with, 1.4 ms without). The query only reads, so it is retried (twice) on
    transient errors like the driver's managed transactions would.
    """
    for attempt in range(3):
        try:
            async with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
                result = await session.run(Query(query, timeout=timeout_s), params)
                records = [r async for r in result]
            return [dict(r) for r in records]  # values are hydrated already; no deep copy
        except _RETRYABLE as e:
            if attempt == 2 or _timed_out(e):
                raise
    raise AssertionError("unreachable")


def _timed_out(error: Exception) -> bool:
    return "TransactionTimedOut" in (getattr(error, "code", None) or "")


class GraphViews:
    """Batched reads: each method takes many keys and makes one round trip."""

    def __init__(
        self, driver: AsyncDriver, *, database: str = "neo4j", timeout_s: float | None = None
    ) -> None:
        self.driver = driver
        self.database = database
        self.timeout_s = timeout_s
        """Neo4j's own time bound on each read (None: the server's default)."""

    async def _read(self, query: str, **params: Any) -> list[Record]:
        return await read_records(self.driver, self.database, query, params, timeout_s=self.timeout_s)

    async def enterprises(self, ids: Sequence[str]) -> list[Record | None]:
        """Enterprises in the order of ``ids``; ``None`` where an id is unknown."""
        found = {r["e"]["id"]: r["e"] for r in await self._read(_ENTERPRISES, ids=list(ids))}
        return [found.get(i) for i in ids]

    async def _links(self, query: str, ids: Sequence[str]) -> list[list[Record]]:
        grouped: dict[str, list[Record]] = {i: [] for i in ids}
        rows = await self._read(query, ids=list(ids))  # one row: Bolt streams many rows slowly
        for r in rows[0]["rows"] if rows else ():
            grouped[r["key"]].append({"partner": r["partner"], "link": r["link"]})
        return [grouped[i] for i in ids]

    async def suppliers(self, ids: Sequence[str]) -> list[list[Record]]:
        """For each buyer id: its suppliers with the supply link (sku, share, lead time)."""
        return await self._links(_SUPPLIERS, ids)

    async def customers(self, ids: Sequence[str]) -> list[list[Record]]:
        """For each supplier id: its buyers with the supply link."""
        return await self._links(_CUSTOMERS, ids)


# -- enterprise search (keyset pages) ----------------------------------------------------------------

_E_FIELDS = ".id, .name, .industry, .region, .country, .riskScore"

# Filter predicates by parameter name: a search's WHERE holds only the filters it was given (so the
# planner can use the industry/region indexes); the text comes from this fixed table, never from input.
SEARCH_FILTERS: dict[str, str] = {
    "name": "(toLower(e.name) CONTAINS $name OR toLower(e.id) CONTAINS $name)",
    "pinyin": "(toLower(e.name) CONTAINS $name OR toLower(e.id) CONTAINS $name"
    " OR e.namePinyin CONTAINS $pinyin)",
    "industry": "e.industry = $industry",
    "region": "e.region = $region",
    "riskMin": "e.riskScore >= $riskMin",
    "riskMax": "e.riskScore <= $riskMax",
    "scope": "e.id IN $scope",
}


# Sort orders: (sort key expression, keyset predicate after ($k, $id)). A fixed set, never user text.
SEARCH_ORDERS: dict[str, tuple[str, str, str]] = {
    "ID": ("e.id", "e.id > $afterId", "k ASC, e.id ASC"),
    "NAME": (
        "coalesce(e.name, '')",
        "(coalesce(e.name, '') > $afterKey OR (coalesce(e.name, '') = $afterKey AND e.id > $afterId))",
        "k ASC, e.id ASC",
    ),
    "RISK_DESC": (
        "coalesce(e.riskScore, -1.0)",
        "(coalesce(e.riskScore, -1.0) < $afterKey"
        " OR (coalesce(e.riskScore, -1.0) = $afterKey AND e.id > $afterId))",
        "k DESC, e.id ASC",
    ),
}


def search_query(order: str, filters: frozenset[str], *, after: bool) -> str:
    """The search statement for an order, the names of the filters given, and whether paging on."""
    where = " AND ".join(SEARCH_FILTERS[f] for f in sorted(filters)) or "true"
    key, keyset, order_by = SEARCH_ORDERS[order]
    return f"""
CALL () {{ MATCH (e:Enterprise) WHERE {where} RETURN count(e) AS total }}
MATCH (e:Enterprise) WHERE {where} {"AND " + keyset if after else ""}
WITH total, e, {key} AS k ORDER BY {order_by} LIMIT $limit
RETURN total, collect(e {{{_E_FIELDS}, sortKey: k}}) AS page
"""


# -- tiered networks (one round trip) ----------------------------------------------------------------

MAX_TIERS = 10

_VALID = "coalesce(x.validFrom, date('0001-01-01')) <= $asOf AND (x.validTo IS NULL OR x.validTo >= $asOf)"


NETWORK_CAP = 25_000
"""Most nodes a network query returns before tiers are assigned (the view keeps ``max_nodes`` of them)."""


NET_EDGE_KEYS: tuple[str, ...] = (
    "supplierId",
    "buyerId",
    "sku",
    "share",
    "leadTimeDays",
    "unitPrice",
    "currency",
    "annualVolume",
    "otifRate90d",
    "onTimeRate90d",
    "inFullRate90d",
    "leadTimeMeanDays90d",
    "qualityIncidentRate90d",
    "daysOfCover",
    "validFrom",
    "validTo",
)
"""The fields of an edge of a network view, in the order the network query returns them."""

NET_NODE_KEYS: tuple[str, ...] = ("id", "name", "industry", "region", "country", "riskScore")


def _network_query(direction: str, tiers: int) -> str:
    # `tiers` is an int from range(1, MAX_TIERS + 1) (the dict below), never request text.
    # Reachable nodes come from a quantified path pattern with DISTINCT ends (Neo4j prunes it to a
    # breadth-first expansion); tiers are assigned in Python (``assign_tiers``), one round trip in all.
    # Nodes and edges come back as lists (NET_NODE_KEYS / NET_EDGE_KEYS order), not maps: Bolt would
    # repeat every key in every map, and encoding/decoding those keys was most of a big view's time.
    inward = direction == "UPSTREAM"
    hop = f"<-[x:SUPPLIES WHERE {_VALID}]-" if inward else f"-[x:SUPPLIES WHERE {_VALID}]->"
    supplier, buyer = ("s", "n") if inward else ("n", "s")
    # A link's days of cover is its buyer's cover of the sku (``kpis.link_cover``).
    link = ", ".join(
        kpis.link_cover("x", buyer) if k == "daysOfCover" else f"x.{k}" for k in NET_EDGE_KEYS[2:-2]
    )
    return f"""
MATCH (f:Enterprise {{id: $id}})
CALL (f) {{
  MATCH (f)((){hop}()){{1,{tiers}}}(s:Enterprise)
  WITH DISTINCT s WHERE s <> f
  RETURN collect(s)[..$cap] AS found
}}
WITH [f] + found AS members
CALL (members) {{
  UNWIND members AS n
  MATCH (n){hop}(s:Enterprise) WHERE s IN members
  RETURN collect([{supplier}.id, {buyer}.id, {link}, toString(x.validFrom), toString(x.validTo)]) AS edges
}}
RETURN [m IN members | [m.id, m.name, m.industry, m.region, m.country, m.riskScore]] AS nodes, edges
"""


def assign_tiers(focal: str, direction: str, nodes: list[Record], edges: list[Record]) -> list[Record]:
    """Nodes with ``tier`` = fewest supply hops from ``focal`` (breadth first), nearest first, then by id.

    Upstream follows edges from buyer to supplier, downstream from supplier to buyer. Pure.
    """
    nxt: dict[str, list[str]] = {}
    for e in edges:
        a, b = (e["buyerId"], e["supplierId"]) if direction == "UPSTREAM" else (e["supplierId"], e["buyerId"])
        nxt.setdefault(a, []).append(b)
    tier = {focal: 0}
    frontier = [focal]
    while frontier:
        step: list[str] = []
        for n in frontier:
            for m in nxt.get(n, ()):
                if m not in tier:
                    tier[m] = tier[n] + 1
                    step.append(m)
        frontier = step
    out = [{**n, "tier": tier[n["id"]]} for n in nodes if n["id"] in tier]
    out.sort(key=lambda n: (n["tier"], n["id"]))
    return out


NETWORK_QUERIES = {
    (d, t): _network_query(d, t) for d in ("UPSTREAM", "DOWNSTREAM") for t in range(1, MAX_TIERS + 1)
}


def _region_network_query() -> str:
    # A region's enterprises through the region index (riskiest first, at most $limit), then the current
    # links that start or end at one of them: among them, and with $outside to enterprises elsewhere
    # (or of no region). A partner's scope ($scope) is applied to both ends in Neo4j; the API applies it
    # again with the redaction (``Policy.restrict_network``). Rows are lists, like the tiered views.
    def link(buyer: str) -> str:
        return ", ".join(
            kpis.link_cover("x", buyer) if k == "daysOfCover" else f"x.{k}" for k in NET_EDGE_KEYS[2:-2]
        )

    node = "[m.id, m.name, m.industry, m.region, m.country, m.riskScore]"
    return f"""
MATCH (e:Enterprise {{region: $region}})
WHERE $scope IS NULL OR e.id IN $scope
WITH e ORDER BY coalesce(e.riskScore, -1.0) DESC, e.id ASC LIMIT $limit
WITH collect(e) AS members
CALL (members) {{
  UNWIND members AS n
  MATCH (n)-[x:SUPPLIES WHERE {_VALID}]->(b:Enterprise)
  WHERE (b.region = $region OR $outside) AND ($scope IS NULL OR b.id IN $scope)
  RETURN collect([n.id, b.id, {link("b")}, toString(x.validFrom), toString(x.validTo)]) AS outgoing,
         collect(DISTINCT CASE WHEN coalesce(b.region, '') <> $region THEN b END) AS customers
}}
CALL (members) {{
  UNWIND members AS n
  MATCH (s:Enterprise)-[x:SUPPLIES WHERE {_VALID}]->(n)
  WHERE $outside AND coalesce(s.region, '') <> $region AND ($scope IS NULL OR s.id IN $scope)
  RETURN collect([s.id, n.id, {link("n")}, toString(x.validFrom), toString(x.validTo)]) AS incoming,
         collect(DISTINCT s) AS suppliers
}}
RETURN [m IN members | {node}] AS members,
       [m IN suppliers + customers | {node}] AS others,
       outgoing + incoming AS edges
"""


REGION_NETWORK = _region_network_query()


def region_view(
    members: list[Record], others: list[Record], edges: list[Record], max_nodes: int
) -> tuple[list[Record], list[Record], bool]:
    """(nodes, edges among them, truncated) of a region's view from what ``REGION_NETWORK`` read. Pure.

    ``members`` (the region's enterprises, riskiest first, one more than ``max_nodes`` read to tell a
    cut) come first with ``inRegion``; ``others`` (outside suppliers and customers) fill the room left,
    most links to the kept members first, then by id. Edges are those with both ends kept and one in the
    region, each once.
    """
    kept = members[:max_nodes]
    truncated = len(members) > max_nodes
    ids = {m["id"] for m in kept}
    links: dict[str, int] = {}
    for e in edges:
        for end, other in ((e["supplierId"], e["buyerId"]), (e["buyerId"], e["supplierId"])):
            if end in ids and other not in ids:
                links[other] = links.get(other, 0) + 1
    outside = {o["id"]: o for o in others if o["id"] not in ids and o["id"] in links}
    ranked = sorted(outside, key=lambda i: (-links[i], i))
    room = max_nodes - len(kept)
    truncated = truncated or len(ranked) > room
    nodes = [{**m, "inRegion": True} for m in kept] + [
        {**outside[i], "inRegion": False} for i in ranked[:room]
    ]
    shown = {n["id"] for n in nodes}
    seen: set[tuple[str, str, str]] = set()
    out = []
    for e in edges:
        key = (e["supplierId"], e["buyerId"], e["sku"])
        touches = e["supplierId"] in ids or e["buyerId"] in ids  # never a link between two outside
        if touches and e["supplierId"] in shown and e["buyerId"] in shown and key not in seen:
            seen.add(key)
            out.append(e)
    out.sort(key=lambda e: (e["supplierId"], e["buyerId"], e["sku"]))
    return nodes, out, truncated


_PATHS = {
    h: f"""
MATCH (a:Enterprise {{id: $from}}), (b:Enterprise {{id: $to}})
MATCH p = SHORTEST 5 (a)-[x:SUPPLIES WHERE {_VALID}]->{{1,{h}}}(b)
WITH p LIMIT $limit
RETURN [n IN nodes(p) | {{id: n.id, name: n.name, industry: n.industry, region: n.region,
        country: n.country, riskScore: n.riskScore}}] AS nodes,
       [r IN relationships(p) | {{sku: r.sku, share: r.share, leadTimeDays: r.leadTimeDays,
        unitPrice: r.unitPrice, currency: r.currency, annualVolume: r.annualVolume, validFrom: r.validFrom,
        validTo: r.validTo, otifRate90d: r.otifRate90d, onTimeRate90d: r.onTimeRate90d,
        leadTimeMeanDays90d: r.leadTimeMeanDays90d, supplierId: startNode(r).id, buyerId: endNode(r).id}}]
         AS edges
"""
    for h in range(1, MAX_TIERS + 1)
}

_PRODUCT_CHAIN = {
    t: f"""
MATCH (p:Material {{sku: $sku}})
CALL (p) {{
  MATCH path = (c:Material)-[:COMPONENT_OF*0..{t}]->(p)
  WHERE all(r IN relationships(path) WHERE
            coalesce(r.validFrom, date('0001-01-01')) <= $asOf AND (r.validTo IS NULL OR r.validTo >= $asOf))
  WITH c, min(length(path)) AS level
  RETURN c, level ORDER BY level, c.sku LIMIT $maxNodes
}}
CALL (c) {{
  OPTIONAL MATCH (s:Enterprise)-[x:SUPPLIES]->(:Enterprise)
  WHERE x.sku = c.sku AND coalesce(x.validFrom, date('0001-01-01')) <= $asOf
        AND (x.validTo IS NULL OR x.validTo >= $asOf)
  RETURN collect(DISTINCT s {{{_E_FIELDS}}}) AS viaLinks
}}
CALL (c) {{
  OPTIONAL MATCH (m:Enterprise)-[:PRODUCES]->(c)
  RETURN collect(DISTINCT m {{{_E_FIELDS}}}) AS makers
}}
CALL (c) {{
  OPTIONAL MATCH (c)-[u:COMPONENT_OF]->(parent:Material)
  WHERE coalesce(u.validFrom, date('0001-01-01')) <= $asOf AND (u.validTo IS NULL OR u.validTo >= $asOf)
  RETURN collect({{sku: parent.sku, qty: u.qty}}) AS usedIn
}}
RETURN c {{.sku, .name, .category, .unit}} AS material, level,
       NOT EXISTS {{ (c)<-[:COMPONENT_OF]-(:Material) }} AS raw, usedIn, viaLinks, makers
ORDER BY level, material.sku
"""
    for t in range(1, MAX_TIERS + 1)
}

_KPIS = """
UNWIND $ids AS id
MATCH (e:Enterprise {id: id})
RETURN e {.id, .kpiAsOf, .deliveries30d, .deliveries90d, .onTimeRate30d, .onTimeRate90d,
          .inFullRate30d, .inFullRate90d, .otifRate30d, .otifRate90d, .leadTimeMeanDays30d,
          .leadTimeMeanDays90d, .leadTimeP90Days30d, .leadTimeP90Days90d, .qualityIncidents30d,
          .qualityIncidents90d, .qualityIncidentRate30d, .qualityIncidentRate90d, .openOrders,
          .daysOfCover} AS k
"""

# -- collaborative design ----------------------------------------------------------------------------

_DESIGN_PROJECTS = """
MATCH (d:DesignProject)
WHERE ($id IS NULL OR d.id = $id)
  AND ($enterpriseId IS NULL OR EXISTS { (:Enterprise {id: $enterpriseId})-[:OWNS|COLLABORATES_ON]->(d) })
  AND ($member IS NULL OR EXISTS { (:Enterprise {id: $member})-[:OWNS|COLLABORATES_ON]->(d) })
WITH d ORDER BY d.id LIMIT $limit
CALL (d) {
  OPTIONAL MATCH (o:Enterprise)-[:OWNS]->(d)
  OPTIONAL MATCH (pe:Enterprise)-[c:COLLABORATES_ON]->(d)
  RETURN o.id AS ownerId,
         collect(DISTINCT {enterpriseId: pe.id, name: pe.name, role: c.role, joinedAt: c.joinedAt})
           AS participants
}
CALL (d) {
  OPTIONAL MATCH (r:DesignRevision)-[:REVISES]->(d)
  OPTIONAL MATCH (r)-[ch:CHANGES]->(m:Material)
  WITH r, collect(CASE WHEN m IS NULL THEN null ELSE {sku: m.sku, change: ch.change, qty: ch.qty} END)
       AS changes
  ORDER BY r.publishedAt
  RETURN collect(CASE WHEN r IS NULL THEN null ELSE
                 {id: r.id, label: r.label, publishedAt: r.publishedAt, uri: r.uri,
                  contentHash: r.contentHash, changes: changes} END) AS revisions
}
CALL (d) {
  OPTIONAL MATCH (q:ChangeRequest)-[:REQUESTS_CHANGE_TO]->(d)
  RETURN collect(q {.id, .reason, .requiredBy, .affectedSkus, .requestedAt, .status, .answeredBy, .answerNote,
                    .answeredAt}) AS changeRequests
}
RETURN d {.id, .name, .description, .productSku, .createdAt} AS project, ownerId, participants,
       revisions, changeRequests
"""

_PROJECT_MEMBERS = """
MATCH (d:DesignProject {id: $id})
OPTIONAL MATCH (o:Enterprise)-[:OWNS]->(d)
OPTIONAL MATCH (m:Enterprise)-[:COLLABORATES_ON]->(d)
RETURN o.id AS owner, collect(DISTINCT m.id) AS members
"""

_CHANGE_PROJECT = """
MATCH (q:ChangeRequest {id: $id})
RETURN q.projectId AS projectId
"""

_CHANGE_IMPACT = """
MATCH (q:ChangeRequest {id: $id})
OPTIONAL MATCH (q)-[:IMPACTS]->(m:Material)
WITH q, collect(DISTINCT m) AS materials
CALL (materials) {
  UNWIND materials AS m
  MATCH (s:Enterprise)-[x:SUPPLIES]->(:Enterprise)
  WHERE x.sku = m.sku AND (x.validTo IS NULL OR x.validTo >= date())
  RETURN collect(DISTINCT s {.id, .name, .industry, .region, .country, .riskScore, sku: m.sku}) AS suppliers
}
CALL (materials) {
  UNWIND materials AS m
  MATCH (m)-[:COMPONENT_OF*1..8]->(p:Material)
  RETURN collect(DISTINCT p {.sku, .name, .category, .unit}) AS products
}
RETURN q {.id, .projectId, .reason, .requiredBy, .affectedSkus, .requestedAt} AS request,
       [m IN materials | m.sku] AS skus, suppliers, products
"""

_CANDIDATES = """
MATCH (e:Enterprise)
WHERE ($capability IS NULL OR $capability IN coalesce(e.capabilities, []))
  AND ($scope IS NULL OR e.id IN $scope)
  AND ($region IS NULL OR e.region = $region)
  AND ($maxRisk IS NULL OR coalesce(e.riskScore, 0.0) <= $maxRisk)
  AND ($standard IS NULL OR EXISTS {
        (e)-[:HOLDS]->(c:Certification {standard: $standard}) WHERE c.status = 'active' })
WITH e ORDER BY coalesce(e.riskScore, 0.0) ASC, e.id ASC LIMIT $limit
CALL (e) {
  OPTIONAL MATCH (e)-[:HOLDS]->(c:Certification) WHERE c.status = 'active'
  RETURN collect(DISTINCT c.standard) AS certifications
}
CALL (e) {
  MATCH (e)<-[:OPERATED_BY]-(fa:Facility)
  WHERE fa.latitude IS NOT NULL AND fa.longitude IS NOT NULL
  RETURN collect([fa.latitude, fa.longitude])[..20] AS coordinates
}
RETURN e {.id, .name, .industry, .region, .country, .riskScore, .capabilities, .otifRate90d} AS e,
       certifications, coordinates, [] AS sites, null AS leadTimeDays, null AS sku
ORDER BY coalesce(e.riskScore, 0.0) ASC, e.id ASC
"""
"""Enterprises fit for a need without a material (no capacity to rank by), least risky first."""

# -- provenance timeline -----------------------------------------------------------------------------

_ENTERPRISE_TIMELINE = """
MATCH (e:Enterprise {id: $id})
WITH e, [k IN keys(e) WHERE k ENDS WITH 'V' AND k <> 'lastV' | [k, e[k]]] AS own
CALL (e) {
  OPTIONAL MATCH (e)-[x]-(o)
  WHERE (NOT o:Enterprise OR type(x) = 'SUPPLIES') AND ($scope IS NULL OR NOT o:Enterprise OR o.id IN $scope)
  WITH x, o, [k IN keys(x) WHERE k ENDS WITH 'V' | [k, x[k]]] AS vs
  UNWIND (CASE WHEN vs = [] THEN [null] ELSE vs END) AS v
  WITH x, o, v WHERE v IS NOT NULL
  RETURN collect([type(x) + ':' + coalesce(o.id, o.sku, o.name, '') + ':' + v[0], v[1]]) AS rels
}
RETURN [v IN own | ['Enterprise:' + e.id + ':' + v[0], v[1]]] + rels AS versions
"""

_ENTERPRISE_GROUPS = """
UNWIND $ids AS id
MATCH (e:Enterprise {id: id})
RETURN e.id AS id, e.region AS region, e.industry AS industry
"""

_LINK_TIMELINE = """
MATCH (s:Enterprise {id: $supplierId})-[x:SUPPLIES]->(b:Enterprise {id: $buyerId})
WHERE $sku IS NULL OR x.sku = $sku
UNWIND [k IN keys(x) WHERE k ENDS WITH 'V' | [k, x[k]]] AS v
RETURN collect(['SUPPLIES:' + x.sku + ':' + v[0], v[1]]) AS versions
"""


def parse_version(version: str) -> tuple[int, int, str] | None:
    """(event time ms, sequence, event id) of an aspect version string; ``None`` if not one."""
    parts = version.split(":", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1]), parts[2]


def timeline(versions: Sequence[Sequence[Any]]) -> list[Record]:
    """Events that wrote the given aspects, newest first; one entry per event with the aspects it set."""
    by_event: dict[str, Record] = {}
    for label, version in versions:
        if not isinstance(version, str):
            continue
        parsed = parse_version(version)
        if parsed is None:
            continue
        at, seq, event_id = parsed
        target, _, aspect = str(label).rpartition(":")
        entry = by_event.setdefault(event_id, {"eventId": event_id, "at": at, "sequence": seq, "writes": []})
        entry["writes"].append(f"{target}:{aspect[:-1]}")
    for entry in by_event.values():
        entry["writes"].sort()
    return sorted(by_event.values(), key=lambda r: (-r["at"], -r["sequence"], r["eventId"]))


_NEIGHBOURHOOD = {
    t: f"""
MATCH (f:Enterprise {{id: $id}})
CALL (f) {{ OPTIONAL MATCH (f)<-[:SUPPLIES*1..{t}]-(s:Enterprise) RETURN collect(DISTINCT s.id) AS up }}
CALL (f) {{ OPTIONAL MATCH (f)-[:SUPPLIES*1..{t}]->(b:Enterprise) RETURN collect(DISTINCT b.id) AS down }}
RETURN [f.id] + up + down AS ids
"""
    for t in range(1, MAX_TIERS + 1)
}


def _neighbourhood_tiers_query(tiers: int) -> str:
    # Tier k of a direction: the enterprises one SUPPLIES hop from tier k-1, one CALL per tier, so the
    # whole neighbourhood is one round trip; an id's fewest hops is the first tier that names it.
    lines = ["MATCH (f:Enterprise {id: $id})"]
    for way, arrow in (("u", "<-[:SUPPLIES]-"), ("d", "-[:SUPPLIES]->")):
        lines.append(
            f"CALL (f) {{ OPTIONAL MATCH (f){arrow}(n:Enterprise) RETURN collect(DISTINCT n) AS {way}1 }}"
        )
        for k in range(2, tiers + 1):
            lines.append(
                f"CALL ({way}{k - 1}) {{ UNWIND {way}{k - 1} AS x OPTIONAL MATCH (x){arrow}(n:Enterprise) "
                f"RETURN collect(DISTINCT n) AS {way}{k} }}"
            )
    ups = ", ".join(f"[n IN u{k} | n.id]" for k in range(1, tiers + 1))
    downs = ", ".join(f"[n IN d{k} | n.id]" for k in range(1, tiers + 1))
    lines.append(f"RETURN [{ups}] AS up, [{downs}] AS down")
    return "\n".join(lines)


_NEIGHBOURHOOD_TIERS = {t: _neighbourhood_tiers_query(t) for t in range(1, MAX_TIERS + 1)}


def _region_neighbourhood_query(tiers: int) -> str:
    # The region's enterprises, then tier by tier the enterprises one SUPPLIES hop from the tier before,
    # each way (one CALL per tier, like _neighbourhood_tiers_query): one round trip.
    lines = ["MATCH (f:Enterprise {region: $region})", "WITH collect(f) AS u0, collect(f) AS d0"]
    for way, arrow in (("u", "<-[:SUPPLIES]-"), ("d", "-[:SUPPLIES]->")):
        for k in range(1, tiers + 1):
            lines.append(
                f"CALL ({way}{k - 1}) {{ UNWIND {way}{k - 1} AS x OPTIONAL MATCH (x){arrow}(n:Enterprise) "
                f"RETURN collect(DISTINCT n) AS {way}{k} }}"
            )
    tiers_ = " + ".join(f"[n IN {w}{k} | n.id]" for w in "ud" for k in range(1, tiers + 1))
    lines.append(f"RETURN [n IN u0 | n.id] AS members, {tiers_} AS around")
    return "\n".join(lines)


_REGION_NEIGHBOURHOOD = {t: _region_neighbourhood_query(t) for t in range(1, MAX_TIERS + 1)}


def first_tiers(own: str, tiers: Sequence[Sequence[str]]) -> dict[str, int]:
    """id → the first tier (1-based) naming it; ``own`` at 0. Pure."""
    out = {own: 0}
    for k, ids in enumerate(tiers, start=1):
        for i in ids:
            out.setdefault(i, k)
    return out


class NetworkViews(GraphViews):
    """The large views: each is one round trip whatever the size of its answer."""

    async def neighbourhood_tiers(
        self, enterprise_id: str, *, tiers: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(upstream, downstream): id → fewest ``SUPPLIES`` hops from the enterprise, to ``tiers``
        hops (the enterprise itself at 0 in both when known; both empty when not). One round trip."""
        rows = await self._read(_NEIGHBOURHOOD_TIERS[min(tiers, MAX_TIERS)], id=enterprise_id)
        if not rows:
            return {}, {}
        return first_tiers(enterprise_id, rows[0]["up"]), first_tiers(enterprise_id, rows[0]["down"])

    async def neighbourhood(self, enterprise_id: str, *, tiers: int) -> set[str]:
        """Ids within ``tiers`` supply hops of the enterprise, either way (itself included if known)."""
        rows = await self._read(_NEIGHBOURHOOD[min(tiers, MAX_TIERS)], id=enterprise_id)
        return set(rows[0]["ids"]) if rows else set()

    async def search(
        self,
        *,
        order: str,
        limit: int,
        after: tuple[Any, str] | None,
        name: str | None = None,
        industry: str | None = None,
        region: str | None = None,
        risk_min: float | None = None,
        risk_max: float | None = None,
        scope: list[str] | None = None,
    ) -> tuple[int, list[Record]]:
        """(total matching, up to ``limit`` enterprises after the keyset ``after`` in ``order``)."""
        pinyin = pinyin_query_key(name) if name else ""
        params: dict[str, Any] = {
            "name": name.lower() if name else None,
            "pinyin": pinyin or None,
            "industry": industry,
            "region": region,
            "riskMin": risk_min,
            "riskMax": risk_max,
            "scope": scope,
        }
        given = frozenset(k for k, v in params.items() if v is not None)
        # With a pinyin key the name filter also matches ``namePinyin`` (graph/names.py).
        filters = given - {"name"} if "pinyin" in given else given
        rows = await self._read(
            search_query(order, filters, after=after is not None),
            **{k: params[k] for k in given},
            afterKey=after[0] if after else None,
            afterId=after[1] if after else None,
            limit=limit,
        )
        if not rows:
            return 0, []
        return int(rows[0]["total"]), list(rows[0]["page"])

    async def network(
        self, *, focal: str, direction: str, tiers: int, as_of: date, max_nodes: int
    ) -> tuple[list[Record], list[Record], bool] | None:
        """(nodes with their tier, edges among them, truncated) around ``focal``; ``None`` if unknown.

        At most ``max_nodes`` nodes besides the focal one, nearest tiers first (ties by id).
        """
        rows = await self._read(NETWORK_QUERIES[(direction, tiers)], id=focal, asOf=as_of, cap=NETWORK_CAP)
        if not rows:
            return None
        found = [dict(zip(NET_NODE_KEYS, n, strict=True)) for n in rows[0]["nodes"]]
        all_edges = [dict(zip(NET_EDGE_KEYS, e, strict=True)) for e in rows[0]["edges"]]
        nodes = assign_tiers(focal, direction, found, all_edges)
        truncated = len(nodes) > max_nodes + 1 or len(found) > NETWORK_CAP
        nodes = nodes[: max_nodes + 1]
        ids = {n["id"] for n in nodes}
        edges = [e for e in all_edges if e["supplierId"] in ids and e["buyerId"] in ids]
        return nodes, edges, truncated

    async def region_network(
        self,
        *,
        region: str,
        as_of: date,
        max_nodes: int,
        outside: bool,
        scope: Sequence[str] | None,
    ) -> tuple[list[Record], list[Record], bool]:
        """(nodes, current links among them, truncated) of the enterprises of ``region`` (``inRegion``)
        and, with ``outside``, their direct suppliers and customers elsewhere; only ids in ``scope``
        when given (``region_view`` says what a cut keeps). One round trip."""
        rows = await self._read(
            REGION_NETWORK,
            region=region,
            asOf=as_of,
            limit=max_nodes + 1,
            outside=outside,
            scope=None if scope is None else list(scope),
        )
        if not rows:
            return [], [], False
        r = rows[0]
        return region_view(
            [dict(zip(NET_NODE_KEYS, n, strict=True)) for n in r["members"]],
            [dict(zip(NET_NODE_KEYS, n, strict=True)) for n in r["others"]],
            [dict(zip(NET_EDGE_KEYS, e, strict=True)) for e in r["edges"]],
            max_nodes,
        )

    async def region_neighbourhood(self, region: str, *, tiers: int) -> tuple[set[str], set[str]]:
        """(the enterprises of ``region``, those within ``tiers`` supply hops of one of them either way,
        the members included). One round trip."""
        rows = await self._read(_REGION_NEIGHBOURHOOD[min(tiers, MAX_TIERS)], region=region)
        if not rows:
            return set(), set()
        members = set(rows[0]["members"])
        return members, members | set(rows[0]["around"])

    async def paths(
        self, *, source: str, target: str, max_hops: int, as_of: date, limit: int
    ) -> list[Record]:
        """Shortest supply paths (material flows ``source`` → ``target``), each its nodes and edges."""
        return await self._read(_PATHS[max_hops], **{"from": source, "to": target}, asOf=as_of, limit=limit)

    async def product_chain(self, *, sku: str, tiers: int, as_of: date, max_nodes: int) -> list[Record]:
        """The bill of materials of ``sku`` exploded ``tiers`` levels, each component with its suppliers."""
        rows = await self._read(_PRODUCT_CHAIN[tiers], sku=sku, asOf=as_of, maxNodes=max_nodes)
        for r in rows:
            merged = {s["id"]: s for s in r.pop("makers") + r.pop("viaLinks")}
            r["suppliers"] = [merged[k] for k in sorted(merged)]
        return rows

    async def kpis(self, ids: Sequence[str]) -> list[Record | None]:
        """Supplier KPIs per id (in order of ``ids``); ``None`` where unknown."""
        found = {r["k"]["id"]: r["k"] for r in await self._read(_KPIS, ids=list(ids))}
        return [found.get(i) for i in ids]

    async def design_projects(
        self, *, project_id: str | None, enterprise_id: str | None, member: str | None = None, limit: int
    ) -> list[Record]:
        """Design projects with owner, participants and roles, revisions with changed components (only
        those ``member`` owns or joins, when given)."""
        return await self._read(
            _DESIGN_PROJECTS, id=project_id, enterpriseId=enterprise_id, member=member, limit=limit
        )

    async def project_members(self, project_id: str) -> tuple[str | None, frozenset[str]] | None:
        """A design project's owner and the enterprises that joined it; ``None`` if it is not known."""
        rows = await self._read(_PROJECT_MEMBERS, id=project_id)
        if not rows:
            return None
        return rows[0]["owner"], frozenset(rows[0]["members"])

    async def change_project(self, change_request_id: str) -> str | None:
        """The project a change request belongs to (``None``: no such request)."""
        rows = await self._read(_CHANGE_PROJECT, id=change_request_id)
        return rows[0]["projectId"] if rows else None

    async def change_impact(self, change_request_id: str) -> Record | None:
        """A change request with the suppliers of the affected skus and the products they go into."""
        rows = await self._read(_CHANGE_IMPACT, id=change_request_id)
        return rows[0] if rows else None

    async def candidates(
        self,
        *,
        capability: str | None,
        standard: str | None,
        region: str | None,
        max_risk: float | None,
        scope: Sequence[str] | None,
        limit: int,
    ) -> list[Record]:
        """Enterprises fit for a need (in ``scope`` when given), least risky first, with certifications
        and facility coordinates (rows as ``graph.resourcing.SOURCING_CANDIDATES`` returns them)."""
        return await self._read(
            _CANDIDATES,
            capability=capability,
            standard=standard,
            region=region,
            maxRisk=max_risk,
            scope=None if scope is None else list(scope),
            limit=limit,
        )

    async def sourcing_candidates(
        self,
        *,
        skus: Sequence[str],
        scope: Sequence[str] | None,
        exclude: Sequence[str],
        capability: str | None = None,
        region: str | None = None,
        max_risk: float | None = None,
        scan: int = 500,
    ) -> list[Record]:
        """Per sku, enterprises that produce or currently supply it, with their coordinates,
        certifications and lead time (see ``graph.resourcing.SOURCING_CANDIDATES``; their capacity
        reports are records: ``graph.resourcing.with_sites``)."""
        if not skus:
            return []
        rows = await self._read(
            SOURCING_CANDIDATES,
            skus=list(skus),
            scope=None if scope is None else list(scope),
            exclude=list(exclude),
            capability=capability,
            region=region,
            maxRisk=max_risk,
            scan=scan,
            links=LINKS_SCAN,
        )
        return list(rows[0]["rows"]) if rows else []

    async def origins(self, ids: Sequence[str]) -> dict[str, list[list[float]]]:
        """Facility coordinates (latitude, longitude) per enterprise; enterprises without any left out."""
        if not ids:
            return {}
        rows = await self._read(ORIGINS, ids=list(ids))
        return {r["id"]: [list(c) for c in r["coordinates"]] for r in rows[0]["rows"]} if rows else {}

    async def enterprise_groups(self, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """(region, industry) per enterprise id; ids not in the graph left out."""
        if not ids:
            return {}
        rows = await self._read(_ENTERPRISE_GROUPS, ids=list(ids))
        return {r["id"]: (r["region"], r["industry"]) for r in rows}

    async def enterprise_timeline(
        self,
        enterprise_id: str,
        *,
        scope: Sequence[str] | None = None,
        flow: Sequence[Sequence[Any]] = (),
    ) -> list[Record]:
        """Events that shaped the enterprise and its relationships (from aspect versions), plus the
        ``flow`` versions given (its orders and shipments, from the record store); with ``scope``, only
        links to enterprises in it."""
        rows = await self._read(
            _ENTERPRISE_TIMELINE, id=enterprise_id, scope=list(scope) if scope is not None else None
        )
        return timeline([*(rows[0]["versions"] if rows else []), *flow])

    async def link_timeline(self, supplier_id: str, buyer_id: str, sku: str | None) -> list[Record]:
        """Events that shaped the supply link(s) between two enterprises."""
        rows = await self._read(_LINK_TIMELINE, supplierId=supplier_id, buyerId=buyer_id, sku=sku)
        return timeline(rows[0]["versions"]) if rows else []
