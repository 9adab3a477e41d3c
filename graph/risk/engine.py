"""The risk engine: full recompute (global measures + every score) and incremental rescoring.

Holds the last network and structure facts in memory; ``rescore`` recomputes only the enterprises an
event touched and everything downstream of them (which inherits from them), reusing the global
measures (betweenness, cut vertices, HHI) of the last full recompute.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from graph.risk.facts import Enterprise, Network, SupplyLink
from graph.risk.scoring import (
    FACTORS,
    Factor,
    RiskScore,
    StructureFacts,
    combine,
    inherit,
    own_scores,
    score_network,
)
from graph.risk.settings import RiskSettings
from graph.risk.structure import FlowGraph, concentration, sole_sources

DOWNSTREAM_TIERS = 3
"""The structure factor counts dependants within this many tiers (exact sets come from ``downstream``)."""


def analyse(network: Network, s: RiskSettings) -> StructureFacts:
    """The global structural measures of ``network`` (cut vertices, betweenness, sole sources, HHI)."""
    flow = FlowGraph(network)
    btw = flow.betweenness(
        exact_max_nodes=s.betweenness_exact_max_nodes, pivots=s.betweenness_pivots, seed=s.betweenness_seed
    )
    return StructureFacts(
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
    network: Network = field(default_factory=Network)
    facts: StructureFacts = field(default_factory=StructureFacts)
    scores: dict[str, RiskScore] = field(default_factory=dict)
    computed_at_ms: int = 0

    def full(self, network: Network) -> dict[str, RiskScore]:
        """Recompute everything; returns every score."""
        self.network = network
        self.facts = analyse(network, self.settings)
        self.scores = score_network(network, self.facts, self.settings)
        self.computed_at_ms = int(time.time() * 1000)
        return self.scores

    def rescore(
        self,
        *,
        enterprises: Iterable[Enterprise] = (),
        links: Iterable[SupplyLink] = (),
        touched: Iterable[str] = (),
    ) -> dict[str, RiskScore]:
        """Apply fresh facts for the touched enterprises (their facts and their incoming and outgoing
        links are replaced) and return the new scores of them and everything downstream of them.

        Sole sources and HHI of the skus involved are refreshed; betweenness and cut vertices keep
        the last full recompute's values.
        """
        fresh = {e.id: e for e in enterprises}
        new_links = list(links)
        ids = set(touched) | set(fresh)
        for e in fresh.values():
            self.network.enterprises[e.id] = e
        replaced = {(lk.supplier, lk.buyer) for lk in new_links} | {
            (lk.supplier, lk.buyer) for lk in self.network.links if lk.supplier in ids or lk.buyer in ids
        }
        if new_links:
            keep = [lk for lk in self.network.links if (lk.supplier, lk.buyer) not in replaced]
            self.network = Network.of(self.network.enterprises.values(), keep + new_links)
        skus = {lk.sku for lk in new_links} | {lk.sku for lk in self.network.links if lk.supplier in ids}
        sub = Network(self.network.enterprises, [lk for lk in self.network.links if lk.sku in skus])
        conc = dict(self.facts.concentration)
        conc.update(concentration(sub, skus=skus))
        sole = [ss for ss in self.facts.sole_sources if ss.sku not in skus] + sole_sources(sub)
        self.facts = StructureFacts(
            sole,
            self.facts.cut_vertices,
            self.facts.betweenness,
            self.facts.betweenness_method,
            self.facts.downstream,
            conc,
        )
        affected = ids | {ss.supplier for ss in sole_sources(sub)} | {lk.supplier for lk in sub.links}
        affected |= set(FlowGraph(self.network).downstream(affected))
        own = own_scores(self.network, self.facts, self.settings, only=affected)
        base = {eid: sc.own for eid, sc in self.scores.items()}
        base.update({eid: sc.score for eid, sc in own.items()})
        known = {eid: sc.factors["inherited"].value for eid, sc in self.scores.items()}
        shares = self.network.effective_shares()
        inherited, top = inherit(shares, base, self.settings, buyers=affected, known=known)
        out: dict[str, RiskScore] = {}
        for eid in affected:
            o = own.get(eid)
            if o is None:
                continue
            f = {k: o.factors[k] for k in FACTORS if k in o.factors}
            reasons: tuple[str, ...] = ()
            if inherited.get(eid, 0.0) > 0 and eid in top:
                supplier, sku, share = top[eid]
                reasons = (f"depends on {supplier} for {share:.0%} of its {sku}, which is itself at risk",)
            f["inherited"] = Factor(inherited.get(eid, 0.0), reasons)
            out[eid] = RiskScore(eid, combine(f, self.settings), {**f, "own": Factor(o.score)})
        self.scores = {**self.scores, **out}
        self.computed_at_ms = int(time.time() * 1000)
        return out
