"""Pure risk scoring: each enterprise gets five factors in [0, 1], a score in [0, 1] and plain-words reasons.

Factors combine by weighted noisy-or, ``score = 1 - prod(1 - weight_f * factor_f)``: one severe factor
is enough to make a node risky, more factors make it riskier, and the score never leaves [0, 1].
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from graph.kpis import ALARM_WINDOW_DAYS
from graph.risk.facts import SEVERITY_WEIGHT, Enterprise, Facility, Network, SupplyLink, dependency_shares
from graph.risk.settings import RiskSettings
from graph.risk.structure import Concentration, SoleSource

FACTORS = ("performance", "events", "structure", "concentration", "inherited")


def clamp(x: float) -> float:
    return 0.0 if x <= 0 else 1.0 if x >= 1 else x


def noisy_or(parts: list[float]) -> float:
    """1 - prod(1 - p): the chance at least one of independent risks strikes; in [0, 1]."""
    keep = 1.0
    for p in parts:
        keep *= 1.0 - clamp(p)
    return clamp(1.0 - keep)


@dataclass(frozen=True, slots=True)
class Factor:
    value: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RiskScore:
    """An enterprise's score, its factors and the reasons behind them."""

    enterprise: str
    score: float
    factors: dict[str, Factor]

    @property
    def own(self) -> float:
        return self.factors.get("own", Factor(self.score)).value

    def explanation(self) -> str:
        reasons = [r for f in FACTORS if f in self.factors for r in self.factors[f].reasons]
        return "; ".join(reasons) if reasons else "no risk signals"

    def as_dict(self) -> dict[str, object]:
        return {
            "score": round(self.score, 4),
            "factors": {f: round(self.factors[f].value, 4) for f in FACTORS if f in self.factors},
            "reasons": {f: list(self.factors[f].reasons) for f in FACTORS if f in self.factors},
        }


# -- performance --------------------------------------------------------------------------------------


def performance(links: list[SupplyLink], s: RiskSettings) -> Factor:
    """From the supplier's outgoing links: OTIF shortfall, lead-time variability, quality incident rate.

    KPIs are volume-weighted over the links that report them; missing KPIs are left out (no data is no
    evidence of risk); the factor is the noisy-or of the three parts.
    """

    def mean(attr: str) -> float | None:
        pts = [(getattr(lk, attr), lk.volume) for lk in links if getattr(lk, attr) is not None]
        w = sum(v for _, v in pts)
        return sum(x * v for x, v in pts) / w if pts and w > 0 else None

    parts: list[float] = []
    reasons: list[str] = []
    otif = mean("otif")
    if otif is not None:
        p = clamp((s.otif_target - otif) / (s.otif_target - s.otif_floor))
        parts.append(p)
        if p > 0:
            reasons.append(f"on-time-in-full {otif:.0%} against a {s.otif_target:.0%} target")
    lt_mean, lt_p90 = mean("lead_time_mean"), mean("lead_time_p90")
    if lt_mean and lt_p90 is not None and lt_mean > 0:
        cv = max(0.0, lt_p90 - lt_mean) / lt_mean
        p = clamp((cv - s.lead_time_cv_ok) / max(1e-9, s.lead_time_cv_max - s.lead_time_cv_ok))
        parts.append(p)
        if p >= 0.2:
            reasons.append(f"lead times vary: p90 {lt_p90:.0f} days against a mean of {lt_mean:.0f}")
    q = mean("quality_incident_rate")
    if q is not None:
        p = clamp(q / s.quality_rate_max)
        parts.append(p)
        if p > 0:
            reasons.append(f"quality incidents on {q:.1%} of deliveries")
    return Factor(noisy_or(parts), tuple(reasons))


# -- events -------------------------------------------------------------------------------------------

_WHERE = {
    "enterprise": "at the enterprise",
    "facility": "at one of its facilities",
    "region": "in its region",
}


def events(e: Enterprise, s: RiskSettings) -> Factor:
    """Open disruptions (by severity and where), recent equipment alarms, installed equipment in service
    alert, expiring certificates."""
    loc = {
        "enterprise": s.disruption_at_enterprise,
        "facility": s.disruption_at_facility,
        "region": s.disruption_in_region,
    }
    parts: list[float] = []
    reasons: list[str] = []
    for d in e.disruptions:
        parts.append(SEVERITY_WEIGHT.get(d.severity, 0.6) * loc.get(d.where, 0.6))
        kind = f"{d.kind} " if d.kind else ""
        recovery = (
            f", recovery expected in {d.expected_recovery_days:g} days"
            if d.expected_recovery_days is not None
            else ""
        )
        reasons.append(f"open {d.severity} {kind}disruption {_WHERE.get(d.where, d.where)}{recovery}")
    if e.recent_alarms:
        parts.append(clamp(s.alarm_weight * e.recent_alarms))
        reasons.append(f"{e.recent_alarms} equipment alarm(s) in the last {ALARM_WINDOW_DAYS} days")
    if e.failing_equipment:
        parts.append(clamp(s.failing_equipment_weight * e.failing_equipment))
        reasons.append(f"{e.failing_equipment} installed equipment in service alert (predictive maintenance)")
    if e.expiring_certificates:
        parts.append(clamp(s.certificate_expiry_weight * e.expiring_certificates))
        reasons.append(
            f"{e.expiring_certificates} certificate(s) expired or expiring within "
            f"{s.certificate_window_days} days"
        )
    return Factor(noisy_or(parts), tuple(reasons))


# -- structure ----------------------------------------------------------------------------------------


@dataclass
class StructureFacts:
    """Global measures of the material flow, computed by the full recompute and reused incrementally.

    Sole sources are indexed by supplier (``sole_by_supplier``); the engine updates that index and
    ``concentration`` in place for the skus an event touches.
    """

    sole_by_supplier: dict[str, list[SoleSource]] = field(default_factory=dict)
    cut_vertices: set[str] = field(default_factory=set)
    betweenness: dict[str, float] = field(default_factory=dict)
    betweenness_method: str = "exact"
    downstream: dict[str, int] = field(default_factory=dict)
    concentration: dict[str, Concentration] = field(default_factory=dict)
    top_betweenness: float = 0.0

    @classmethod
    def of(
        cls,
        *,
        sole_sources: list[SoleSource],
        cut_vertices: set[str],
        betweenness: dict[str, float],
        betweenness_method: str,
        downstream: dict[str, int],
        concentration: dict[str, Concentration],
    ) -> StructureFacts:
        by: dict[str, list[SoleSource]] = defaultdict(list)
        for ss in sole_sources:
            by[ss.supplier].append(ss)
        top = max(betweenness.values(), default=0.0)
        return cls(dict(by), cut_vertices, betweenness, betweenness_method, downstream, concentration, top)

    @property
    def sole_sources(self) -> list[SoleSource]:
        """Every sole-source (supplier, buyer, sku), sorted by sku, buyer, supplier."""
        out = [ss for lst in self.sole_by_supplier.values() for ss in lst]
        return sorted(out, key=lambda s: (s.sku, s.buyer, s.supplier))


def structure(
    eid: str,
    facts: StructureFacts,
    sole: list[SoleSource],
    top_betweenness: float,
    industries: Mapping[str, Enterprise],
    s: RiskSettings,
) -> Factor:
    """Sole source for buyers (``sole``: its sole-source pairs), cut vertex, betweenness relative to the
    network's highest (``top_betweenness``), dependants within three tiers."""
    parts: list[float] = []
    reasons: list[str] = []
    if sole:
        parts.append(s.weight_sole_source * clamp(len(sole) / s.sole_source_buyers_max))
        by_sku: dict[str, list[str]] = defaultdict(list)
        for ss in sole:
            by_sku[ss.sku].append(ss.buyer)
        ranked = sorted(by_sku.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for sku, buyers in ranked[:3]:
            kinds = sorted({getattr(industries.get(b), "industry", None) or "" for b in buyers} - {""})
            what = f"{' / '.join(kinds)} " if kinds else ""
            reasons.append(f"sole supplier of {sku} to {len(buyers)} {what}buyer(s)")
        if len(ranked) > 3:
            reasons.append(f"sole supplier of {len(ranked) - 3} more sku(s)")
    if eid in facts.cut_vertices:
        parts.append(s.weight_cut_vertex)
        reasons.append("a cut vertex: without it the supply network falls apart")
    b = facts.betweenness.get(eid, 0.0)
    if top_betweenness > 0 and b > 0:
        rel = b / top_betweenness
        parts.append(s.weight_betweenness * rel)
        if rel >= 0.5:
            reasons.append(f"on {rel:.0%} as many supply paths as the network's busiest node")
    n_down = facts.downstream.get(eid, 0)
    if n_down:
        parts.append(s.weight_downstream * clamp(math.log1p(n_down) / math.log1p(s.downstream_max)))
        reasons.append(f"{n_down} enterprise(s) downstream depend on it")
    return Factor(noisy_or(parts), tuple(reasons))


# -- concentration ------------------------------------------------------------------------------------


def concentration(
    eid: str, region: str | None, skus: set[str], facts: StructureFacts, s: RiskSettings
) -> Factor:
    """Worst HHI among the skus it supplies whose supply is concentrated in its own region."""
    worst = 0.0
    reasons: list[str] = []
    for sku in sorted(skus):
        c = facts.concentration.get(sku)
        if c is None or c.hhi < s.hhi_threshold or region is None:
            continue
        share = c.region_shares.get(region, 0.0)
        if share >= s.region_share_threshold:
            worst = max(worst, c.hhi)
            reasons.append(f"region {region} holds {share:.0%} of {sku} supply (HHI {c.hhi:.2f})")
    return Factor(worst, tuple(reasons))


# -- putting it together ------------------------------------------------------------------------------


def own_scores(
    network: Network, facts: StructureFacts, s: RiskSettings, *, only: set[str] | None = None
) -> dict[str, RiskScore]:
    """Scores without the inherited factor, for every enterprise (or ``only`` those)."""
    out_links: dict[str, list[SupplyLink]] = defaultdict(list)
    for lk in network.links:
        out_links[lk.supplier].append(lk)
    ents = network.enterprises
    result: dict[str, RiskScore] = {}
    for eid in ents if only is None else (i for i in only if i in ents):
        e = ents[eid]
        links = out_links.get(eid, [])
        sole = facts.sole_by_supplier.get(eid, [])
        f = {
            "performance": performance(links, s),
            "events": events(e, s),
            "structure": structure(eid, facts, sole, facts.top_betweenness, ents, s),
            "concentration": concentration(eid, e.region, {lk.sku for lk in links}, facts, s),
        }
        score = combine(f, s)
        result[eid] = RiskScore(eid, score, {**f, "own": Factor(score)})
    return result


def combine(f: dict[str, Factor], s: RiskSettings) -> float:
    weights = {
        "performance": s.weight_performance,
        "events": s.weight_events,
        "structure": s.weight_structure,
        "concentration": s.weight_concentration,
        "inherited": s.weight_inherited,
    }
    return noisy_or([weights[k] * f[k].value for k in FACTORS if k in f])


def inherit(
    shares: dict[tuple[str, str, str], float],
    own: dict[str, float],
    s: RiskSettings,
    *,
    buyers: set[str] | None = None,
    known: dict[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, tuple[str, str, float]]]:
    """Inherited risk per buyer: ``decay * max over skus of sum(share * upstream total score)``.

    ``shares`` is ``Network.effective_shares()``; an upstream total is ``noisy_or(own, weight_inherited
    * inherited)``, so risk flows tier by tier. The map is a contraction (decay < 1, shares sum to <= 1),
    iterated (vectorised) until it moves less than 1e-9 or ``inherited_rounds`` times. With ``buyers``
    only those are recomputed; every other enterprise keeps its ``known`` value. Returns the inherited
    values and, per buyer, the (supplier, sku, share) contributing most.
    """
    keys = [k for k in shares if buyers is None or k[1] in buyers]
    names: dict[str, int] = {}
    for src in (own, known or {}):
        for eid in src:
            names.setdefault(eid, len(names))
    pairs: dict[tuple[str, str], int] = {}
    sup = np.empty(len(keys), dtype=np.int64)
    pair = np.empty(len(keys), dtype=np.int64)
    for i, (supplier, buyer, sku) in enumerate(keys):
        sup[i] = names.setdefault(supplier, len(names))
        names.setdefault(buyer, len(names))
        pair[i] = pairs.setdefault((buyer, sku), len(pairs))
    share = np.fromiter((shares[k] for k in keys), dtype=np.float64, count=len(keys))
    pair_buyer = np.fromiter((names[b] for b, _ in pairs), dtype=np.int64, count=len(pairs))
    n = len(names)
    own_v = np.zeros(n)
    for eid, v in own.items():
        own_v[names[eid]] = v
    inh = np.zeros(n)
    for eid, v in (known or {}).items():
        inh[names[eid]] = v
    recompute = np.zeros(n, dtype=bool)
    for b in buyers if buyers is not None else names:
        if b in names:
            recompute[names[b]] = True
    inh[recompute] = 0.0
    contribution = np.zeros(len(keys))
    for _ in range(s.inherited_rounds):
        total = 1.0 - (1.0 - own_v) * (1.0 - s.weight_inherited * inh)
        contribution = share * total[sup]
        per_pair = np.clip(
            s.inherited_decay * np.bincount(pair, contribution, minlength=len(pairs)), 0.0, 1.0
        )
        new = np.zeros(n)
        np.maximum.at(new, pair_buyer, per_pair)
        new = np.where(recompute, new, inh)
        moved = float(np.max(np.abs(new - inh))) if n else 0.0
        inh = new
        if moved < 1e-9:
            break
    ids = list(names)
    top: dict[str, tuple[str, str, float]] = {}
    if len(keys):
        buyer_of_row = pair_buyer[pair]
        order = np.lexsort((contribution, buyer_of_row))
        last = np.flatnonzero(np.append(buyer_of_row[order][1:] != buyer_of_row[order][:-1], True))
        for row in order[last]:
            if contribution[row] > 0:
                supplier, buyer, sku = keys[int(row)]
                top[buyer] = (supplier, sku, float(share[row]))
    return {ids[i]: float(inh[i]) for i in range(n)}, top


def score_network(network: Network, facts: StructureFacts, s: RiskSettings) -> dict[str, RiskScore]:
    """Every enterprise's score with all five factors and their reasons."""
    own = own_scores(network, facts, s)
    inherited, top = inherit(network.effective_shares(), {k: v.score for k, v in own.items()}, s)
    out: dict[str, RiskScore] = {}
    for eid, o in own.items():
        reasons: tuple[str, ...] = ()
        if inherited.get(eid, 0.0) > 0 and eid in top:
            supplier, sku, share = top[eid]
            reasons = (f"depends on {supplier} for {share:.0%} of its {sku}, which is itself at risk",)
        f = {k: o.factors[k] for k in FACTORS if k in o.factors}
        f["inherited"] = Factor(inherited.get(eid, 0.0), reasons)
        out[eid] = RiskScore(eid, combine(f, s), {**f, "own": Factor(o.score)})
    return out


# -- supply links and facilities ----------------------------------------------------------------------

LINK_FACTORS = ("performance", "supplier", "dependency")
FACILITY_FACTORS = ("events", "operator")


@dataclass(frozen=True, slots=True)
class LinkScore:
    """A supply link's score: how likely it fails (its own KPIs, its supplier) times how much the buyer
    depends on it. The factors' reasons are put in words on demand (``factors``), not for every link."""

    link: SupplyLink
    score: float
    performance_value: float
    dependency: float
    supplier_factor: Factor
    settings: RiskSettings

    @property
    def supplier(self) -> str:
        return self.link.supplier

    @property
    def buyer(self) -> str:
        return self.link.buyer

    @property
    def sku(self) -> str:
        return self.link.sku

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.link.supplier, self.link.buyer, self.link.sku)

    @property
    def mark(self) -> int:
        """Changes when the reasons' wording may change (inputs rounded as the reasons print them)."""
        sup = self.supplier_factor
        return wording_mark(self.performance_value, self.dependency, sup.value, _reasons_hash(sup))

    @property
    def factors(self) -> dict[str, Factor]:
        dep, lk = self.dependency, self.link
        if dep >= 0.999:
            dep_reason = f"sole source of {lk.sku} for {lk.buyer}"
        else:
            dep_reason = f"{dep:.0%} of {lk.buyer}'s {lk.sku} supply"
        return {
            "performance": link_performance(lk, self.settings),
            "supplier": self.supplier_factor,
            "dependency": Factor(dep, (dep_reason,)),
        }

    def as_dict(self) -> dict[str, object]:
        return _breakdown(self.score, self.factors, LINK_FACTORS)


@dataclass(frozen=True, slots=True)
class FacilityScore:
    """A facility's score: how likely something stops it (events at it or in its region) times how much
    its operator matters to the network (the operator's structure factor)."""

    facility: str
    score: float
    factors: dict[str, Factor]

    def as_dict(self) -> dict[str, object]:
        return _breakdown(self.score, self.factors, FACILITY_FACTORS)


def _breakdown(score: float, factors: dict[str, Factor], names: tuple[str, ...]) -> dict[str, object]:
    return {
        "score": round(score, 4),
        "factors": {f: round(factors[f].value, 4) for f in names if f in factors},
        "reasons": {f: list(factors[f].reasons) for f in names if f in factors},
    }


def link_performance(link: SupplyLink, s: RiskSettings) -> Factor:
    """``performance([link], s)`` for one link, without the volume-weighting machinery (hot path)."""
    if link.volume <= 0:
        return Factor(0.0)
    keep = 1.0
    reasons: list[str] = []
    otif = link.otif
    if otif is not None:
        p = clamp((s.otif_target - otif) / (s.otif_target - s.otif_floor))
        keep *= 1.0 - p
        if p > 0:
            reasons.append(f"on-time-in-full {otif:.0%} against a {s.otif_target:.0%} target")
    lt_mean, lt_p90 = link.lead_time_mean, link.lead_time_p90
    if lt_mean and lt_p90 is not None and lt_mean > 0:
        cv = max(0.0, lt_p90 - lt_mean) / lt_mean
        p = clamp((cv - s.lead_time_cv_ok) / max(1e-9, s.lead_time_cv_max - s.lead_time_cv_ok))
        keep *= 1.0 - p
        if p >= 0.2:
            reasons.append(f"lead times vary: p90 {lt_p90:.0f} days against a mean of {lt_mean:.0f}")
    q = link.quality_incident_rate
    if q is not None:
        p = clamp(q / s.quality_rate_max)
        keep *= 1.0 - p
        if p > 0:
            reasons.append(f"quality incidents on {q:.1%} of deliveries")
    return Factor(clamp(1.0 - keep), tuple(reasons))


def _reasons_hash(f: Factor) -> int:
    return hash(f.reasons) & 0x7FFFFFFF


def wording_mark(perf: float, dep: float, sup: float, sup_reasons: int) -> int:
    """An int that changes when a link's reasons may read differently (inputs rounded as printed);
    ``link_scores_all`` computes the same value vectorised."""
    return (
        (round(perf * 1000) * 1009 + round(dep * 100)) * 1009 + round(sup * 100)
    ) * 0x80000000 + sup_reasons


def _supplier_factor(supplier: str, score: RiskScore | None) -> Factor:
    value = score.score if score is not None else 0.0
    if score is None or value < 0.3:
        return Factor(value)
    return Factor(value, (f"supplier {supplier} scores {value:.2f}: {score.explanation()}",))


def link_performance_value(link: SupplyLink, s: RiskSettings) -> float:
    """The value of ``link_performance`` without its reasons (the hot path of the full recompute)."""
    if link.volume <= 0:
        return 0.0
    keep = 1.0
    if link.otif is not None:
        keep *= 1.0 - clamp((s.otif_target - link.otif) / (s.otif_target - s.otif_floor))
    lt_mean, lt_p90 = link.lead_time_mean, link.lead_time_p90
    if lt_mean and lt_p90 is not None and lt_mean > 0:
        cv = max(0.0, lt_p90 - lt_mean) / lt_mean
        keep *= 1.0 - clamp((cv - s.lead_time_cv_ok) / max(1e-9, s.lead_time_cv_max - s.lead_time_cv_ok))
    if link.quality_incident_rate is not None:
        keep *= 1.0 - clamp(link.quality_incident_rate / s.quality_rate_max)
    return clamp(1.0 - keep)


def link_score(
    link: SupplyLink,
    dependency: float,
    supplier: RiskScore | None,
    s: RiskSettings,
    *,
    supplier_factor: Factor | None = None,
) -> LinkScore:
    """``score = noisy_or(w_perf * performance, w_supplier * supplier score) * importance`` where
    ``importance = floor + (1 - floor) * dependency`` and ``dependency`` is the buyer's share of the sku
    on this link (1 = sole source). In [0, 1]; 0 when neither the link nor its supplier shows risk."""
    perf = link_performance_value(link, s)
    sup = supplier_factor if supplier_factor is not None else _supplier_factor(link.supplier, supplier)
    dep = clamp(dependency)
    keep = (1.0 - clamp(s.link_weight_performance * perf)) * (1.0 - clamp(s.link_weight_supplier * sup.value))
    importance = s.link_dependency_floor + (1.0 - s.link_dependency_floor) * dep
    return LinkScore(link, clamp((1.0 - keep) * importance), perf, dep, sup, s)


def link_scores(
    links: Mapping[tuple[str, str, str], SupplyLink],
    incoming: Mapping[str, Iterable[tuple[str, str, str]]],
    scores: Mapping[str, RiskScore],
    s: RiskSettings,
    *,
    only: Iterable[tuple[str, str, str]] | None = None,
) -> dict[tuple[str, str, str], LinkScore]:
    """Scores of every link in ``links`` (or ``only`` those); ``incoming`` maps a buyer to its link keys
    (dependency shares are computed over the buyer's links of the same sku, as ``dependency_shares``)."""
    wanted = links.keys() if only is None else [k for k in only if k in links]
    shares: dict[tuple[str, str, str], float] = {}
    out: dict[tuple[str, str, str], LinkScore] = {}
    sup_cache: dict[str, Factor] = {}
    # A buyer's incoming links grouped by sku once: looking up the same-sku links by scanning all of
    # them per link was quadratic in the in-degree (an assembly stage of a real chain buys ~1,000
    # parts, one sku each: 3.8 s of a 5.8 s rescoring on the Willems benchmark graph).
    by_sku: dict[str, dict[str, list[SupplyLink]]] = {}
    for key in wanted:
        if key not in shares:
            _, buyer, sku = key
            groups = by_sku.get(buyer)
            if groups is None:
                groups = by_sku[buyer] = {}
                for k in incoming.get(buyer, ()):
                    if k[0] != buyer:
                        groups.setdefault(k[2], []).append(links[k])
            same = groups.get(sku, [])
            for lk, sh in zip(same, dependency_shares(same), strict=True):
                shares[(lk.supplier, lk.buyer, lk.sku)] = sh
        sup = sup_cache.get(key[0])
        if sup is None:
            sup = sup_cache[key[0]] = _supplier_factor(key[0], scores.get(key[0]))
        out[key] = link_score(links[key], shares.get(key, 1.0), None, s, supplier_factor=sup)
    return out


def facility_score(f: Facility, operator: RiskScore | None, s: RiskSettings) -> FacilityScore:
    """``score = w_events * events * importance`` with ``importance = floor + (1 - floor) * operator's
    structure factor``. Events: open disruptions at the facility (full weight) or in its region
    (``disruption_in_region``), by severity; recent high/critical equipment alarms raised at it."""
    parts: list[float] = []
    reasons: list[str] = []
    for d in f.disruptions:
        loc = s.disruption_at_enterprise if d.where == "facility" else s.disruption_in_region
        parts.append(SEVERITY_WEIGHT.get(d.severity, 0.6) * loc)
        kind = f"{d.kind} " if d.kind else ""
        where = "at the facility" if d.where == "facility" else f"in its region {f.region or ''}".rstrip()
        recovery = (
            f", recovery expected in {d.expected_recovery_days:g} days"
            if d.expected_recovery_days is not None
            else ""
        )
        reasons.append(f"open {d.severity} {kind}disruption {where}{recovery}")
    if f.recent_alarms:
        parts.append(clamp(s.alarm_weight * f.recent_alarms))
        reasons.append(f"{f.recent_alarms} equipment alarm(s) in the last {ALARM_WINDOW_DAYS} days")
    if f.failing_equipment:
        parts.append(clamp(s.failing_equipment_weight * f.failing_equipment))
        reasons.append(f"{f.failing_equipment} installed equipment in service alert (predictive maintenance)")
    ev = Factor(noisy_or(parts), tuple(reasons))
    structural = (
        operator.factors["structure"] if operator is not None and "structure" in operator.factors else None
    )
    op_value = structural.value if structural is not None else 0.0
    op_reasons = (
        (f"operated by {f.operator}: " + "; ".join(structural.reasons),)
        if structural is not None and structural.reasons
        else ()
    )
    importance = s.facility_importance_floor + (1.0 - s.facility_importance_floor) * op_value
    score = clamp(s.facility_weight_events * ev.value * importance)
    return FacilityScore(f.id, score, {"events": ev, "operator": Factor(op_value, op_reasons)})


def facility_scores(
    facilities: Mapping[str, Facility],
    scores: Mapping[str, RiskScore],
    s: RiskSettings,
    *,
    only: Iterable[str] | None = None,
) -> dict[str, FacilityScore]:
    """Scores of every facility (or ``only`` those), given the operators' enterprise scores."""
    ids = facilities.keys() if only is None else [i for i in only if i in facilities]
    out: dict[str, FacilityScore] = {}
    for fid in ids:
        f = facilities[fid]
        out[fid] = facility_score(f, scores.get(f.operator) if f.operator else None, s)
    return out


def link_scores_all(
    keys: list[tuple[str, str, str]],
    links: Mapping[tuple[str, str, str], SupplyLink],
    scores: Mapping[str, RiskScore],
    s: RiskSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Factor]]:
    """Every link's score in one vectorised pass (the full recompute's path; equal to ``link_scores``).

    Returns arrays aligned with ``keys``: score, performance, dependency, supplier score, wording mark
    (as ``wording_mark``), and the supplier factors by supplier id (to build ``LinkScore`` objects for
    the links that changed).
    """
    n = len(keys)
    ls = [links[k] for k in keys]
    nan = float("nan")

    def col(attr: str) -> np.ndarray:
        return np.fromiter(
            (v if (v := getattr(lk, attr)) is not None else nan for lk in ls), dtype=np.float64, count=n
        )

    otif, lt_mean, lt_p90, q = (
        col("otif"),
        col("lead_time_mean"),
        col("lead_time_p90"),
        col("quality_incident_rate"),
    )
    volume = np.fromiter((lk.volume for lk in ls), dtype=np.float64, count=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = np.ones(n)
        p = np.clip((s.otif_target - otif) / (s.otif_target - s.otif_floor), 0.0, 1.0)
        keep *= np.where(np.isnan(otif), 1.0, 1.0 - p)
        ok = ~np.isnan(lt_mean) & ~np.isnan(lt_p90) & (lt_mean > 0)
        cv = np.maximum(0.0, lt_p90 - lt_mean) / lt_mean
        p = np.clip((cv - s.lead_time_cv_ok) / max(1e-9, s.lead_time_cv_max - s.lead_time_cv_ok), 0.0, 1.0)
        keep *= np.where(ok, 1.0 - p, 1.0)
        p = np.clip(q / s.quality_rate_max, 0.0, 1.0)
        keep *= np.where(np.isnan(q), 1.0, 1.0 - p)
    perf = np.where(volume > 0, np.clip(1.0 - keep, 0.0, 1.0), 0.0)

    # the buyer's dependency share, per (buyer, sku) group over links that are not self-loops
    groups: dict[tuple[str, str], int] = {}
    gid = np.fromiter((groups.setdefault((k[1], k[2]), len(groups)) for k in keys), dtype=np.int64, count=n)
    real = np.fromiter((k[0] != k[1] for k in keys), dtype=bool, count=n)
    share = np.fromiter((v if (v := lk.share) is not None else nan for lk in ls), dtype=np.float64, count=n)
    g = len(groups)
    count = np.bincount(gid, weights=real.astype(np.float64), minlength=g)
    missing = np.bincount(gid, weights=(real & np.isnan(share)).astype(np.float64), minlength=g)
    total = np.bincount(gid, weights=np.where(real, np.nan_to_num(share), 0.0), minlength=g)
    scale = np.where(total > 1.0, 1.0 / np.where(total > 0, total, 1.0), 1.0)
    reported = missing[gid] == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        even = 1.0 / count[gid]
    dep = np.where(real, np.where(reported, np.nan_to_num(share) * scale[gid], even), 1.0)
    dep = np.clip(dep, 0.0, 1.0)

    suppliers: dict[str, Factor] = {}
    for k in keys:
        if k[0] not in suppliers:
            suppliers[k[0]] = _supplier_factor(k[0], scores.get(k[0]))
    sup = np.fromiter((suppliers[k[0]].value for k in keys), dtype=np.float64, count=n)
    sup_h = np.fromiter((_reasons_hash(suppliers[k[0]]) for k in keys), dtype=np.int64, count=n)

    likelihood = 1.0 - (1.0 - np.clip(s.link_weight_performance * perf, 0.0, 1.0)) * (
        1.0 - np.clip(s.link_weight_supplier * sup, 0.0, 1.0)
    )
    importance = s.link_dependency_floor + (1.0 - s.link_dependency_floor) * dep
    score = np.clip(likelihood * importance, 0.0, 1.0)
    mark = (
        (np.rint(perf * 1000).astype(np.int64) * 1009 + np.rint(dep * 100).astype(np.int64)) * 1009
        + np.rint(sup * 100).astype(np.int64)
    ) * 0x80000000 + sup_h
    return score, perf, dep, sup, mark, suppliers
