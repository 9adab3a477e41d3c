"""rustworkx vs python-igraph on a generated material-flow graph (100,000 enterprises, ~1M links).

Run: ``.venv/bin/python bench/graph_libs.py [--nodes 100000] [--links 1000000]``. Prints one table of
wall-clock seconds per operation, both libraries measured side by side in one run.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import igraph as ig
import rustworkx as rx


def edges(n: int, m: int, seed: int) -> list[tuple[int, int]]:
    """A tiered random DAG: most links come from the 50 enterprises just upstream, some from anywhere."""
    rng = random.Random(seed)  # noqa: S311
    out: set[tuple[int, int]] = set()
    while len(out) < m:
        b = rng.randrange(1, n)
        a = rng.randrange(max(0, b - 50), b) if rng.random() < 0.8 else rng.randrange(b)
        out.add((a, b))
    return sorted(out)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--links", type=int, default=1_000_000)
    ap.add_argument("--exact-nodes", type=int, default=3_000, help="subgraph size for exact betweenness")
    ap.add_argument("--pivots", type=int, default=256)
    a = ap.parse_args()
    e = edges(a.nodes, a.links, 7)
    rows: list[tuple[str, str, str]] = []

    def fmt(t: float | None) -> str:
        return "n/a" if t is None else f"{t:8.3f}"

    t_rx, g_rx = timed(lambda: _rx_graph(a.nodes, e))
    t_ig, g_ig = timed(lambda: ig.Graph(n=a.nodes, edges=e, directed=True))
    rows.append(("build directed graph", fmt(t_rx), fmt(t_ig)))

    t_rx, ap_rx = timed(lambda: rx.articulation_points(_rx_undirected(a.nodes, e)))
    t_ig, ap_ig = timed(lambda: g_ig.articulation_points())
    assert set(ap_rx) == set(ap_ig), "libraries disagree on cut vertices"
    rows.append((f"cut vertices (both find {len(ap_ig)})", fmt(t_rx), fmt(t_ig)))

    sample = random.Random(3).sample(range(a.nodes), 100)  # noqa: S311
    t_rx, d_rx = timed(lambda: [len(rx.descendants(g_rx, s)) for s in sample])
    t_ig, d_ig = timed(lambda: [len(g_ig.subcomponent(s, mode="out")) - 1 for s in sample])
    assert d_rx == d_ig, "libraries disagree on downstream sets"
    rows.append(("downstream set of 100 enterprises", fmt(t_rx), fmt(t_ig)))

    t_ig, _ = timed(lambda: g_ig.neighborhood_size(order=3, mode="out"))
    rows.append(("dependants within 3 tiers, all nodes", "n/a", fmt(t_ig)))

    sub = [(x, y) for x, y in e if x < a.exact_nodes and y < a.exact_nodes]
    s_rx, s_ig = _rx_graph(a.exact_nodes, sub), ig.Graph(n=a.exact_nodes, edges=sub, directed=True)
    t_rx, b_rx = timed(lambda: rx.digraph_betweenness_centrality(s_rx, normalized=False))
    t_ig, b_ig = timed(lambda: s_ig.betweenness(directed=True))
    worst = max(abs(b_rx[i] - b_ig[i]) for i in range(a.exact_nodes))
    rows.append((f"exact betweenness, {a.exact_nodes} nodes / {len(sub)} links", fmt(t_rx), fmt(t_ig)))

    piv = random.Random(5).sample(range(a.nodes), a.pivots)  # noqa: S311
    t_ig, _ = timed(lambda: g_ig.betweenness(directed=True, sources=piv))
    rows.append((f"sampled betweenness, {a.pivots} pivots, full graph", "n/a", fmt(t_ig)))

    print(f"graph: {a.nodes:,} enterprises, {len(e):,} supply links; seconds, lower is better")
    print(f"{'operation':<52} {'rustworkx':>9} {'igraph':>9}")
    for name, r, i in rows:
        print(f"{name:<52} {r:>9} {i:>9}")
    print(f"exact betweenness max |rx - igraph| = {worst:.3g}")
    print("n/a: no such operation in the library (no source-subset betweenness, no k-hop sizes)")


def _rx_graph(n: int, e: list[tuple[int, int]]) -> rx.PyDiGraph:
    g = rx.PyDiGraph(multigraph=False)
    g.add_nodes_from(range(n))
    g.add_edges_from_no_data(e)
    return g


def _rx_undirected(n: int, e: list[tuple[int, int]]) -> rx.PyGraph:
    g = rx.PyGraph(multigraph=False)
    g.add_nodes_from(range(n))
    g.add_edges_from_no_data(e)
    return g


if __name__ == "__main__":
    main()
