"""Structural analyses of the material-flow graph (Enterprise nodes, SUPPLIES edges) with python-igraph.

igraph was chosen over rustworkx by ``bench/graph_libs.py`` (see docs/risk-model.md): both are fast
for cut vertices, but only igraph computes betweenness from a *subset of source vertices*, which is
how betweenness is approximated on large graphs (Brandes-Pich pivot sampling).
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

import igraph as ig

from graph.risk.facts import Network


@dataclass(frozen=True, slots=True)
class Betweenness:
    """Betweenness per enterprise, normalised by (n-1)(n-2); ``method`` says how it was computed."""

    values: dict[str, float]
    method: str  # "exact" or "sampled:<k> pivots"


class FlowGraph:
    """A directed supplier -> buyer projection; parallel links (one per sku) collapse to one edge."""

    def __init__(self, network: Network) -> None:
        self.ids: list[str] = sorted(network.enterprises)
        self.index: dict[str, int] = {eid: i for i, eid in enumerate(self.ids)}
        pairs = {
            (self.index[lk.supplier], self.index[lk.buyer]) for lk in network.links if lk.supplier != lk.buyer
        }
        self.graph = ig.Graph(n=len(self.ids), edges=sorted(pairs), directed=True)
        self._out: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def articulation_points(self) -> set[str]:
        """Cut vertices of the (undirected) material flow: removing one splits the network."""
        return {self.ids[i] for i in self.graph.articulation_points()}

    def betweenness(self, *, exact_max_nodes: int, pivots: int, seed: int) -> Betweenness:
        """Directed betweenness in [0, 1]; exact up to ``exact_max_nodes``, else from sampled pivots.

        Sampling: shortest paths from ``pivots`` source vertices drawn uniformly (seeded), scaled by
        n / pivots — an unbiased estimate of the exact value (Brandes & Pich 2007).
        """
        n = len(self.ids)
        if n < 3:
            return Betweenness({eid: 0.0 for eid in self.ids}, "exact")
        norm = float((n - 1) * (n - 2))
        if n <= exact_max_nodes or pivots >= n:
            raw = self.graph.betweenness(directed=True)
            method = "exact"
        else:
            sources = random.Random(seed).sample(range(n), pivots)  # noqa: S311 (not cryptography)
            raw = [b * n / pivots for b in self.graph.betweenness(directed=True, sources=sources)]
            method = f"sampled:{pivots} pivots"
        return Betweenness({eid: min(1.0, raw[i] / norm) for i, eid in enumerate(self.ids)}, method)

    def downstream_counts(self, tiers: int) -> dict[str, int]:
        """How many enterprises each enterprise reaches downstream within ``tiers`` tiers."""
        sizes = self.graph.neighborhood_size(order=tiers, mode="out")
        return {eid: sizes[i] - 1 for i, eid in enumerate(self.ids)}

    def downstream(self, sources: Iterable[str]) -> dict[str, int]:
        """Every enterprise downstream of ``sources`` (not themselves) -> its tier (1 = direct buyer)."""
        if self._out is None:
            self._out = self.graph.get_adjlist(mode="out")
        start = [self.index[s] for s in sources if s in self.index]
        seen = set(start)
        tiers: dict[str, int] = {}
        queue = deque((i, 0) for i in start)
        while queue:
            node, tier = queue.popleft()
            for nxt in self._out[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    tiers[self.ids[nxt]] = tier + 1
                    queue.append((nxt, tier + 1))
        return tiers


# -- sole sources and concentration (pure, no graph library needed) ----------------------------------


@dataclass(frozen=True, slots=True)
class SoleSource:
    supplier: str
    buyer: str
    sku: str


def sole_sources(network: Network, *, buyers: set[str] | None = None) -> list[SoleSource]:
    """(buyer, sku) pairs with exactly one supplier, sorted; optionally only for ``buyers``."""
    out = [
        SoleSource(links[0].supplier, buyer, sku)
        for (buyer, sku), links in network.suppliers_by_buyer_sku().items()
        if len({lk.supplier for lk in links}) == 1 and (buyers is None or buyer in buyers)
    ]
    return sorted(out, key=lambda s: (s.sku, s.buyer, s.supplier))


@dataclass(frozen=True, slots=True)
class Concentration:
    """Geographic concentration of one sku's supply: HHI in [0, 1] over regions' volume shares."""

    sku: str
    hhi: float
    region_shares: dict[str, float]
    top_region: str
    top_share: float
    suppliers: int


def concentration(network: Network, *, skus: set[str] | None = None) -> dict[str, Concentration]:
    """Per sku, the HHI of supply volume by supplier region (unknown region counts as its own region).

    Volume is each link's annual volume, else the buyer's share, else 1 (``SupplyLink.volume``).
    """
    by_sku: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    suppliers: dict[str, set[str]] = defaultdict(set)
    for lk in network.links:
        if lk.supplier == lk.buyer or (skus is not None and lk.sku not in skus):
            continue
        region = network.enterprises[lk.supplier].region or "(unknown region)"
        by_sku[lk.sku][region] += lk.volume
        suppliers[lk.sku].add(lk.supplier)
    out: dict[str, Concentration] = {}
    for sku, volumes in by_sku.items():
        total = sum(volumes.values())
        if total <= 0:
            continue
        shares = {r: v / total for r, v in sorted(volumes.items())}
        top = max(shares, key=lambda r: (shares[r], r))
        out[sku] = Concentration(
            sku, sum(s * s for s in shares.values()), shares, top, shares[top], len(suppliers[sku])
        )
    return out
