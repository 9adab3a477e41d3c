"""Re-sourcing by spare capacity: who could take over a lost supplier's volume, ranked, and a plan.

The graph names the candidates (enterprises that produce a material, ``(Enterprise)-[:PRODUCES]->
(Material)``, or currently supply it); their capacity comes from the latest capacity reports in the
record store (``connectors.capacity_reports``, one per enterprise, sku and site), attached to the graph's
rows by ``with_sites``: per site ``capacityPerDay * max(0, 1 - utilization)``, summed over the
enterprise's sites of the material. A report older than ``max_report_age_days`` counts as no spare
capacity (it is listed, marked stale, with its age).

Candidates are ranked by one score in [0, 1], a weighted sum of five parts, each in [0, 1]:

=============  ======  =====================================================================
part           weight  value
=============  ======  =====================================================================
cover          0.40    share of the needed quantity per day its spare capacity covers
risk           0.25    1 - risk score (a candidate never scored counts as 0 risk)
distance       0.15    1 / (1 + km / 500) from the buyer's nearest site (unknown: 0.5)
certification  0.10    holds the required certification (1 / 0); 1 when none is required
lead time      0.10    1 / (1 + days / 30) of its current links of the material (unknown: 0.5)
=============  ======  =====================================================================

Ties go to the lower enterprise id, so a ranking is deterministic. Everything here is pure.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]

CapacityLookup = Callable[[Collection[tuple[str, str]]], Awaitable[Mapping[tuple[str, str], list[Record]]]]
"""(enterprise id, sku) pairs -> the latest capacity report of each of their sites, as
``{"capacityPerDay", "utilization", "capacityReportedAt"}`` (``connectors.capacity_reports``)."""

WEIGHTS: Mapping[str, float] = {
    "cover": 0.40,
    "risk": 0.25,
    "distance": 0.15,
    "certification": 0.10,
    "leadTime": 0.10,
}
"""The ranking's weights (they sum to 1)."""

DISTANCE_SCALE_KM = 500.0
LEAD_TIME_SCALE_DAYS = 30.0
UNKNOWN_PART = 0.5
DAY_MS = 86_400_000

LINKS_SCAN = 2_000
"""Current links of a sku looked at for its suppliers (a common sku has 10^5 links: all would cost ~1 s)."""

SOURCING_CANDIDATES = """
UNWIND $skus AS sku
CALL (sku) {
  MATCH (e:Enterprise)-[:PRODUCES]->(:Material {sku: sku})
  RETURN e
  UNION
  MATCH (e:Enterprise)-[x:SUPPLIES]->(:Enterprise)
  WHERE x.sku = sku AND (x.validTo IS NULL OR x.validTo >= date())
  WITH e LIMIT $links
  RETURN e
}
WITH sku, e
WHERE ($scope IS NULL OR e.id IN $scope) AND NOT e.id IN $exclude
  AND ($capability IS NULL OR $capability IN coalesce(e.capabilities, []))
  AND ($region IS NULL OR e.region = $region)
  AND ($maxRisk IS NULL OR coalesce(e.riskScore, 0.0) <= $maxRisk)
WITH DISTINCT sku, e
ORDER BY coalesce(e.riskScore, 0.0), e.id
WITH sku, collect(e)[..$scan] AS found
UNWIND found AS e
CALL (e) {
  MATCH (e)<-[:OPERATED_BY]-(fa:Facility)
  WHERE fa.latitude IS NOT NULL AND fa.longitude IS NOT NULL
  RETURN collect([fa.latitude, fa.longitude])[..20] AS coordinates
}
CALL (e) {
  OPTIONAL MATCH (e)-[:HOLDS]->(c:Certification) WHERE c.status = 'active'
  RETURN collect(DISTINCT c.standard) AS certifications
}
CALL (e, sku) {
  OPTIONAL MATCH (e)-[x:SUPPLIES]->(:Enterprise)
  WHERE x.sku = sku AND (x.validTo IS NULL OR x.validTo >= date())
  RETURN avg(x.leadTimeDays) AS leadTimeDays
}
RETURN collect({sku: sku, e: e {.id, .name, .industry, .region, .country, .riskScore, .capabilities,
                                .otifRate90d},
                 coordinates: coordinates, certifications: certifications,
                 leadTimeDays: leadTimeDays}) AS rows
"""
"""One row: per sku, up to ``$scan`` enterprises that produce it or supply it on one of ``$links``
current links (least risky first, in ``$scope`` when given, none of ``$exclude``), with their facility
coordinates, active certifications and mean lead time of their current links of it. Their capacity
reports are records: ``with_sites`` attaches them."""

ORIGINS = """
UNWIND $ids AS id
MATCH (fa:Facility)-[:OPERATED_BY]->(:Enterprise {id: id})
WHERE fa.latitude IS NOT NULL AND fa.longitude IS NOT NULL
WITH id, collect([fa.latitude, fa.longitude])[..20] AS coordinates
RETURN collect({id: id, coordinates: coordinates}) AS rows
"""
"""The facility coordinates of each enterprise (where distances are measured from)."""


def pairs(rows: Iterable[Record]) -> set[tuple[str, str]]:
    """The (enterprise id, sku) of each candidate row whose capacity reports are wanted."""
    return {(str(r["e"]["id"]), str(r["sku"])) for r in rows if r.get("sku") is not None}


def with_sites(rows: Iterable[Record], sites: Mapping[tuple[str, str], list[Record]]) -> list[Record]:
    """Candidate rows with ``sites``: their capacity reports of the row's sku (none: no spare capacity)."""
    return [{**r, "sites": sites.get((str(r["e"]["id"]), str(r.get("sku"))), [])} for r in rows]


def haversine_km(a: Sequence[float], b: Sequence[float]) -> float:
    """Great-circle distance in km between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def nearest_km(origins: Sequence[Sequence[float]], sites: Sequence[Sequence[float]]) -> float | None:
    """The shortest distance between any origin and any site; ``None`` when either is unknown."""
    if not origins or not sites:
        return None
    return min(haversine_km(o, s) for o in origins for s in sites)


@dataclass(frozen=True)
class SpareCapacity:
    """An enterprise's spare capacity for one material, from its latest capacity reports."""

    capacity_per_day: float
    spare_per_day: float  # 0 when the report is stale
    utilization: float | None  # capacity-weighted over its sites
    report_age_days: float | None  # of its oldest site report
    stale: bool


def spare_capacity(sites: Iterable[Record], *, now_ms: int, max_report_age_days: float) -> SpareCapacity:
    """Capacity - utilisation summed over an enterprise's reported sites of one material."""
    capacity, spare, oldest = 0.0, 0.0, None
    for s in sites:
        cap = float(s.get("capacityPerDay") or 0.0)
        util = float(s.get("utilization") or 0.0)
        capacity += cap
        spare += cap * max(0.0, 1.0 - util)
        t = s.get("capacityReportedAt")
        if t is not None:
            oldest = int(t) if oldest is None else min(oldest, int(t))
    age = None if oldest is None else max(0.0, (now_ms - oldest) / DAY_MS)
    stale = age is None or age > max_report_age_days
    used = (capacity - spare) / capacity if capacity > 0 else None
    return SpareCapacity(capacity, 0.0 if stale else spare, used, age, stale)


@dataclass(frozen=True)
class SourcingOption:
    """One candidate to take over volume of a material: what it could cover, and why it ranks where."""

    enterprise: Record
    sku: str
    spare: SpareCapacity
    distance_km: float | None
    certifications: tuple[str, ...]
    certified: bool | None  # None: no certification was required
    lead_time_days: float | None
    covers_per_day: float  # of the needed quantity (or all its spare when no quantity is given)
    cover_share: float | None  # covers / needed
    score: float
    parts: Mapping[str, float]

    @property
    def enterprise_id(self) -> str:
        return str(self.enterprise["id"])


def _distance_part(km: float | None) -> float:
    return UNKNOWN_PART if km is None else 1.0 / (1.0 + km / DISTANCE_SCALE_KM)


def _lead_part(days: float | None) -> float:
    return UNKNOWN_PART if days is None else 1.0 / (1.0 + max(0.0, days) / LEAD_TIME_SCALE_DAYS)


@dataclass(frozen=True)
class Candidate:
    """What ranks a candidate whoever the buyer is (computed once per candidate and sku)."""

    row: Record
    spare: SpareCapacity
    certifications: tuple[str, ...]
    lead_time_days: float | None
    risk_part: float
    lead_part: float

    @property
    def enterprise_id(self) -> str:
        return str(self.row["e"]["id"])

    @property
    def base(self) -> float:
        """The weighted parts that do not depend on the buyer (no certification required)."""
        return (
            WEIGHTS["risk"] * self.risk_part + WEIGHTS["leadTime"] * self.lead_part + WEIGHTS["certification"]
        )


def candidate(row: Record, *, now_ms: int, max_report_age_days: float) -> Candidate:
    """A row as ``SOURCING_CANDIDATES`` returns it, with its spare capacity and buyer-free parts."""
    lead = row.get("leadTimeDays")
    lead_days = None if lead is None else float(lead)
    return Candidate(
        row=row,
        spare=spare_capacity(row["sites"], now_ms=now_ms, max_report_age_days=max_report_age_days),
        certifications=tuple(sorted(row.get("certifications") or [])),
        lead_time_days=lead_days,
        risk_part=max(0.0, 1.0 - float(row["e"].get("riskScore") or 0.0)),
        lead_part=_lead_part(lead_days),
    )


def _parts(
    c: Candidate, needed_per_day: float | None, km: float | None, certified: bool | None
) -> dict[str, float]:
    spare = c.spare.spare_per_day
    if needed_per_day is not None and needed_per_day > 0:
        cover = min(spare, needed_per_day) / needed_per_day
    else:
        cover = 1.0 if spare > 0 else 0.0
    return {
        "cover": cover,
        "risk": c.risk_part,
        "distance": _distance_part(km),
        "certification": 1.0 if certified is None else float(certified),
        "leadTime": c.lead_part,
    }


def score(
    c: Candidate,
    *,
    needed_per_day: float | None,
    origins: Sequence[Sequence[float]],
    certification: str | None,
) -> SourcingOption:
    """A candidate scored for one buyer's need."""
    km = nearest_km(origins, c.row.get("coordinates") or [])
    certified = None if certification is None else certification in c.certifications
    parts = _parts(c, needed_per_day, km, certified)
    spare = c.spare.spare_per_day
    if needed_per_day is not None and needed_per_day > 0:
        covers = min(spare, needed_per_day)
        share: float | None = covers / needed_per_day
    else:
        covers, share = spare, None
    return SourcingOption(
        enterprise=c.row["e"],
        sku=str(c.row["sku"]),
        spare=c.spare,
        distance_km=km,
        certifications=c.certifications,
        certified=certified,
        lead_time_days=c.lead_time_days,
        covers_per_day=covers,
        cover_share=share,
        score=round(sum(WEIGHTS[k] * v for k, v in parts.items()), 6),
        parts=parts,
    )


def best(
    candidates: Sequence[Candidate],
    k: int,
    *,
    needed_per_day: float | None,
    origins: Sequence[Sequence[float]],
) -> list[SourcingOption]:
    """The ``k`` best of ``candidates`` for one buyer, in ``rank`` order, building only those ``k``."""
    keyed = []
    w_cover, w_distance = WEIGHTS["cover"], WEIGHTS["distance"]
    for i, c in enumerate(candidates):
        spare = c.spare.spare_per_day
        if needed_per_day is not None and needed_per_day > 0:
            cover = min(spare, needed_per_day) / needed_per_day
        else:
            cover = 1.0 if spare > 0 else 0.0
        sites = c.row.get("coordinates") or []
        km = nearest_km(origins, sites) if origins and sites else None
        total = c.base + w_cover * cover + w_distance * _distance_part(km)
        keyed.append((-round(total, 6), c.enterprise_id, i))
    top = heapq.nsmallest(k, keyed)
    return [
        score(candidates[i], needed_per_day=needed_per_day, origins=origins, certification=None)
        for *_, i in top
    ]


def option(
    row: Record,
    *,
    needed_per_day: float | None,
    origins: Sequence[Sequence[float]],
    certification: str | None,
    now_ms: int,
    max_report_age_days: float,
) -> SourcingOption:
    """A candidate row (as ``SOURCING_CANDIDATES`` returns it) scored for a need."""
    c = candidate(row, now_ms=now_ms, max_report_age_days=max_report_age_days)
    return score(c, needed_per_day=needed_per_day, origins=origins, certification=certification)


def rank(options: Iterable[SourcingOption]) -> list[SourcingOption]:
    """Best first: highest score, then lowest enterprise id."""
    return sorted(options, key=lambda o: (-o.score, o.enterprise_id))


@dataclass(frozen=True)
class Allocation:
    option: SourcingOption
    quantity_per_day: float


@dataclass(frozen=True)
class Plan:
    """Cover ``needed_per_day`` from ranked options' spare capacity; what is left is the shortfall."""

    needed_per_day: float
    allocations: tuple[Allocation, ...]
    covered_per_day: float
    residual_shortfall_per_day: float


def plan(ranked: Sequence[SourcingOption], needed_per_day: float) -> Plan:
    """Take spare capacity in rank order until the need is met (greedy; an option with a required
    certification it lacks is skipped). The residual shortfall is never negative."""
    left = needed_per_day
    out: list[Allocation] = []
    for o in ranked:
        if left <= 1e-9:
            break
        if o.certified is False or o.spare.spare_per_day <= 0:
            continue
        take = min(o.spare.spare_per_day, left)
        out.append(Allocation(o, take))
        left -= take
    covered = needed_per_day - max(0.0, left)
    return Plan(needed_per_day, tuple(out), covered, max(0.0, left))


__all__ = [
    "LINKS_SCAN",
    "ORIGINS",
    "SOURCING_CANDIDATES",
    "WEIGHTS",
    "Allocation",
    "Candidate",
    "CapacityLookup",
    "Plan",
    "SourcingOption",
    "SpareCapacity",
    "best",
    "candidate",
    "haversine_km",
    "nearest_km",
    "option",
    "pairs",
    "plan",
    "rank",
    "score",
    "spare_capacity",
    "with_sites",
]
