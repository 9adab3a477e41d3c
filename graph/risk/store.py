"""Neo4j adapters of the risk model: read the material-flow projection and the facts, write scores back.

Every query is parameterised; reads are batched (``UNWIND $ids``) and writes are ``UNWIND $rows``
batches. Property names follow docs/graph-model.md (KPIs on ``SUPPLIES``, ``status`` of disruptions
and certificates). A ``scope`` id prefix restricts every read to one id space (a tenant's or a test's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Literal

import orjson
from neo4j import AsyncDriver, RoutingControl

from graph.kpis import ALARM_PROPERTIES, facility_alarms, link_cover
from graph.risk.facts import Enterprise, Facility, Network, OpenDisruption, SupplyLink
from graph.risk.memory import gc_paused
from graph.risk.scoring import FacilityScore, LinkScore, RiskScore
from graph.risk.settings import RiskSettings

BATCH = 5_000

WRITE_BATCH = 1_000
"""Enterprise and facility score rows per write transaction. A write holds the locks of its nodes until
it commits, and the projector's batches ``MERGE`` the same nodes: shorter transactions keep its waits
short while a full recompute writes every score (link scores stay at ``BATCH``: they are written only
when they moved, and the first run's 1M would take five times the transactions)."""

KPI_WINDOW = "90d"
"""The KPI window the performance factor reads (``otifRate90d``, …); the 30-day values are noisier."""

_CURRENT = "(x.validTo IS NULL OR x.validTo >= date())"

IN_CHUNKS = """
WITH collect(row) AS rows
UNWIND range(0, size(rows) - 1, $chunk) AS i
RETURN rows[i..i + $chunk] AS rows
"""
"""Turns a whole-projection read's ``row``s into records of ``$chunk`` rows each.

Why: the Python driver's cost is per record, not per value. On this machine the async driver spends
~85 µs on each record (its per-record callbacks), so the 1.2M one-row records of the projection at
100k enterprises / 1M links took ~50 s to arrive; as lists of a few thousand rows they take ~25 s,
most of it Neo4j's own time. The rows are collected on the server first (the ``LINKS`` grouping
already was an eager aggregation), ~300 MB of heap at 1M links."""

CHUNK_ROWS = 2_000

_LINK_ROW = f"""[b.id, x.sku, x.share, x.leadTimeDays, x.annualVolume, x.otifRate{KPI_WINDOW},
 x.leadTimeMeanDays{KPI_WINDOW}, x.leadTimeP90Days{KPI_WINDOW}, x.qualityIncidentRate{KPI_WINDOW},
 {link_cover("x", "b")}]"""
"""A link's fields, in ``_link_row``'s order."""

LINKS = f"""
MATCH (s:Enterprise)-[x:SUPPLIES]->(b:Enterprise)
WHERE {_CURRENT} AND ($scope IS NULL OR (s.id STARTS WITH $scope AND b.id STARTS WITH $scope))
WITH s.id AS supplier, collect({_LINK_ROW}) AS links
WITH [supplier, links] AS row
{IN_CHUNKS}"""
"""The whole material-flow projection (current links only): a row per supplier, its links as lists in
``_link_row``'s order, ``$chunk`` rows per record (see ``IN_CHUNKS``)."""


def _link_fields(buyer: str) -> str:
    """A link ``x``'s fields after its ends, in ``_link_row``'s order (its cover is ``buyer``'s)."""
    return f"""x.sku, x.share, x.leadTimeDays, x.annualVolume, x.otifRate{KPI_WINDOW},
 x.leadTimeMeanDays{KPI_WINDOW}, x.leadTimeP90Days{KPI_WINDOW}, x.qualityIncidentRate{KPI_WINDOW},
 {link_cover("x", buyer)}"""


LINKS_OF = f"""
UNWIND $ids AS id
MATCH (e:Enterprise {{id: id}})
RETURN [(e)-[x:SUPPLIES]->(b:Enterprise) WHERE {_CURRENT} | [e.id, b.id, {_link_fields("b")}]]
     + [(s:Enterprise)-[x:SUPPLIES]->(e) WHERE {_CURRENT} | [s.id, e.id, {_link_fields("e")}]] AS links
"""
"""The current links (out and in) of the given enterprises: one record per enterprise, each link as
``[supplier, buyer, …]`` in ``_link_row``'s order after the supplier.

Why this shape: the earlier ``MATCH (s)-[x:SUPPLIES]->(b) WHERE s.id = id OR b.id = id`` cannot seek
an index for an ``OR`` over both ends, so Neo4j planned a scan of *every* ``SUPPLIES`` relationship
per id (``DirectedRelationshipTypeScan`` under the ``UNWIND``): a batch of 1,000 touched enterprises
on a 43,593-link graph read ~87M relationships, which is where the live risk agent was found waiting
(``RiskStore.facts_of``). Anchored at the enterprise's unique-index seek, the read costs what the
enterprise has, not what the graph has (``tests/integration/test_risk_reads.py`` checks the db hits)."""

_FACTS_BODY = """
OPTIONAL MATCH (f:Facility)-[:OPERATED_BY]->(e)
WITH e, collect(f.id) AS facilities
CALL (e) {
  OPTIONAL MATCH (d:Disruption {status: 'open'})-[:AFFECTS]->(e)
  RETURN collect(d {.id, .severity, .kind, .expectedRecoveryDays, where: 'enterprise'}) AS atNode
}
CALL (e) {
  OPTIONAL MATCH (d:Disruption {status: 'open'})-[:AFFECTS]->(:Facility)-[:OPERATED_BY]->(e)
  RETURN collect(d {.id, .severity, .kind, .expectedRecoveryDays, where: 'facility'}) AS atFacility
}
CALL (e) {
  OPTIONAL MATCH (d:Disruption {status: 'open'})-[:AFFECTS]->(:Region)<-[:LOCATED_IN]-(e)
  RETURN collect(d {.id, .severity, .kind, .expectedRecoveryDays, where: 'region'}) AS inRegion
}
CALL (e) {
  OPTIONAL MATCH (e)-[:HOLDS]->(c:Certification)
  WHERE c.status = 'expired' OR c.validUntil <= $certificatesUntil
  RETURN count(c) AS certificates
}
CALL (e) {
  OPTIONAL MATCH (q:Equipment)-[:OWNED_BY]->(e) WHERE q.healthStatus = 'alert'
  RETURN count(q) AS failing
}
"""
_ALARMS = f"coalesce(e.{ALARM_PROPERTIES[0]}, 0)"
"""An enterprise's recent high/critical alarms: the count its KPI row carries (``graph.kpis.alarm_kpis``)."""

_FACTS_ROW = f"""{{id: e.id, name: e.name, industry: e.industry, region: e.region, cover: e.daysOfCover,
 facilities: facilities, disruptions: atNode + atFacility + inRegion, alarms: {_ALARMS},
 certificates: certificates, failing: failing}}"""

FACTS = (
    "MATCH (e:Enterprise) WHERE $scope IS NULL OR e.id STARTS WITH $scope\n"
    + _FACTS_BODY
    + f"WITH {_FACTS_ROW} AS row"
    + IN_CHUNKS
)
"""Every enterprise's facts (open disruptions at it, its facilities, its region; recent alarms from its
KPI row; certificates), ``$chunk`` per record."""

_OPEN = "d:Disruption AND d.status = 'open'"
_DISRUPTION = "d {.id, .severity, .kind, .expectedRecoveryDays, where: '%s'}"

FACTS_OF = f"""
UNWIND $ids AS id
MATCH (e:Enterprise {{id: id}})
RETURN {{id: e.id, name: e.name, industry: e.industry, region: e.region, cover: e.daysOfCover,
 facilities: [(f:Facility)-[:OPERATED_BY]->(e) | f.id],
 disruptions:
   [d IN [(e)<-[:AFFECTS]-(x) | x] WHERE {_OPEN} | {_DISRUPTION % "enterprise"}]
 + [d IN [(e)<-[:OPERATED_BY]-()<-[:AFFECTS]-(x) | x] WHERE {_OPEN} | {_DISRUPTION % "facility"}]
 + [d IN [(e)-[:LOCATED_IN]->()<-[:AFFECTS]-(x) | x] WHERE {_OPEN} | {_DISRUPTION % "region"}],
 alarms: {_ALARMS},
 certificates: size([(e)-[:HOLDS]->(c:Certification)
                     WHERE c.status = 'expired' OR c.validUntil <= $certificatesUntil | c]),
 failing: size([(e)<-[:OWNED_BY]-(q:Equipment) WHERE q.healthStatus = 'alert' | q])}} AS row
"""
"""``FACTS``' row for the given enterprises, every part expanded from the enterprise itself.

Why not ``_FACTS_BODY`` here: inside its ``CALL (e)`` subqueries the planner may start from the
``Disruption(status)`` index and check every open disruption against each enterprise (the plan it
picks on a graph with few disruptions), which makes one enterprise's read cost grow with the number of
open disruptions in the graph. Here the patterns name no label or property of the far node (those are
filtered in the list comprehension, after the pattern), so the only plan is to expand from the bound
enterprise: its own relationships, nothing else."""

IN_REGIONS = """
UNWIND $regions AS region
MATCH (e:Enterprise)-[:LOCATED_IN]->(:Region {name: region})
RETURN e.id AS id
"""

OPERATORS = """
UNWIND $facilities AS f
MATCH (:Facility {id: f})-[:OPERATED_BY]->(e:Enterprise)
RETURN e.id AS id
"""

DISRUPTION_TARGETS = """
UNWIND $ids AS id
MATCH (:Disruption {id: id})-[:AFFECTS]->(t)
RETURN CASE WHEN t:Region THEN 'region' WHEN t:Facility THEN 'facility' ELSE 'enterprise' END AS kind,
       coalesce(t.id, t.name) AS key
"""

PREVIOUS = """
MATCH (e:Enterprise) WHERE e.riskScore IS NOT NULL AND ($scope IS NULL OR e.id STARTS WITH $scope)
RETURN e.id AS id, e.riskScore AS score
"""

WRITE_SCORES = """
UNWIND $rows AS r
MATCH (e:Enterprise {id: r.id})
SET e.riskScore = r.score, e.riskFactors = r.factors, e.riskComputedAt = r.at
"""
"""Sets ``riskScore`` (in [0, 1]), ``riskFactors`` (JSON: factors, reasons), ``riskComputedAt`` (ms)."""

WRITE_RUN = """
MERGE (r:RiskRun {id: $id})
SET r.at = CASE WHEN r.at IS NULL OR r.at < $at THEN $at ELSE r.at END
"""
"""When a risk model was last current (epoch ms), per scope."""

WRITE_LINK_SCORES = f"""
UNWIND $rows AS r
MATCH (:Enterprise {{id: r.supplier}})-[x:SUPPLIES {{sku: r.sku}}]->(:Enterprise {{id: r.buyer}})
WHERE {_CURRENT}
SET x.riskScore = r.score, x.riskFactors = r.factors, x.riskComputedAt = r.at
"""
"""The same three properties on the current ``SUPPLIES`` relationship of (supplier, buyer, sku)."""

WRITE_FACILITY_SCORES = """
UNWIND $rows AS r
MATCH (f:Facility {id: r.id})
SET f.riskScore = r.score, f.riskFactors = r.factors, f.riskComputedAt = r.at
"""

_FACILITY_BODY = """
OPTIONAL MATCH (f)-[:OPERATED_BY]->(op:Enterprise)
WITH f, head(collect(op)) AS op
CALL (f) {
  OPTIONAL MATCH (d:Disruption {status: 'open'})-[:AFFECTS]->(f)
  RETURN collect(d {.id, .severity, .kind, .expectedRecoveryDays, where: 'facility'}) AS atFacility
}
CALL (f) {
  OPTIONAL MATCH (d:Disruption {status: 'open'})-[:AFFECTS]->(:Region)<-[:LOCATED_IN]-(f)
  RETURN collect(d {.id, .severity, .kind, .expectedRecoveryDays, where: 'region'}) AS inRegion
}
CALL (f) {
  OPTIONAL MATCH (q:Equipment)-[:INSTALLED_AT]->(f) WHERE q.healthStatus = 'alert'
  RETURN count(q) AS failing
}
"""
_FACILITY_ROW = f"""{{id: f.id, operator: op.id, region: f.region, disruptions: atFacility + inRegion,
 alarms: {facility_alarms("f", "op")}, failing: failing}}"""

FACILITIES = (
    "MATCH (f:Facility) WHERE $scope IS NULL OR f.id STARTS WITH $scope\n"
    + _FACILITY_BODY
    + f"WITH {_FACILITY_ROW} AS row"
    + IN_CHUNKS
)
"""Every facility's facts: operator, region, open disruptions at it or in its region, recent alarms
(its entry in the operator's per-facility alarm counts, ``graph.kpis.facility_alarms``), ``$chunk`` per
record."""

FACILITIES_OF = (
    """
CALL () {
  UNWIND $ids AS id
  MATCH (f:Facility)-[:OPERATED_BY]->(:Enterprise {id: id})
  RETURN f
  UNION
  UNWIND $facilities AS fid
  MATCH (f:Facility {id: fid})
  RETURN f
  UNION
  UNWIND $regions AS region
  MATCH (f:Facility)-[:LOCATED_IN]->(:Region {name: region})
  RETURN f
}
WITH DISTINCT f
"""
    + _FACILITY_BODY
    + f"RETURN {_FACILITY_ROW} AS row"
)

_TOP_FILTER = """e.riskScore >= $minScore AND ($scope IS NULL OR e.id STARTS WITH $scope)
  AND ($industry IS NULL OR e.industry = $industry) AND ($region IS NULL OR e.region = $region)
  AND ($allowed IS NULL OR e.id IN $allowed)
  AND ($afterScore IS NULL OR e.riskScore < $afterScore
       OR (e.riskScore = $afterScore AND e.id > $afterId))"""

_TOP_RETURN = """RETURN e.id AS id, e.name AS name, e.industry AS industry, e.region AS region,
       e.riskScore AS score, e.riskFactors AS factors, e.riskComputedAt AS computedAt"""

TOP = f"""
MATCH (e:Enterprise)
WHERE {_TOP_FILTER}
{_TOP_RETURN}, null AS tier
ORDER BY e.riskScore DESC, id
LIMIT $limit
"""
"""The riskiest enterprises: a range seek on the ``Enterprise(riskScore)`` index read in descending
order (``ORDER BY e.riskScore`` on the indexed property itself; the id only breaks ties), the other
filters applied on the way, stopped at ``$limit`` rows."""

RISKY_MAX_TIERS = 10

_CURRENT_FROM = (
    "coalesce(x.validFrom, date('0001-01-01')) <= date() AND (x.validTo IS NULL OR x.validTo >= date())"
)


def _top_within(direction: str, tiers: int) -> str:
    # `direction` and `tiers` come from the fixed table below, never from request text: Cypher
    # cannot parameterise the bounds of a quantified path.
    link = f"[x:SUPPLIES WHERE {_CURRENT_FROM}]"
    hop = f"()<-{link}-()" if direction == "upstream" else f"()-{link}->()"
    return f"""
MATCH (f:Enterprise {{id: $focal}})
MATCH p = ANY SHORTEST (f)({hop}){{1,{tiers}}}(e:Enterprise)
WITH e, length(p) AS tier
WHERE e.id <> $focal AND {_TOP_FILTER}
{_TOP_RETURN}, tier
ORDER BY score DESC, id
LIMIT $limit
"""


TOP_WITHIN = {
    (d, t): _top_within(d, t) for d in ("upstream", "downstream") for t in range(1, RISKY_MAX_TIERS + 1)
}
"""The riskiest enterprises within ``t`` supply tiers of ``$focal`` (upstream: its suppliers and
theirs; downstream: its buyers and theirs) over current links, each with its ``tier`` (fewest hops)."""


def _link_row(supplier: str, row: list[Any]) -> SupplyLink:
    """One entry of ``LINKS``' ``links`` list: [buyer, sku, share, leadTime, volume, otif, ltMean, ltP90,
    quality, cover]."""
    buyer, sku, share, lead, volume, otif, lt_mean, lt_p90, quality, cover = row
    return SupplyLink(
        supplier,
        buyer,
        sku,
        share=share,
        lead_time_days=lead,
        annual_volume=volume,
        otif=otif,
        lead_time_mean=lt_mean,
        lead_time_p90=lt_p90,
        quality_incident_rate=quality,
        days_of_cover=cover,
    )


def _enterprise(r: Any) -> Enterprise:
    return Enterprise(
        r["id"],
        name=r["name"],
        industry=r["industry"],
        region=r["region"],
        days_of_cover=r["cover"],
        disruptions=tuple(
            OpenDisruption(
                d["id"], d["severity"] or "medium", d["where"], d["expectedRecoveryDays"], d["kind"]
            )
            for d in r["disruptions"]
        ),
        recent_alarms=int(r["alarms"]),
        expiring_certificates=int(r["certificates"]),
        facilities=tuple(r["facilities"]),
        failing_equipment=int(r.get("failing") or 0),
    )


def _facility(r: Any) -> Facility:
    return Facility(
        r["id"],
        operator=r["operator"],
        region=r["region"],
        disruptions=tuple(
            OpenDisruption(
                d["id"], d["severity"] or "medium", d["where"], d["expectedRecoveryDays"], d["kind"]
            )
            for d in r["disruptions"]
        ),
        recent_alarms=int(r["alarms"]),
        failing_equipment=int(r.get("failing") or 0),
    )


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class RiskStore:
    """Reads the risk model's inputs from Neo4j and writes scores back. Safe to share; holds no state."""

    def __init__(self, driver: AsyncDriver, settings: RiskSettings, *, database: str = "neo4j") -> None:
        self.driver = driver
        self.settings = settings
        self.database = database

    async def _read(self, query: str, **params: Any) -> list[Any]:
        records, _, _ = await self.driver.execute_query(
            query, params, routing_=RoutingControl.READ, database_=self.database
        )
        return records

    def _windows(self, now_ms: int | None) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        now = now_ms if now_ms is not None else int(time.time() * 1000)
        until = datetime.fromtimestamp(now / 1000, UTC).date() + timedelta(
            days=self.settings.certificate_window_days
        )
        return {"certificatesUntil": until}

    async def network(self, *, scope: str | None = None, now_ms: int | None = None) -> Network:
        """The whole projection (or the ``scope`` id prefix): every enterprise's facts and current link."""
        win = self._windows(now_ms)
        with gc_paused():  # ~1.2M long-lived objects: 38 -> 27 s at 100k / 1M links
            # The three reads run at once: Neo4j works on one while the client decodes another.
            link_recs, ent_recs, fac_recs = await asyncio.gather(
                self._read(LINKS, scope=scope, chunk=CHUNK_ROWS),
                self._read(FACTS, scope=scope, chunk=CHUNK_ROWS, **win),
                self._read(FACILITIES, scope=scope, chunk=CHUNK_ROWS, **win),
            )
            links = [
                _link_row(supplier, row) for r in link_recs for supplier, rows in r["rows"] for row in rows
            ]
            ents = [_enterprise(row) for r in ent_recs for row in r["rows"]]
            facs = [_facility(row) for r in fac_recs for row in r["rows"]]
            return Network.of(ents, links, facs)

    async def facilities_of(
        self,
        ids: Sequence[str],
        facilities: Sequence[str] = (),
        *,
        regions: Sequence[str] = (),
        now_ms: int | None = None,
    ) -> list[Facility]:
        """Fresh facts of the facilities operated by the enterprises ``ids``, of ``facilities`` and of
        every facility located in ``regions`` (whoever operates it)."""
        out: dict[str, Facility] = {}
        ids_, facs_ = sorted(set(ids)), sorted(set(facilities))
        regions_ = sorted(set(regions))
        for i in range(0, max(len(ids_), len(facs_), len(regions_), 1), BATCH):
            rows = await self._read(
                FACILITIES_OF,
                ids=ids_[i : i + BATCH],
                facilities=facs_[i : i + BATCH],
                regions=regions_[i : i + BATCH],
                **self._windows(now_ms),
            )
            out.update((r["row"]["id"], _facility(r["row"])) for r in rows)
        return list(out.values())

    async def facts_of(
        self, ids: Sequence[str], *, now_ms: int | None = None
    ) -> tuple[list[Enterprise], list[SupplyLink]]:
        """Fresh facts and current links (in and out) of the given enterprises, in batches of 5,000 ids
        (facts and links read at once); each read costs what those enterprises have, not what the
        graph has."""
        ents: list[Enterprise] = []
        links: dict[tuple[str, str, str], SupplyLink] = {}
        for chunk in _chunks(sorted(set(ids))):
            ent_recs, link_recs = await asyncio.gather(
                self._read(FACTS_OF, ids=list(chunk), **self._windows(now_ms)),
                self._read(LINKS_OF, ids=list(chunk)),
            )
            ents += [_enterprise(r["row"]) for r in ent_recs]
            for r in link_recs:
                for row in r["links"]:
                    lk = _link_row(row[0], row[1:])
                    links[(lk.supplier, lk.buyer, lk.sku)] = lk
        return ents, list(links.values())

    async def enterprises_in(
        self, *, regions: Sequence[str] = (), facilities: Sequence[str] = ()
    ) -> set[str]:
        """Enterprises located in the regions or operating the facilities."""
        out: set[str] = set()
        if regions:
            out |= {r["id"] for r in await self._read(IN_REGIONS, regions=sorted(set(regions)))}
        if facilities:
            out |= {r["id"] for r in await self._read(OPERATORS, facilities=sorted(set(facilities)))}
        return out

    async def disruption_targets(self, ids: Sequence[str]) -> dict[str, set[str]]:
        """What the disruptions affect: ``{"enterprise": ids, "facility": ids, "region": names}``."""
        out: dict[str, set[str]] = {"enterprise": set(), "facility": set(), "region": set()}
        if ids:
            for r in await self._read(DISRUPTION_TARGETS, ids=sorted(set(ids))):
                out[r["kind"]].add(r["key"])
        return out

    async def previous_scores(self, *, scope: str | None = None) -> dict[str, float]:
        """The scores last written to the graph (what alerts compare against after a restart)."""
        return {r["id"]: r["score"] for r in await self._read(PREVIOUS, scope=scope)}

    async def write_scores(
        self,
        scores: Iterable[RiskScore],
        *,
        computed_at_ms: int,
        written: dict[str, int] | None = None,
    ) -> int:
        """Set ``riskScore``, ``riskFactors`` (JSON) and ``riskComputedAt``; idempotent; returns the
        count written.

        With ``written`` (enterprise -> hash of the factors JSON last written, kept by the caller), a
        score whose JSON -- score and factors to 4 decimals, reasons -- is unchanged is not written
        again, so a periodic recompute leaves alone the nodes the projector is merging; ``written`` is
        updated as chunks commit, and a chunk that fails is forgotten (written again next time)."""
        rows = []
        for sc in scores:
            factors = orjson.dumps(sc.as_dict())
            mark = hash(factors)
            if written is not None and written.get(sc.enterprise) == mark:
                continue
            rows.append(
                {
                    "id": sc.enterprise,
                    "score": sc.score,
                    "factors": factors.decode(),
                    "at": computed_at_ms,
                    "mark": mark,
                }
            )
        for chunk in _chunks(rows, WRITE_BATCH):
            part = list(chunk)
            try:
                await self.driver.execute_query(
                    WRITE_SCORES,
                    {"rows": [{k: r[k] for k in ("id", "score", "factors", "at")} for r in part]},
                    database_=self.database,
                )
            except BaseException:
                if written is not None:
                    for r in part:
                        written.pop(r["id"], None)
                raise
            if written is not None:
                written.update((r["id"], r["mark"]) for r in part)
        return len(rows)

    async def mark_run(self, computed_at_ms: int, *, scope: str | None = None) -> None:
        """Record that the risk model of ``scope`` (None: the whole graph) is current as of this time:
        unchanged scores are not rewritten, so their ``riskComputedAt`` says when they last changed and
        this mark says how fresh the model is (``graph/freshness.py``)."""
        await self.driver.execute_query(
            WRITE_RUN, {"id": f"risk:{scope or ''}", "at": computed_at_ms}, database_=self.database
        )

    async def write_link_scores(self, scores: Iterable[LinkScore], *, computed_at_ms: int) -> int:
        """Set ``riskScore``, ``riskFactors`` (JSON) and ``riskComputedAt`` on the current ``SUPPLIES``
        relationships of the given links; idempotent; returns the count handed in."""
        rows = [
            {
                "supplier": s.supplier,
                "buyer": s.buyer,
                "sku": s.sku,
                "score": s.score,
                "factors": orjson.dumps(s.as_dict()).decode(),
                "at": computed_at_ms,
            }
            for s in scores
        ]
        for chunk in _chunks(rows):
            await self.driver.execute_query(WRITE_LINK_SCORES, {"rows": list(chunk)}, database_=self.database)
        return len(rows)

    async def write_facility_scores(self, scores: Iterable[FacilityScore], *, computed_at_ms: int) -> int:
        """Set ``riskScore``, ``riskFactors`` (JSON) and ``riskComputedAt`` on the facilities; idempotent."""
        rows = [
            {
                "id": s.facility,
                "score": s.score,
                "factors": orjson.dumps(s.as_dict()).decode(),
                "at": computed_at_ms,
            }
            for s in scores
        ]
        for chunk in _chunks(rows, WRITE_BATCH):
            await self.driver.execute_query(
                WRITE_FACILITY_SCORES, {"rows": list(chunk)}, database_=self.database
            )
        return len(rows)

    async def risky(
        self,
        *,
        limit: int = 50,
        min_score: float = 0.0,
        industry: str | None = None,
        region: str | None = None,
        scope: str | None = None,
        focal: str | None = None,
        tiers: int = 3,
        direction: Literal["upstream", "downstream"] = "upstream",
        allowed: Collection[str] | None = None,
        after: tuple[float, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The riskiest enterprises, highest first (ties by id), with their factor breakdown
        (``factors`` decoded); with ``after`` (score, id) those after it in that order (a keyset page).

        With ``focal``: only enterprises within ``tiers`` supply tiers of it in ``direction`` over
        current links (the focal itself excluded), each with its ``tier``; otherwise ``tier`` is None.
        ``allowed`` (a partner's visible ids) restricts the rows further. Raises ``ValueError`` for
        tiers outside 1..10 or an unknown direction.
        """
        params: dict[str, Any] = {
            "limit": max(1, min(limit, 1000)),
            "minScore": min_score,
            "industry": industry,
            "region": region,
            "scope": scope,
            "allowed": sorted(allowed) if allowed is not None else None,
            "afterScore": after[0] if after else None,
            "afterId": after[1] if after else None,
        }
        if focal is None:
            rows = await self._read(TOP, **params)
        else:
            query = TOP_WITHIN.get((direction, tiers))
            if query is None:
                raise ValueError(
                    f"tiers must be 1..{RISKY_MAX_TIERS} and direction upstream or downstream, "
                    f"got tiers={tiers}, direction={direction!r}"
                )
            rows = await self._read(query, focal=focal, **params)
        return [{**dict(r), "factors": orjson.loads(r["factors"]) if r["factors"] else None} for r in rows]
