"""The risk engine: full recompute (global measures + every score) and incremental rescoring.

Holds the network in memory, indexed by supplier, buyer and sku. ``rescore`` recomputes only the
enterprises an event touched and everything downstream of them (which inherits from them), on a
sub-network of their links, reusing the global measures (betweenness, cut vertices, dependants) of
the last full recompute; sole sources and HHI of the skus involved are refreshed.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from graph.risk.facts import Enterprise, Facility, Network, SupplyLink, dependency_shares
from graph.risk.memory import gc_paused
from graph.risk.scoring import (
    FACTORS,
    FacilityScore,
    Factor,
    LinkScore,
    RiskScore,
    StructureFacts,
    clamp,
    combine,
    facility_scores,
    link_scores,
    link_scores_all,
    noisy_or,
    own_scores,
    score_network,
)
from graph.risk.settings import RiskSettings
from graph.risk.structure import FlowGraph, concentration, sole_sources
from graph.risk.whatif import FlowIndex

DOWNSTREAM_TIERS = 3
"""The structure factor counts dependants within this many tiers (exact sets come from ``downstream``)."""

LinkKey = tuple[str, str, str]


def analyse(network: Network, s: RiskSettings) -> StructureFacts:
    """The global structural measures of ``network`` (cut vertices, betweenness, sole sources, HHI)."""
    flow = FlowGraph(network)
    btw = flow.betweenness(
        exact_max_nodes=s.betweenness_exact_max_nodes, pivots=s.betweenness_pivots, seed=s.betweenness_seed
    )
    return StructureFacts.of(
        sole_sources=sole_sources(network),
        cut_vertices=flow.articulation_points(),
        betweenness=btw.values,
        betweenness_method=btw.method,
        downstream=flow.downstream_counts(DOWNSTREAM_TIERS),
        concentration=concentration(network),
    )


@dataclass
class RiskEngine:
    settings: RiskSettings
    enterprises: dict[str, Enterprise] = field(default_factory=dict)
    facts: StructureFacts = field(default_factory=StructureFacts)
    scores: dict[str, RiskScore] = field(default_factory=dict)
    computed_at_ms: int = 0
    _links: dict[LinkKey, SupplyLink] = field(default_factory=dict)
    _in: dict[str, set[LinkKey]] = field(default_factory=lambda: defaultdict(set))
    _out: dict[str, set[LinkKey]] = field(default_factory=lambda: defaultdict(set))
    _sku: dict[str, set[LinkKey]] = field(default_factory=lambda: defaultdict(set))
    previous: dict[str, float] = field(default_factory=dict)
    """The scores the last ``rescore`` replaced (what alerts compare against)."""
    _flow: FlowIndex | None = None
    facilities: dict[str, Facility] = field(default_factory=dict)
    _operated: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _marks: dict[object, tuple[float, int]] = field(default_factory=dict)
    """Per link key / facility id: the score and reasons' hash last handed out for writing."""
    changed_links: list[LinkScore] = field(default_factory=list)
    """Link scores the last ``full`` / ``rescore`` changed (what to write back); others are unchanged."""
    changed_facilities: list[FacilityScore] = field(default_factory=list)
    """Facility scores the last ``full`` / ``rescore`` changed (what to write back)."""

    def _index_facilities(self, facilities: Iterable[Facility]) -> None:
        for fac in facilities:
            old = self.facilities.get(fac.id)
            if old is not None and old.operator:
                self._operated[old.operator].discard(fac.id)
            self.facilities[fac.id] = fac
            if fac.operator:
                self._operated[fac.operator].add(fac.id)

    def _changed(self, key: object, score: float, wording: int) -> bool:
        mark = (score, wording)
        old = self._marks.get(key)
        if old is not None and abs(old[0] - score) <= self.settings.link_write_epsilon and old[1] == mark[1]:
            return False
        self._marks[key] = mark
        return True

    def forget_written(self, links: Iterable[LinkScore], facilities: Iterable[FacilityScore]) -> None:
        """Mark these scores as not written (a failed write): the next run hands them out again."""
        for ls in links:
            self._marks.pop(ls.key, None)
        for fs in facilities:
            self._marks.pop(("facility", fs.facility), None)

    def _score_all_links(self) -> list[LinkScore]:
        """Every link scored in one vectorised pass; returns (and marks) those that moved."""
        keys = list(self._links)
        score, perf, dep, _, mark, sups = link_scores_all(keys, self._links, self.scores, self.settings)
        marks = self._marks
        old = [marks.get(k) for k in keys]
        old_score = np.fromiter((m[0] if m else np.nan for m in old), dtype=np.float64, count=len(keys))
        old_mark = np.fromiter((m[1] if m else -1 for m in old), dtype=np.int64, count=len(keys))
        moved = (
            np.isnan(old_score)
            | (np.abs(score - old_score) > self.settings.link_write_epsilon)
            | (old_mark != mark)
        )
        out: list[LinkScore] = []
        for i in np.flatnonzero(moved).tolist():
            k = keys[i]
            ls = LinkScore(
                self._links[k], float(score[i]), float(perf[i]), float(dep[i]), sups[k[0]], self.settings
            )
            marks[k] = (ls.score, int(mark[i]))
            out.append(ls)
        return out

    def _score_links_and_facilities(
        self, link_keys: Iterable[LinkKey] | None, facility_ids: Iterable[str] | None
    ) -> None:
        """Score the given links and facilities (``None``: all) from the current enterprise scores and
        keep in ``changed_links`` / ``changed_facilities`` those whose score or reasons moved."""
        if link_keys is None:
            self.changed_links = self._score_all_links()
        else:
            links = link_scores(self._links, self._in, self.scores, self.settings, only=link_keys)
            self.changed_links = [ls for k, ls in links.items() if self._changed(k, ls.score, ls.mark)]
        facs = facility_scores(self.facilities, self.scores, self.settings, only=facility_ids)
        self.changed_facilities = [
            fs
            for k, fs in facs.items()
            if self._changed(
                ("facility", k), fs.score, hash(tuple(r for f in fs.factors.values() for r in f.reasons))
            )
        ]

    def flow_index(self) -> FlowIndex:
        """The what-if index of the current network, built on first use after each change."""
        if self._flow is None:
            self._flow = FlowIndex.of(self.network)
        return self._flow

    @property
    def network(self) -> Network:
        """The current network (built from the indexes; O(links)), facilities included."""
        return Network(dict(self.enterprises), list(self._links.values()), dict(self.facilities))

    def _index(self, links: Iterable[SupplyLink]) -> None:
        ents = self.enterprises
        for lk in links:
            key = (lk.supplier, lk.buyer, lk.sku)
            self._links[key] = lk
            self._in[lk.buyer].add(key)
            self._out[lk.supplier].add(key)
            self._sku[lk.sku].add(key)
            # not ``setdefault(eid, Enterprise(eid))``: that builds a (frozen, slow) default every time
            if lk.supplier not in ents:
                ents[lk.supplier] = Enterprise(lk.supplier)
            if lk.buyer not in ents:
                ents[lk.buyer] = Enterprise(lk.buyer)

    def _drop(self, key: LinkKey) -> None:
        self._links.pop(key, None)
        self._in[key[1]].discard(key)
        self._out[key[0]].discard(key)
        self._sku[key[2]].discard(key)

    def full(self, network: Network) -> dict[str, RiskScore]:
        """Recompute everything; returns every score.

        The cyclic garbage collector is paused meanwhile: building ~10^7 long-lived objects would
        otherwise trigger repeated full collections over the whole heap.
        """
        with gc_paused():
            return self._full(network)

    def _full(self, network: Network) -> dict[str, RiskScore]:
        self.enterprises = dict(network.enterprises)
        self._links, self._in, self._out, self._sku = {}, defaultdict(set), defaultdict(set), defaultdict(set)
        self._index(network.links)
        self._flow = None
        self.facts = analyse(network, self.settings)
        self.scores = score_network(network, self.facts, self.settings)
        self.facilities, self._operated = {}, defaultdict(set)
        self._index_facilities(network.facilities.values())
        self._marks = {
            k: v
            for k, v in self._marks.items()
            if k in self._links or (isinstance(k, tuple) and k[0] == "facility" and k[1] in self.facilities)
        }
        self._score_links_and_facilities(None, None)
        self.computed_at_ms = int(time.time() * 1000)
        return dict(self.scores)

    def downstream(self, sources: Iterable[str], *, tiers: int | None = None) -> dict[str, int]:
        """Enterprises downstream of ``sources`` (excluding them) -> tier, over the current links; with
        ``tiers``, only those within that many tiers (a cyclic network's whole downstream is most of it)."""
        start = list(dict.fromkeys(sources))
        seen = set(start)
        found: dict[str, int] = {}
        queue = deque((e, 0) for e in start)
        while queue:
            node, tier = queue.popleft()
            if tiers is not None and tier >= tiers:
                continue
            for key in self._out.get(node, ()):
                buyer = key[1]
                if buyer not in seen:
                    seen.add(buyer)
                    found[buyer] = tier + 1
                    queue.append((buyer, tier + 1))
        return found

    def rescore(
        self,
        *,
        enterprises: Iterable[Enterprise] = (),
        links: Iterable[SupplyLink] = (),
        touched: Iterable[str] = (),
        facilities: Iterable[Facility] = (),
    ) -> dict[str, RiskScore]:
        """Apply fresh facts of the touched enterprises (their in and out links are replaced by ``links``)
        and of ``facilities``; return the new scores of them and of everything downstream of them.

        Also rescored (into ``changed_links`` / ``changed_facilities``): the in and out links of every
        enterprise rescored and of the touched ones, the facilities they operate and the fresh facilities."""
        fresh_facilities = list(facilities)
        self._index_facilities(fresh_facilities)
        fresh = {e.id: e for e in enterprises}
        ids = set(touched) | set(fresh)
        self._flow = None
        self.enterprises.update(fresh)
        new_links = list(links)
        old_keys = {k for eid in ids for k in (*self._in.get(eid, ()), *self._out.get(eid, ()))}
        skus = {k[2] for k in old_keys} | {lk.sku for lk in new_links}
        for key in old_keys:
            self._drop(key)
        self._index(new_links)

        # refresh sole sources and HHI of the skus involved (in place)
        f = self.facts
        sku_links = [self._links[k] for sku in skus for k in self._sku.get(sku, ())]
        sku_net = Network(self.enterprises, sku_links)
        fresh_conc = concentration(sku_net, skus=skus)
        fresh_sole = sole_sources(sku_net)
        suppliers = {lk.supplier for lk in sku_links} | {k[0] for k in old_keys}
        old_sole = {ss for u in suppliers for ss in f.sole_by_supplier.get(u, ()) if ss.sku in skus}
        for u in suppliers:
            keep = [ss for ss in f.sole_by_supplier.get(u, ()) if ss.sku not in skus]
            if keep:
                f.sole_by_supplier[u] = keep
            else:
                f.sole_by_supplier.pop(u, None)
        for ss in fresh_sole:
            f.sole_by_supplier.setdefault(ss.supplier, []).append(ss)
        # suppliers whose sole-source or concentration facts moved must be rescored too
        moved = {ss.supplier for ss in old_sole.symmetric_difference(fresh_sole)}
        for sku in skus:
            before, after = f.concentration.get(sku), fresh_conc.get(sku)
            if (
                before is None
                or after is None
                or abs(before.hhi - after.hhi) > 0.005
                or before.region_shares.keys() != after.region_shares.keys()
                or any(
                    abs(before.region_shares[r] - after.region_shares[r]) > 0.005
                    for r in before.region_shares
                )
            ):
                moved |= {k[0] for k in self._sku.get(sku, ())}
            if after is None:
                f.concentration.pop(sku, None)
            else:
                f.concentration[sku] = after

        # rescore own factors of what changed, then push inherited risk downstream while it still moves
        changed = ids | moved | {k[0] for k in old_keys} | {k[1] for k in old_keys}
        sub_keys = {k for eid in changed for k in (*self._in.get(eid, ()), *self._out.get(eid, ()))}
        sub = Network(self.enterprises, [self._links[k] for k in sub_keys])
        own = own_scores(sub, self.facts, self.settings, only=changed)
        out = self._propagate(own)
        self.previous = {eid: self.scores[eid].score for eid in out if eid in self.scores}
        self.scores.update(out)
        # A link's score depends on its supplier's score and on its buyer's links of the same sku: the
        # links out of every rescored enterprise, in and out of the touched ones, and the same-sku
        # siblings of every link replaced -- not every link into their buyers (a real assembly stage
        # buys ~200-1,000 parts, and one part sold to 87 of them made that 15,000 links).
        around = set(out) | changed
        replaced = old_keys | {(lk.supplier, lk.buyer, lk.sku) for lk in new_links}
        keys = {k for eid in around for k in self._out.get(eid, ())}
        keys |= {k for eid in ids for k in self._in.get(eid, ())}
        keys |= {k for _, b, sku in replaced for k in self._in.get(b, ()) if k[2] == sku}
        fac_ids = {f.id for f in fresh_facilities} | {
            i for eid in around for i in self._operated.get(eid, ())
        }
        for key in old_keys - self._links.keys():
            self._marks.pop(key, None)
        self._score_links_and_facilities(keys, fac_ids)
        self.computed_at_ms = int(time.time() * 1000)
        return out

    def _propagate(self, own: dict[str, RiskScore]) -> dict[str, RiskScore]:
        """New scores of the nodes in ``own`` and of every node downstream whose inherited risk moves by
        more than ``inherited_epsilon`` (a worklist; the decay makes changes die out within a few tiers).

        A buyer's inherited risk is ``decay * max over skus of sum(share * supplier total)``. Each buyer
        visited keeps those per-sku sums; when a supplier's total moves, the sums of its buyers already
        visited are moved by ``share * delta`` (O(out-degree)) instead of being summed again over the
        buyer's every supplier on each visit, which made one change reaching an assembly stage of
        ~1,000 suppliers cost a second. The reported value and top contributor are summed afresh, once
        per rescored node, at the end.
        """
        s = self.settings
        scores = self.scores
        own_now = {eid: sc.score for eid, sc in own.items()}
        inh_now: dict[str, float] = {}

        def own_of(u: str) -> float:
            if u in own_now:
                return own_now[u]
            sc = scores.get(u)
            return sc.own if sc else 0.0

        def inh_of(u: str) -> float:
            if u in inh_now:
                return inh_now[u]
            sc = scores.get(u)
            return sc.factors["inherited"].value if sc else 0.0

        def total_of(u: str) -> float:
            return noisy_or([own_of(u), s.weight_inherited * inh_of(u)])

        groups: dict[str, dict[str, dict[str, float]]] = {}
        """buyer -> sku -> supplier -> dependency share, suppliers in link-key order."""
        sums: dict[str, dict[str, float]] = {}
        """buyer -> sku -> sum(share * supplier total), for the buyers visited so far."""
        worst: dict[str, tuple[float, str]] = {}
        stale: set[str] = set()

        def groups_of(v: str) -> dict[str, dict[str, float]]:
            g = groups.get(v)
            if g is None:
                by_sku: dict[str, list[SupplyLink]] = defaultdict(list)
                for key in sorted(self._in.get(v, ())):
                    by_sku[key[2]].append(self._links[key])
                g = groups[v] = {
                    sku: {lk.supplier: sh for lk, sh in zip(lks, dependency_shares(lks), strict=True)}
                    for sku, lks in by_sku.items()
                }
            return g

        def worst_of(v: str) -> float:
            acc = sums.get(v)
            if acc is None:
                acc = sums[v] = {
                    sku: sum(sh * total_of(u) for u, sh in sup.items()) for sku, sup in groups_of(v).items()
                }
                stale.add(v)
            if v in stale:
                stale.discard(v)
                worst[v] = max(((a, sku) for sku, a in acc.items()), default=(0.0, ""))
            return worst[v][0]

        def set_inherited(u: str, value: float) -> None:
            before = total_of(u)
            inh_now[u] = value
            delta = total_of(u) - before
            if delta == 0.0:
                return
            for _, b, sku in self._out.get(u, ()):
                acc = sums.get(b)
                if acc is None:
                    continue
                a = acc[sku] = acc[sku] + groups[b][sku][u] * delta
                top_value, top_sku = worst[b]
                if a >= top_value:
                    worst[b] = (a, sku)
                elif sku == top_sku:
                    stale.add(b)

        rescored: set[str] = set()
        pending = set(own)
        queue = deque(sorted(own))
        queued = set(queue)
        while queue:
            v = queue.popleft()
            queued.discard(v)
            new = clamp(s.inherited_decay * worst_of(v))
            moved = abs(new - inh_of(v)) > s.inherited_epsilon
            if moved or v in pending or v in rescored:
                set_inherited(v, new)
                rescored.add(v)
            if moved or v in pending:
                pending.discard(v)
                for key in self._out.get(v, ()):
                    if key[1] not in queued:
                        queued.add(key[1])
                        queue.append(key[1])

        # the reported value and its top contributor, summed afresh over the final supplier totals
        tops: dict[str, tuple[str, str, float] | None] = {}
        final: dict[str, float] = {}
        for v in sorted(rescored):
            best, top, worst_sku = 0.0, None, 0.0
            for sku, sup in groups_of(v).items():
                acc = 0.0
                for u, share in sup.items():
                    c = share * total_of(u)
                    acc += c
                    if c > best:
                        best, top = c, (u, sku, share)
                worst_sku = max(worst_sku, acc)
            final[v] = clamp(s.inherited_decay * worst_sku)
            tops[v] = top
        inh_now.update(final)
        out: dict[str, RiskScore] = {}
        for eid, top in tops.items():
            base = own.get(eid) or self.scores.get(eid)
            if base is None:
                continue
            factors = {k: base.factors[k] for k in FACTORS if k in base.factors and k != "inherited"}
            reasons: tuple[str, ...] = ()
            if inh_now[eid] > 0 and top is not None:
                supplier, sku, share = top
                reasons = (f"depends on {supplier} for {share:.0%} of its {sku}, which is itself at risk",)
            factors["inherited"] = Factor(inh_now[eid], reasons)
            own_score = base.own if eid not in own else own[eid].score
            out[eid] = RiskScore(eid, combine(factors, s), {**factors, "own": Factor(own_score)})
        return out
