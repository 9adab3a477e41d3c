"""Read views of the risk analyses for the API: what-if disruption, sole sources and concentration,
critical nodes — computed per request on the part of the graph a question needs, never the whole.

Why not the whole network: at 100k enterprises / 1M links reading the projection takes tens of
seconds and about 1 GB per process (the risk worker holds it, the API does not). A what-if only
reaches the downstream closure of the disrupted set, so this module reads that closure to ``tiers``
tiers (one round trip per tier, capped at ``max_affected`` enterprises) plus every current in-link of
the enterprises in it (their shares and days of cover decide when they fail), then runs the pure
``graph.risk.whatif.what_if`` on that sub-network. The cascade is exact within ``tiers`` tiers; past
them (or past the cap) it is cut and the answer says ``truncated``.

Every query is parameterised and returns one row (a collected list): Bolt streams many small records
far slower than one list (26,642 rows: 4 s; the same ids collected: 0.2 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from neo4j import AsyncDriver

from graph.kpis import link_cover
from graph.resourcing import (
    LINKS_SCAN,
    SOURCING_CANDIDATES,
    Candidate,
    CapacityLookup,
    SourcingOption,
    best,
    candidate,
    pairs,
    with_sites,
)
from graph.risk.facts import Enterprise, Network, SupplyLink
from graph.risk.settings import RiskSettings
from graph.risk.structure import (
    Concentration,
    FlowGraph,
    SoleSource,
    concentration,
    sole_sources,
)
from graph.risk.whatif import WhatIf, disrupted_set, what_if
from graph.views import read_records

Record = dict[str, Any]

_VALID = "coalesce(x.validFrom, date('0001-01-01')) <= $asOf AND (x.validTo IS NULL OR x.validTo >= $asOf)"
_E = (
    "id: e.id, name: e.name, industry: e.industry, region: e.region, country: e.country, "
    "riskScore: e.riskScore"
)

CANDIDATES = f"""
CALL () {{
  UNWIND $enterprises AS id
  MATCH (e:Enterprise {{id: id}})
  RETURN e
  UNION
  UNWIND $facilities AS fid
  MATCH (:Facility {{id: fid}})-[:OPERATED_BY]->(e:Enterprise)
  RETURN e
  UNION
  MATCH (e:Enterprise) WHERE $region IS NOT NULL AND e.region = $region
  RETURN e
}}
WITH DISTINCT e LIMIT $cap
CALL (e) {{ OPTIONAL MATCH (f:Facility)-[:OPERATED_BY]->(e) RETURN collect(f.id) AS facilities }}
RETURN collect({{e: {{{_E}}}, facilities: facilities}}) AS rows
"""
"""Enterprises a scenario may take out (named, operators of named facilities, in the region)."""

BUYERS_OF = f"""
UNWIND $ids AS id
MATCH (:Enterprise {{id: id}})-[x:SUPPLIES WHERE {_VALID}]->(b:Enterprise)
WITH DISTINCT b
RETURN collect(b.id) AS ids
"""
"""One tier of the downstream closure: the distinct buyers of the given suppliers."""

INFLOW = f"""
UNWIND $ids AS id
MATCH (e:Enterprise {{id: id}})
OPTIONAL MATCH (s:Enterprise)-[x:SUPPLIES WHERE {_VALID}]->(e)
WITH e, collect(CASE WHEN s IS NULL THEN null ELSE
  [s.id, x.sku, x.share, x.annualVolume, {link_cover("x", "e")}, s.riskScore] END) AS inflow
RETURN collect({{e: {{{_E}, daysOfCover: e.daysOfCover,
  coordinates: [(e)<-[:OPERATED_BY]-(fa:Facility)
                WHERE fa.latitude IS NOT NULL AND fa.longitude IS NOT NULL
                | [fa.latitude, fa.longitude]][..20]}},
  inflow: inflow}}) AS rows
"""
"""The enterprises (with their facilities' coordinates) with every current in-link (the supplier may
be outside the set) as lists in ``INFLOW_KEYS`` order (maps would repeat every key per link)."""

INFLOW_KEYS = ("supplier", "sku", "share", "volume", "cover", "supplierRisk")

ALTERNATIVES_SCAN = 20
"""Enterprises per lost sku ranked for alternatives beyond those the scenario takes down (the least risky
that produce or supply it; each costs a few lookups, and a region's what-if loses hundreds of skus)."""

SKU_LINKS = f"""
UNWIND $skus AS sku
MATCH (s:Enterprise)-[x:SUPPLIES]->(b:Enterprise)
WHERE x.sku = sku AND {_VALID}
WITH s, x, b LIMIT $cap
RETURN collect(DISTINCT s {{.id, .name, .industry, .region, .country, .riskScore}})
     + collect(DISTINCT b {{.id, .name, .industry, .region, .country, .riskScore}}) AS nodes,
       collect(x {{.sku, .share, .annualVolume, .unitPrice, .currency, .leadTimeDays,
                   supplierId: s.id, buyerId: b.id}}) AS edges
"""
"""Every current link supplying one of the skus (a product's bill of materials), capped."""


# -- pure ------------------------------------------------------------------------------------------


def network_of(nodes: Iterable[Record], edges: Iterable[Record]) -> Network:
    """A risk ``Network`` from view rows (nodes: id/name/industry/region; edges: supplierId, buyerId,
    sku, share, annualVolume). Redacted (``None``) shares and volumes weigh as in ``SupplyLink.volume``."""
    ents = [
        Enterprise(n["id"], name=n.get("name"), industry=n.get("industry"), region=n.get("region"))
        for n in nodes
    ]
    links = [
        SupplyLink(
            e["supplierId"],
            e["buyerId"],
            e["sku"],
            share=e.get("share"),
            annual_volume=e.get("annualVolume"),
            lead_time_days=e.get("leadTimeDays"),
        )
        for e in edges
    ]
    return Network.of(ents, links)


def inflow_network(candidates: Iterable[Record], rows: Iterable[Record]) -> Network:
    """The what-if sub-network: the disrupted candidates and the closure with every in-link of it
    (``rows`` as ``RiskViews.inflow`` returns them: in-links as lists in ``INFLOW_KEYS`` order)."""
    ents: dict[str, Enterprise] = {}
    links: list[SupplyLink] = []
    for c in candidates:
        e = c["e"]
        ents[e["id"]] = Enterprise(e["id"], name=e.get("name"), region=e.get("region"))
    for r in rows:
        e = r["e"]
        buyer = e["id"]
        ents[buyer] = Enterprise(
            buyer, name=e.get("name"), region=e.get("region"), days_of_cover=e.get("daysOfCover")
        )
        links += [
            SupplyLink(supplier, buyer, sku, share=share, annual_volume=volume, days_of_cover=cover)
            for supplier, sku, share, volume, cover, _risk in r["inflow"]
        ]
    return Network.of(ents.values(), links)


def candidate_network(candidates: Iterable[Record]) -> Network:
    """Enterprises with region and facilities, to pick a scenario's disrupted set with ``disrupted_set``."""
    return Network.of(
        (
            Enterprise(c["e"]["id"], region=c["e"].get("region"), facilities=tuple(c["facilities"]))
            for c in candidates
        ),
        (),
    )


def lost_per_day(result: WhatIf, rows: Iterable[Record]) -> dict[str, dict[str, float | None]]:
    """Per exposed enterprise and lost sku: the quantity per day it loses (its lost share of the sku x
    the annual volume of its current in-links of the sku / 365); ``None`` when a link has no volume.
    ``rows`` as ``RiskViews.inflow`` returns them. Pure."""
    volume: dict[tuple[str, str], float | None] = {}
    for r in rows:
        buyer = r["e"]["id"]
        for _supplier, sku, _share, annual, _cover, _risk in r["inflow"]:
            key = (buyer, sku)
            have = volume.get(key, 0.0)
            volume[key] = None if have is None or annual is None else have + float(annual)
    out: dict[str, dict[str, float | None]] = {}
    for ex in result.exposures:
        per: dict[str, float | None] = {}
        for sku, share in ex.lost_share.items():
            annual = volume.get((ex.enterprise, sku))
            per[sku] = None if annual is None else share * annual / 365.0
        out[ex.enterprise] = per
    return out


def merge_alternatives(
    result: WhatIf,
    found: dict[str, list[Record]],
    k: int,
    *,
    lost: Mapping[str, Mapping[str, float | None]] | None = None,
    origins: Mapping[str, Sequence[Sequence[float]]] | None = None,
    now_ms: int = 0,
    max_report_age_days: float = 30.0,
) -> dict[str, dict[str, list[SourcingOption]]]:
    """Per exposed enterprise and lost sku: up to ``k`` enterprises producing or supplying the sku that
    keep running (not disrupted, not failing in the scenario, not the enterprise itself), ranked by
    ``graph.resourcing`` for the volume it loses (``lost``) from its facilities (``origins``). ``found``:
    sku -> rows as ``SOURCING_CANDIDATES`` returns them. Pure."""
    down = set(result.disrupted) | {e.enterprise for e in result.exposures if e.stops_supplying}
    ranked: dict[str, list[Candidate]] = {
        sku: [
            candidate(r, now_ms=now_ms, max_report_age_days=max_report_age_days)
            for r in rows
            if r["e"]["id"] not in down
        ]
        for sku, rows in found.items()
    }
    out: dict[str, dict[str, list[SourcingOption]]] = {}
    for ex in result.exposures:
        per: dict[str, list[SourcingOption]] = {}
        for sku in ex.lost_share:
            others = [c for c in ranked.get(sku, []) if c.enterprise_id != ex.enterprise]
            need = (lost or {}).get(ex.enterprise, {}).get(sku)
            per[sku] = best(others, k, needed_per_day=need, origins=(origins or {}).get(ex.enterprise, []))
        out[ex.enterprise] = per
    return out


@dataclass(frozen=True)
class Scenario:
    """A what-if answer with what the API shows about the enterprises in it."""

    result: WhatIf
    enterprises: dict[str, Record]  # id -> id, name, industry, region, country, riskScore
    alternatives: dict[str, dict[str, list[SourcingOption]]]  # exposed id -> sku -> ranked options
    truncated: bool
    tiers: int
    lost_per_day: dict[str, dict[str, float | None]] = field(default_factory=dict)  # exposed -> sku -> qty
    alternatives_shown: int | None = None  # per sku, after a partner's scope is applied (None: all)


@dataclass(frozen=True)
class SourcingReport:
    sole_sources: list[SoleSource]
    concentration: list[Concentration]  # highest HHI first, then by sku
    enterprises: dict[str, Record]
    truncated: bool
    skus: list[str] = field(default_factory=list)


def sourcing_report(
    nodes: list[Record], edges: list[Record], *, buyers: set[str] | None, truncated: bool
) -> SourcingReport:
    """Sole-sourced (buyer, sku) pairs among ``buyers`` (all when ``None``) and, per sku in the links,
    the HHI of supply volume by supplier region. Pure."""
    net = network_of(nodes, edges)
    conc = sorted(concentration(net).values(), key=lambda c: (-c.hhi, c.sku))
    return SourcingReport(
        sole_sources(net, buyers=buyers),
        conc,
        {n["id"]: n for n in nodes},
        truncated,
        sorted({e["sku"] for e in edges}),
    )


@dataclass(frozen=True)
class CriticalNodes:
    cut_vertices: list[str]  # sorted by tier, then id
    betweenness: dict[str, float]
    method: str


def critical_nodes(nodes: list[Record], edges: list[Record], s: RiskSettings) -> CriticalNodes:
    """Cut vertices and betweenness of the material flow among ``nodes`` (exact up to
    ``betweenness_exact_max_nodes``, else sampled pivots). Pure."""
    flow = FlowGraph(network_of(nodes, edges))
    cuts = flow.articulation_points()
    btw = flow.betweenness(
        exact_max_nodes=s.betweenness_exact_max_nodes, pivots=s.betweenness_pivots, seed=s.betweenness_seed
    )
    tier = {n["id"]: n.get("tier", 0) for n in nodes}
    return CriticalNodes(sorted(cuts, key=lambda i: (tier.get(i, 0), i)), btw.values, btw.method)


# -- adapters ----------------------------------------------------------------------------------------


class RiskViews:
    """Neo4j reads behind the risk views. Round trips per call are bounded by ``tiers``, never by size."""

    def __init__(
        self, driver: AsyncDriver, *, database: str = "neo4j", timeout_s: float | None = None
    ) -> None:
        self.driver = driver
        self.database = database
        self.timeout_s = timeout_s
        """Neo4j's own time bound on each read (None: the server's default)."""

    async def _read(self, query: str, **params: Any) -> list[Record]:
        return await read_records(self.driver, self.database, query, params, timeout_s=self.timeout_s)

    async def candidates(
        self, *, enterprises: Sequence[str], facilities: Sequence[str], region: str | None, cap: int
    ) -> list[Record]:
        """Enterprises the scenario names (directly, by facility, by region), at most ``cap``."""
        rows = await self._read(
            CANDIDATES,
            enterprises=list(enterprises),
            facilities=list(facilities),
            region=region,
            cap=cap,
        )
        return list(rows[0]["rows"]) if rows else []

    async def downstream_closure(
        self, sources: Iterable[str], *, tiers: int, as_of: date, cap: int
    ) -> tuple[dict[str, int], bool]:
        """Enterprises downstream of ``sources`` to ``tiers`` tiers -> tier; truncated past ``cap``."""
        seen = set(sources)
        out: dict[str, int] = {}
        frontier = sorted(seen)
        for t in range(1, tiers + 1):
            if not frontier:
                break
            rows = await self._read(BUYERS_OF, ids=frontier, asOf=as_of)
            found = sorted(rows[0]["ids"]) if rows else []
            frontier = [i for i in found if i not in seen]
            room = cap - len(out)
            if len(frontier) > room:
                for i in frontier[:room]:
                    out[i] = t
                return out, True
            for i in frontier:
                out[i] = t
            seen.update(frontier)
        return out, False

    async def inflow(self, ids: Sequence[str], *, as_of: date) -> list[Record]:
        """The enterprises (with days of cover) and every current in-link of each."""
        if not ids:
            return []
        rows = await self._read(INFLOW, ids=list(ids), asOf=as_of)
        if not rows:
            return []
        return list(rows[0]["rows"])  # in-links stay lists (a dict each cost ~0.15 s at 70k links)

    async def alternatives(
        self, skus: Sequence[str], *, scan: int, capacity: CapacityLookup | None = None
    ) -> dict[str, list[Record]]:
        """Per sku, up to ``scan`` of the least risky enterprises that produce or currently supply it, with
        what ``graph.resourcing`` ranks them by: their capacity reports from ``capacity`` (``None``: none
        known, so no spare capacity)."""
        if not skus:
            return {}
        rows = await self._read(
            SOURCING_CANDIDATES,
            skus=list(skus),
            scope=None,
            exclude=[],
            capability=None,
            region=None,
            maxRisk=None,
            scan=scan,
            links=LINKS_SCAN,
        )
        found = list(rows[0]["rows"]) if rows else []
        sites = await capacity(pairs(found)) if capacity is not None and found else {}
        out: dict[str, list[Record]] = {}
        for r in with_sites(found, sites):
            out.setdefault(r["sku"], []).append(r)
        return out

    async def what_if(
        self,
        *,
        enterprises: Sequence[str],
        facilities: Sequence[str],
        region: str | None,
        days: float,
        tiers: int,
        as_of: date,
        settings: RiskSettings,
        max_disrupted: int,
        max_affected: int,
        alternatives: int,
        capacity: CapacityLookup | None = None,
    ) -> Scenario:
        """The scenario's cascade over its downstream closure (see the module docstring); alternatives
        ranked with the capacity reports ``capacity`` returns (``None``: none known)."""
        cands = await self.candidates(
            enterprises=enterprises, facilities=facilities, region=region, cap=max_disrupted + 1
        )
        if len(cands) > max_disrupted:
            raise ScenarioTooLarge(
                f"the scenario takes out more than {max_disrupted} enterprises: name fewer, or raise "
                f"maxDisrupted (at most {max_disrupted})"
            )
        hit = disrupted_set(
            candidate_network(cands), enterprises=enterprises, facilities=facilities, region=region
        )
        closure, truncated = await self.downstream_closure(hit, tiers=tiers, as_of=as_of, cap=max_affected)
        rows = await self.inflow(sorted(closure), as_of=as_of)
        net = inflow_network([c for c in cands if c["e"]["id"] in hit], rows)
        ranking = {x[0]: x[5] or 0.0 for r in rows for x in r["inflow"]}  # supplier -> its risk score
        result = what_if(net, hit, days, settings, alternatives=alternatives, ranking=ranking)
        lost = sorted({sku for e in result.exposures for sku in e.lost_share})[:MAX_ALTERNATIVE_SKUS]
        down = len(hit) + sum(1 for e in result.exposures if e.stops_supplying)
        found: dict[str, list[Record]] = {}
        origins: dict[str, list[list[float]]] = {}
        volumes = lost_per_day(result, rows)
        if alternatives:
            found = await self.alternatives(
                lost, scan=ALTERNATIVES_SCAN + alternatives + min(down, 50), capacity=capacity
            )
            origins = {r["e"]["id"]: r["e"].get("coordinates") or [] for r in rows}
        rows_by_id = {c["e"]["id"]: c["e"] for c in cands if c["e"]["id"] in hit}
        rows_by_id.update({r["e"]["id"]: r["e"] for r in rows})
        # Ranked past ``alternatives``: a partner's answer drops those outside its network first.
        alts = merge_alternatives(
            result,
            found,
            alternatives + ALTERNATIVES_SCAN,
            lost=volumes,
            origins=origins,
            now_ms=int(time.time() * 1000),
        )
        return Scenario(result, rows_by_id, alts, truncated, tiers, volumes, alternatives)

    async def sku_links(
        self, skus: Sequence[str], *, as_of: date, cap: int
    ) -> tuple[list[Record], list[Record], bool]:
        """(enterprises, links) of every current link supplying one of ``skus``; truncated past ``cap``."""
        if not skus:
            return [], [], False
        rows = await self._read(SKU_LINKS, skus=list(skus), asOf=as_of, cap=cap + 1)
        if not rows:
            return [], [], False
        nodes = list({n["id"]: n for n in rows[0]["nodes"]}.values())
        edges = list(rows[0]["edges"])
        return nodes, edges[:cap], len(edges) > cap


MAX_ALTERNATIVE_SKUS = 500
"""Most lost skus a scenario looks up alternative suppliers for (the rest get none)."""


class ScenarioTooLarge(ValueError):
    """A what-if names more enterprises than allowed; the message says the limit."""
