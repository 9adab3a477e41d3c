"""What-if disruption: take enterprises (or a whole region) out for D days and follow the shortage downstream.

Simchi-Levi's stress test, tier by tier: a buyer whose lost share of some sku reaches
``critical_share`` runs on inventory for its time-to-survive (days of cover) and then stops, passing
the shortage on; it stays short until the disrupted nodes recover at day D. For each affected node:
``gap_starts_day`` (when its supply of the critical sku stops), ``time_to_recover`` (D - gap start),
``time_to_survive`` and ``shortfall_days = max(0, time_to_recover - time_to_survive)``.
Failure times are found in time order (Dijkstra-like), so cycles and diamonds are handled exactly.

``what_if`` runs the cascade on integer arrays (``FlowArrays``, built once per ``FlowIndex``) in rounds:
every enterprise failing at the same instant is relaxed in one vectorised step, and enterprises that
fail at that same instant because their cover is 0 days form the next step. ``what_if_reference`` is
the original one-enterprise-at-a-time heap sweep, kept as the oracle for tests and the benchmark.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from graph.risk.facts import Network
from graph.risk.memory import gc_paused
from graph.risk.settings import RiskSettings


@dataclass(slots=True)
class Exposure:
    """One downstream enterprise's exposure to the scenario.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which made building a
    region's ~75,000 records 5x slower. Treat it as read-only.
    """

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


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def share_rounded(shares: FloatArray) -> FloatArray:
    """Lost shares as reported: capped at 1 and rounded to 6 decimals (numpy's rounding, in one pass)."""
    return np.minimum(1.0, shares).round(6)


@dataclass(frozen=True)
class FlowArrays:
    """The flow as integer arrays: enterprises and skus numbered in id order, links grouped by supplier.

    Pairs are the (buyer, sku) a buyer is supplied with, numbered in (buyer id, sku) order; links are
    in (supplier id, buyer id, sku) order, so ``link_ptr[u]:link_ptr[u + 1]`` are supplier ``u``'s.
    """

    ids: list[str]
    pos: dict[str, int]  # id -> number
    skus: list[str]
    link_ptr: IntArray
    link_buyer: IntArray
    link_pair: IntArray
    link_share: FloatArray
    pair_buyer: IntArray
    pair_sku: IntArray
    pair_cover: FloatArray  # the buyer's cover of the sku, else its own; NaN: the setting's default
    sku_suppliers: list[IntArray]  # per sku, its suppliers in id order

    @classmethod
    def of(
        cls,
        network: Network,
        shares: Mapping[tuple[str, str, str], float],
        link_cover: Mapping[tuple[str, str], float],
    ) -> FlowArrays:
        ids = sorted(set(network.enterprises).union(*((s, b) for s, b, _k in shares)))
        pos = {e: i for i, e in enumerate(ids)}
        skus = sorted({k for _s, _b, k in shares})
        sku_pos = {k: i for i, k in enumerate(skus)}
        pairs = sorted({(b, k) for _s, b, k in shares})
        pair_pos = {p: i for i, p in enumerate(pairs)}
        keys = sorted(shares)
        supplier = np.fromiter((pos[s] for s, _b, _k in keys), np.int64, len(keys))
        link_ptr = np.zeros(len(ids) + 1, np.int64)
        np.cumsum(np.bincount(supplier, minlength=len(ids)), out=link_ptr[1:])
        suppliers: dict[str, list[int]] = defaultdict(list)
        for s, _b, k in keys:
            suppliers[k].append(pos[s])

        def cover(b: str, k: str) -> float:
            c = link_cover.get((b, k))
            if c is None:
                e = network.enterprises.get(b)
                c = e.days_of_cover if e is not None else None
            return math.nan if c is None else c

        return cls(
            ids,
            pos,
            skus,
            link_ptr,
            np.fromiter((pos[b] for _s, b, _k in keys), np.int64, len(keys)),
            np.fromiter((pair_pos[(b, k)] for _s, b, k in keys), np.int64, len(keys)),
            np.fromiter((shares[key] for key in keys), np.float64, len(keys)),
            np.fromiter((pos[b] for b, _k in pairs), np.int64, len(pairs)),
            np.fromiter((sku_pos[k] for _b, k in pairs), np.int64, len(pairs)),
            np.fromiter((cover(b, k) for b, k in pairs), np.float64, len(pairs)),
            [np.unique(np.array(suppliers[k], np.int64)) for k in skus],
        )

    def links_of(self, suppliers: IntArray) -> IntArray:
        """The positions of the links of ``suppliers`` (ascending), in supplier order."""
        starts = self.link_ptr[suppliers]
        lens = self.link_ptr[suppliers + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, np.int64)
        return np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total, dtype=np.int64)


@dataclass(frozen=True)
class FlowIndex:
    """What the what-if needs from a network, built once (O(links)) and reused across scenarios.

    ``what_if`` needs only ``arrays``; the dict views the heap sweep (``what_if_reference``) walks are
    built on first use, so a request's what-if does not pay for them (~0.3 s at 70k links).
    """

    network: Network
    link_cover: dict[tuple[str, str], float]
    arrays: FlowArrays

    @classmethod
    def of(cls, network: Network) -> FlowIndex:
        shares = network.effective_shares()
        cover = {(lk.buyer, lk.sku): lk.days_of_cover for lk in network.links if lk.days_of_cover is not None}
        return cls(network, cover, FlowArrays.of(network, shares, cover))

    @cached_property
    def buyers_of(self) -> dict[str, list[tuple[str, str, float]]]:
        """supplier -> its (buyer, sku, dependency share), sorted."""
        out: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
        for (supplier, buyer, sku), share in self.network.effective_shares().items():
            out[supplier].append((buyer, sku, share))
        for lst in out.values():
            lst.sort()
        return dict(out)

    @cached_property
    def suppliers_of_sku(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for supplier, lst in self.buyers_of.items():
            for _buyer, sku, _share in lst:
                out[sku].add(supplier)
        return dict(out)


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
    Same result as ``what_if_reference``, computed in vectorised rounds (one per failure instant).
    The garbage collector is paused while the exposures are built (they hold no cycles; a region's
    ~10⁵ objects would otherwise trigger full collections over everything the process holds).
    """
    with gc_paused():
        return _what_if(network, disrupted, days, s, alternatives=alternatives, ranking=ranking)


def _what_if(
    network: Network | FlowIndex,
    disrupted: set[str],
    days: float,
    s: RiskSettings,
    *,
    alternatives: int,
    ranking: Mapping[str, float] | None,
) -> WhatIf:
    """``what_if`` with the collector as the caller left it."""
    idx = network if isinstance(network, FlowIndex) else FlowIndex.of(network)
    a = idx.arrays
    n = len(a.ids)
    hit = np.zeros(n, bool)
    hit[[a.pos[e] for e in disrupted if e in a.pos]] = True
    cover = np.where(np.isnan(a.pair_cover), s.default_days_of_cover, a.pair_cover)
    threshold = s.critical_share - 1e-9
    fail = np.full(n, np.inf)
    lost = np.zeros(len(a.pair_buyer))
    touched_pair = np.zeros(len(a.pair_buyer), bool)
    exposed = np.zeros(n, bool)
    gap_t = np.full(n, np.nan)
    gap_c = np.full(n, np.nan)
    gap_end = np.full(n, np.inf)
    pending: dict[float, list[IntArray]] = {0.0: [np.flatnonzero(hit)]}
    times = [0.0]
    while times:
        t = heapq.heappop(times)
        batch = np.unique(np.concatenate(pending.pop(t)))
        while batch.size:  # one step per group failing at t (a 0-day cover fails in the next step)
            batch = batch[np.isinf(fail[batch])]
            fail[batch] = t
            li = a.links_of(batch)
            li = li[~hit[a.link_buyer[li]]]
            if not li.size:
                break
            exposed[a.link_buyer[li]] = True
            pairs = a.link_pair[li]
            touched_pair[pairs] = True
            once = np.unique(pairs)
            before = lost[once]
            np.add.at(lost, pairs, a.link_share[li])
            crossed = once[(before < threshold) & (lost[once] >= threshold)]
            buyers = a.pair_buyer[crossed]
            covers = cover[crossed]
            ends = t + covers
            order = np.lexsort((ends, buyers))  # per buyer, its earliest end first
            buyers, covers, ends = buyers[order], covers[order], ends[order]
            first = np.ones(buyers.size, bool)
            first[1:] = buyers[1:] != buyers[:-1]
            buyers, covers, ends = buyers[first], covers[first], ends[first]
            better = ends < gap_end[buyers]
            gap_end[buyers[better]] = ends[better]
            gap_t[buyers[better]] = t
            gap_c[buyers[better]] = covers[better]
            runs_dry = (ends < days) & np.isinf(fail[buyers])
            buyers, ends = buyers[runs_dry], ends[runs_dry]
            now = ends == t
            later, later_ends = buyers[~now], ends[~now]
            order = np.argsort(later_ends, kind="stable")
            later, later_ends = later[order], later_ends[order]
            cuts = np.flatnonzero(np.diff(later_ends)) + 1
            for group, end in zip(
                np.split(later, cuts), later_ends[np.r_[0, cuts]].tolist() if later.size else [], strict=False
            ):
                if end not in pending:
                    pending[end] = []
                    heapq.heappush(times, end)
                pending[end].append(group)
            batch = buyers[now]

    # Tier = fewest supply links from the disrupted set along the cascade (through failing nodes only).
    hops = np.full(n, -1, np.int64)
    frontier = np.flatnonzero(hit)
    hops[frontier] = 0
    level = 0
    while frontier.size:
        nxt = a.link_buyer[a.links_of(frontier)]
        reached = np.zeros(n, bool)
        reached[nxt[exposed[nxt] & (hops[nxt] < 0)]] = True
        nxt = np.flatnonzero(reached)
        level += 1
        hops[nxt] = level
        frontier = nxt[np.isfinite(fail[nxt])]

    ex = np.flatnonzero(exposed)
    tp = np.flatnonzero(touched_pair)  # grouped by buyer in id order (one group per exposed), skus in order
    tp_buyer = a.pair_buyer[tp]
    tp_sku = a.pair_sku[tp]
    starts = np.flatnonzero(np.r_[True, tp_buyer[1:] != tp_buyer[:-1]]) if tp.size else np.zeros(0, np.int64)
    lost_tp = share_rounded(lost[tp])
    most_lost = np.maximum.reduceat(lost_tp, starts) if tp.size else np.zeros(0)
    has_gap = ~np.isnan(gap_t[ex])
    lowest_cover = np.minimum.reduceat(cover[tp], starts) if tp.size else np.zeros(0)
    surv = np.where(has_gap, gap_c[ex], lowest_cover)
    ttr = np.where(has_gap, np.maximum(0.0, days - gap_t[ex]), 0.0)
    shortfall = np.where(has_gap, np.maximum(0.0, ttr - surv), 0.0)
    # most exposed first: shortfall, then lost share, then tier, then id (ids are numbered in order)
    order = np.lexsort((ex, hops[ex], -most_lost, -shortfall)) if ex.size else np.zeros(0, np.int64)

    alive = np.isinf(fail)
    rank = ranking or {}
    run_top: dict[int, list[int]] = {}
    run_names: dict[int, list[str]] = {}
    for k in np.unique(tp_sku).tolist():  # the first ``alternatives + 1`` running suppliers per lost sku
        sup = a.sku_suppliers[k]
        running = sup[alive[sup]]
        if rank:
            top = heapq.nsmallest(
                alternatives + 1, running.tolist(), key=lambda i: (rank.get(a.ids[i], 0.0), a.ids[i])
            )
        else:
            top = running[: alternatives + 1].tolist()
        run_top[k] = top
        run_names[k] = [a.ids[i] for i in top]
    names_l = [a.skus[k] for k in tp_sku.tolist()]
    alts_l = [
        [x for i, x in zip(run_top[k], run_names[k], strict=True) if i != b][:alternatives]
        if b in run_top[k]
        else run_names[k][:alternatives]
        for k, b in zip(tp_sku.tolist(), tp_buyer.tolist(), strict=True)
    ]

    # The records, built column by column in the final order (a Python loop per field would cost more
    # than the cascade). Most exposed enterprises lose one sku: their two maps are built directly.
    lo_l = starts[order].tolist()
    hi_l = np.r_[starts[1:], tp.size][order].tolist() if tp.size else []
    lost_l = lost_tp.tolist()
    lost_maps = [
        {names_l[lo]: lost_l[lo]} if hi == lo + 1 else dict(zip(names_l[lo:hi], lost_l[lo:hi], strict=True))
        for lo, hi in zip(lo_l, hi_l, strict=True)
    ]
    alt_maps = [
        {names_l[lo]: alts_l[lo]} if hi == lo + 1 else dict(zip(names_l[lo:hi], alts_l[lo:hi], strict=True))
        for lo, hi in zip(lo_l, hi_l, strict=True)
    ]
    ex_o = ex[order]
    ids = a.ids
    gap_o = gap_t[ex_o]
    exposures = list(
        map(
            Exposure,
            [ids[i] for i in ex_o.tolist()],
            hops[ex_o].tolist(),
            lost_maps,
            [None if g != g else g for g in gap_o.tolist()],  # NaN: never short
            surv[order].tolist(),
            ttr[order].tolist(),
            shortfall[order].tolist(),
            np.isfinite(fail[ex_o]).tolist(),
            alt_maps,
        )
    )
    failed_exposed = ex[np.isfinite(fail[ex])]
    product_ids = np.union1d(a.pair_sku[a.link_pair[a.links_of(failed_exposed)]], tp_sku)
    return WhatIf(sorted(disrupted), days, exposures, [a.skus[k] for k in product_ids.tolist()])


def what_if_reference(
    network: Network | FlowIndex,
    disrupted: set[str],
    days: float,
    s: RiskSettings,
    *,
    alternatives: int = 5,
    ranking: Mapping[str, float] | None = None,
) -> WhatIf:
    """``what_if`` one enterprise at a time (a heap sweep over ids): the oracle it is checked against.

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
        skus = sorted(lost[eid])
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
                dict(zip(skus, share_rounded(np.array([lost[eid][k] for k in skus])).tolist(), strict=True)),
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
