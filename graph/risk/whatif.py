"""What-if disruption: take enterprises (or a whole region) out for D days and follow the shortage downstream.

Simchi-Levi's stress test, tier by tier: a buyer whose lost share of some sku reaches
``critical_share`` runs on inventory for its time-to-survive (days of cover) and then stops, passing
the shortage on; it stays short until the disrupted nodes recover at day D. For each affected node:
``gap_starts_day`` (when its supply of the critical sku stops), ``time_to_recover`` (D - gap start),
``time_to_survive`` and ``shortfall_days = max(0, time_to_recover - time_to_survive)``.
Failure times are found in time order (Dijkstra-like), so cycles and diamonds are handled exactly.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from graph.risk.facts import Network
from graph.risk.settings import RiskSettings


@dataclass(frozen=True, slots=True)
class Exposure:
    """One downstream enterprise's exposure to the scenario."""

    enterprise: str
    tier: int
    lost_share: dict[str, float]  # sku -> share of the buyer's supply lost at worst
    gap_starts_day: float | None  # None: never short beyond its alternatives
    time_to_survive: float
    time_to_recover: float
    shortfall_days: float
    stops_supplying: bool
    alternatives: dict[str, list[str]] = field(default_factory=dict)  # sku -> other suppliers


@dataclass(frozen=True)
class WhatIf:
    disrupted: list[str]
    days: float
    exposures: list[Exposure]  # most exposed first
    products: list[str]  # skus whose supply is interrupted somewhere downstream

    def by_tier(self) -> dict[int, list[Exposure]]:
        out: dict[int, list[Exposure]] = defaultdict(list)
        for e in self.exposures:
            out[e.tier].append(e)
        return dict(sorted(out.items()))


def disrupted_set(
    network: Network,
    *,
    enterprises: Iterable[str] = (),
    facilities: Iterable[str] = (),
    region: str | None = None,
) -> set[str]:
    """Enterprises taken out: the named ones, the operators of the named facilities, those in the region."""
    out = {e for e in enterprises if e in network.enterprises}
    sites = set(facilities)
    for e in network.enterprises.values():
        if (region is not None and e.region == region) or sites.intersection(e.facilities):
            out.add(e.id)
    return out


@dataclass(frozen=True)
class FlowIndex:
    """What the what-if needs from a network, built once (O(links)) and reused across scenarios."""

    network: Network
    buyers_of: dict[str, list[tuple[str, str, float]]]
    suppliers_of_sku: dict[str, set[str]]
    link_cover: dict[tuple[str, str], float]

    @classmethod
    def of(cls, network: Network) -> FlowIndex:
        buyers_of: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        suppliers_of_sku: dict[str, set[str]] = defaultdict(set)
        for (supplier, buyer, sku), share in network.effective_shares().items():
            buyers_of[supplier].append((buyer, sku, share))
            suppliers_of_sku[sku].add(supplier)
        for lst in buyers_of.values():
            lst.sort()
        cover = {(lk.buyer, lk.sku): lk.days_of_cover for lk in network.links if lk.days_of_cover is not None}
        return cls(network, dict(buyers_of), dict(suppliers_of_sku), cover)


def what_if(
    network: Network | FlowIndex,
    disrupted: set[str],
    days: float,
    s: RiskSettings,
    *,
    alternatives: int = 5,
    ranking: Mapping[str, float] | None = None,
) -> WhatIf:
    """Every enterprise downstream of ``disrupted`` with its TTS, TTR and shortfall, most exposed first.

    Pure and deterministic. Days of cover: the buyer's cover of the sku (``SupplyLink.days_of_cover``),
    else its own lowest cover, else ``default_days_of_cover``. Pass a ``FlowIndex`` to run many
    scenarios on one network without re-indexing it. Alternative suppliers of each lost sku are the
    other suppliers of that sku still running, lowest ``ranking`` (e.g. risk score) first, then by id.
    """
    idx = network if isinstance(network, FlowIndex) else FlowIndex.of(network)
    network = idx.network
    buyers_of, suppliers_of_sku, link_cover = idx.buyers_of, idx.suppliers_of_sku, idx.link_cover

    def tts(eid: str, sku: str) -> float:
        """Days the buyer survives without ``sku``: its cover of the sku, else its own, else the default."""
        c = link_cover.get((eid, sku), network.enterprises[eid].days_of_cover)
        return s.default_days_of_cover if c is None else c

    fail_at: dict[str, float] = {}
    gap_at: dict[str, tuple[float, float]] = {}  # buyer -> (gap start, cover) of its first-failing sku
    lost: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tier: dict[str, int] = {}
    heap: list[tuple[float, str]] = [(0.0, d) for d in sorted(disrupted)]
    heapq.heapify(heap)
    while heap:
        t, eid = heapq.heappop(heap)
        if eid in fail_at:
            continue
        fail_at[eid] = t
        for buyer, sku, share in buyers_of.get(eid, []):
            if buyer in disrupted:
                continue
            tier.setdefault(buyer, -1)
            before = lost[buyer][sku]
            lost[buyer][sku] = before + share
            if before < s.critical_share - 1e-9 <= lost[buyer][sku]:
                cover = tts(buyer, sku)
                old = gap_at.get(buyer)
                if old is None or t + cover < old[0] + old[1]:
                    gap_at[buyer] = (t, cover)
                if t + cover < days:
                    heapq.heappush(heap, (t + cover, buyer))

    # Tier = fewest supply links from the disrupted set along the cascade (through failing nodes only).
    hops = dict.fromkeys(disrupted, 0)
    queue = deque(sorted(disrupted))
    while queue:
        u = queue.popleft()
        for buyer, _sku, _share in buyers_of.get(u, []):
            if buyer not in hops and buyer in tier:
                hops[buyer] = hops[u] + 1
                if buyer in fail_at:
                    queue.append(buyer)
    tier = {eid: hops[eid] for eid in tier}
    failed = set(fail_at)
    running: dict[str, list[str]] = {}

    def alternatives_for(sku: str, eid: str) -> list[str]:
        """The first ``alternatives`` running suppliers of ``sku`` other than ``eid`` (cached per sku)."""
        if sku not in running:
            rank = ranking or {}
            ranked = sorted(suppliers_of_sku.get(sku, ()), key=lambda x: (rank.get(x, 0.0), x))
            running[sku] = [x for x in ranked if x not in failed][: alternatives + 1]
        return [x for x in running[sku] if x != eid][:alternatives]

    exposures: list[Exposure] = []
    products: set[str] = set()
    for eid, tr in tier.items():
        gap, surv = gap_at.get(eid, (None, min((tts(eid, k) for k in lost[eid]), default=0.0)))
        ttr = max(0.0, days - gap) if gap is not None else 0.0
        shortfall = max(0.0, ttr - surv) if gap is not None else 0.0
        alts = {sku: alternatives_for(sku, eid) for sku in sorted(lost[eid])}
        if eid in fail_at:
            products.update(sku for _b, sku, _s in buyers_of.get(eid, []))
        products.update(lost[eid])
        exposures.append(
            Exposure(
                eid,
                tr,
                {k: round(min(1.0, v), 6) for k, v in sorted(lost[eid].items())},
                gap,
                surv,
                ttr,
                shortfall,
                eid in fail_at,
                alts,
            )
        )
    exposures.sort(
        key=lambda e: (-e.shortfall_days, -max(e.lost_share.values(), default=0), e.tier, e.enterprise)
    )
    return WhatIf(sorted(disrupted), days, exposures, sorted(products))
