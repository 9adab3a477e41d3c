"""The data map: the network's figures by region and by industry — enterprises, supply links, delivery
performance (OTIF), risk distribution and the concentration of critical materials.

Neo4j aggregates (one round trip, three parameterised subqueries over every enterprise and every
current ``SUPPLIES`` link, or over a given scope of enterprise ids); ``fold`` turns the small grouped
rows into the figures of each area (pure, so the arithmetic is tested without a server).

Definitions:

- **links** of an area: current supply links with at least one end in it (``links_out``: its enterprises
  supply, ``links_in``: they buy); with a scope, only links with both ends in the scope.
- **OTIF** of an area: the share of its enterprises' deliveries of the last 90 days that were on time and
  in full, i.e. Σ otifRate90d × deliveries90d / Σ deliveries90d over the suppliers in it (the supplier
  KPIs of ``graph/kpis.py``); ``None`` without deliveries.
- **risk histogram**: enterprises by risk score in ``RISK_BUCKETS`` equal bins (the last one closed);
  unscored ones are counted apart.
- **critical material**: a sku whose supply is concentrated by supplier region the way the risk model's
  concentration factor judges it (``graph.risk.structure.concentration``): HHI ≥ ``hhi_threshold`` and
  the top region holding ≥ ``share_threshold`` of it. Volume is a link's annual volume, else its share,
  else 1; with ``by_links`` every link weighs 1 (for a caller from whom others' volumes are hidden).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from neo4j import AsyncDriver

from graph.views import read_records

RISK_BUCKETS = 5
UNKNOWN = ""
"""The region or industry key of enterprises that have none."""
UNKNOWN_REGION = "(unknown region)"
"""A supplier without a region, in the concentration figures (as ``graph.risk.structure`` names it)."""

_VALID = "coalesce(x.validFrom, date('0001-01-01')) <= $asOf AND (x.validTo IS NULL OR x.validTo >= $asOf)"


def _aggregate_query(scoped: bool) -> str:
    # Two fixed texts (with and without a scope); the scope is a parameter, never query text.
    enterprises = "UNWIND $scope AS id MATCH (e:Enterprise {id: id})" if scoped else "MATCH (e:Enterprise)"
    suppliers = "UNWIND $scope AS id MATCH (s:Enterprise {id: id})" if scoped else "MATCH (s:Enterprise)"
    in_scope = "AND b.id IN $scope" if scoped else ""
    return f"""
CALL () {{
  {enterprises}
  WITH coalesce(e.region, '') AS region, coalesce(e.industry, '') AS industry,
       CASE WHEN e.riskScore IS NULL THEN -1
            ELSE toInteger(floor(CASE WHEN e.riskScore >= 1.0 THEN 0.999999
                                      WHEN e.riskScore < 0.0 THEN 0.0 ELSE e.riskScore END * $buckets))
       END AS bucket,
       e
  WITH region, industry, bucket, count(e) AS n,
       sum(coalesce(e.deliveries90d, 0)) AS deliveries,
       sum(CASE WHEN e.otifRate90d IS NULL THEN 0.0 ELSE e.otifRate90d * coalesce(e.deliveries90d, 0) END)
         AS otif,
       sum(coalesce(e.riskScore, 0.0)) AS risk
  RETURN collect([region, industry, bucket, n, deliveries, otif, risk]) AS enterprises
}}
CALL () {{
  {suppliers}
  MATCH (s)-[x:SUPPLIES WHERE {_VALID}]->(b:Enterprise)
  WHERE true {in_scope}
  WITH coalesce(s.region, '') AS sr, coalesce(s.industry, '') AS si,
       coalesce(b.region, '') AS br, coalesce(b.industry, '') AS bi, count(x) AS n
  RETURN collect([sr, si, br, bi, n]) AS links
}}
CALL () {{
  {suppliers}
  MATCH (s)-[x:SUPPLIES WHERE {_VALID}]->(b:Enterprise)
  WHERE s <> b {in_scope}
  WITH x.sku AS sku, coalesce(s.region, '{UNKNOWN_REGION}') AS region, s.id AS supplier,
       CASE WHEN $byLinks THEN 1.0 ELSE toFloat(coalesce(x.annualVolume, x.share, 1.0)) END AS v
  WITH sku, region, sum(v) AS volume, count(DISTINCT supplier) AS suppliers
  OPTIONAL MATCH (m:Material {{sku: sku}})
  RETURN collect([sku, region, volume, suppliers, m.name, m.category]) AS supply
}}
RETURN enterprises, links, supply
"""


AGGREGATES = {scoped: _aggregate_query(scoped) for scoped in (False, True)}


@dataclass
class AreaFigures:
    """One area's figures (a region, an industry or the whole network)."""

    key: str
    enterprises: int = 0
    links: int = 0
    links_out: int = 0
    links_in: int = 0
    deliveries90d: int = 0
    otif_deliveries90d: float = 0.0
    scored: int = 0
    risk_sum: float = 0.0
    risk_histogram: list[int] = field(default_factory=lambda: [0] * RISK_BUCKETS)
    critical_materials: list[MaterialSupply] = field(default_factory=list)
    """Critical materials whose top supplier region this is (regions only), largest share first."""

    @property
    def otif_rate90d(self) -> float | None:
        return self.otif_deliveries90d / self.deliveries90d if self.deliveries90d else None

    @property
    def unscored(self) -> int:
        return self.enterprises - self.scored

    @property
    def mean_risk_score(self) -> float | None:
        return self.risk_sum / self.scored if self.scored else None


@dataclass(frozen=True)
class MaterialSupply:
    """How one material's current supply splits by supplier region."""

    sku: str
    name: str | None
    category: str | None
    suppliers: int
    region_shares: dict[str, float]
    """Region → share of the supply volume, largest first (ties by name)."""

    @property
    def hhi(self) -> float:
        return sum(s * s for s in self.region_shares.values())

    @property
    def top_region(self) -> str:
        return next(iter(self.region_shares))

    @property
    def top_share(self) -> float:
        return next(iter(self.region_shares.values()))

    def critical(self, *, hhi_threshold: float, share_threshold: float) -> bool:
        return self.hhi >= hhi_threshold and self.top_share >= share_threshold


@dataclass
class DataMapFigures:
    """The whole data map: network totals, regions and industries (by key), critical materials."""

    totals: AreaFigures
    regions: dict[str, AreaFigures]
    industries: dict[str, AreaFigures]
    materials: list[MaterialSupply]
    """Every material with current supply, most concentrated first (HHI, then sku)."""
    critical: list[MaterialSupply]
    """The critical ones among them, in the same order."""


def _add_enterprises(
    area: AreaFigures, bucket: int, n: int, deliveries: int, otif: float, risk: float
) -> None:
    area.enterprises += n
    area.deliveries90d += deliveries
    area.otif_deliveries90d += otif
    if bucket >= 0:
        area.scored += n
        area.risk_sum += risk
        area.risk_histogram[min(bucket, RISK_BUCKETS - 1)] += n


def fold(
    enterprises: Sequence[Sequence[Any]],
    links: Sequence[Sequence[Any]],
    supply: Sequence[Sequence[Any]],
    *,
    hhi_threshold: float,
    share_threshold: float,
) -> DataMapFigures:
    """The figures of every area from the grouped rows of ``AGGREGATES``. Pure; deterministic order:
    areas by key (the unknown key ``""`` first)."""
    totals = AreaFigures("")
    regions: dict[str, AreaFigures] = {}
    industries: dict[str, AreaFigures] = {}
    for region, industry, bucket, n, deliveries, otif, risk in enterprises:
        for area in (
            totals,
            regions.setdefault(region, AreaFigures(region)),
            industries.setdefault(industry, AreaFigures(industry)),
        ):
            _add_enterprises(area, int(bucket), int(n), int(deliveries), float(otif), float(risk))
    for sr, si, br, bi, n in links:
        count = int(n)
        totals.links += count
        totals.links_out += count
        totals.links_in += count
        for table, a, b in ((regions, sr, br), (industries, si, bi)):
            supplier_side = table.setdefault(a, AreaFigures(a))
            buyer_side = table.setdefault(b, AreaFigures(b))
            supplier_side.links_out += count
            buyer_side.links_in += count
            supplier_side.links += count
            if b != a:
                buyer_side.links += count
    volumes: dict[str, dict[str, float]] = defaultdict(dict)
    suppliers: dict[str, int] = defaultdict(int)
    names: dict[str, tuple[str | None, str | None]] = {}
    for sku, region, volume, count, name, category in supply:
        volumes[sku][region] = volumes[sku].get(region, 0.0) + float(volume)
        suppliers[sku] += int(count)
        names[sku] = (name, category)
    materials = []
    for sku, by_region in volumes.items():
        total = sum(by_region.values())
        if total <= 0:
            continue
        shares = dict(sorted(((r, v / total) for r, v in by_region.items()), key=lambda kv: (-kv[1], kv[0])))
        materials.append(MaterialSupply(sku, names[sku][0], names[sku][1], suppliers[sku], shares))
    materials.sort(key=lambda m: (-m.hhi, m.sku))
    critical = [
        m for m in materials if m.critical(hhi_threshold=hhi_threshold, share_threshold=share_threshold)
    ]
    for m in critical:
        # suppliers without a region are the enterprises counted under UNKNOWN: one row, not a second
        # "(unknown region)" row with no enterprises in it
        key = UNKNOWN if m.top_region == UNKNOWN_REGION else m.top_region
        regions.setdefault(key, AreaFigures(key)).critical_materials.append(m)
    for area in regions.values():
        area.critical_materials.sort(key=lambda m: (-m.top_share, m.sku))
    return DataMapFigures(
        totals=totals,
        regions=dict(sorted(regions.items())),
        industries=dict(sorted(industries.items())),
        materials=materials,
        critical=critical,
    )


async def aggregate(
    driver: AsyncDriver,
    *,
    database: str,
    as_of: date,
    scope: Sequence[str] | None,
    by_links: bool,
    hhi_threshold: float,
    share_threshold: float,
    timeout_s: float | None = None,
) -> DataMapFigures:
    """The data map of the whole graph, or of the enterprises in ``scope`` (links with both ends in
    it). One read round trip; links current on ``as_of``."""
    rows = await read_records(
        driver,
        database,
        AGGREGATES[scope is not None],
        {
            "scope": list(scope) if scope is not None else None,
            "asOf": as_of,
            "buckets": RISK_BUCKETS,
            "byLinks": by_links,
        },
        timeout_s=timeout_s,
    )
    row = rows[0] if rows else {"enterprises": [], "links": [], "supply": []}
    return fold(
        row["enterprises"],
        row["links"],
        row["supply"],
        hhi_threshold=hhi_threshold,
        share_threshold=share_threshold,
    )
