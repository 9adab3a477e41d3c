"""The structural analyses equal an independent networkx computation on generated networks."""

from __future__ import annotations

import math
from collections import defaultdict

import networkx as nx
import pytest

from graph.risk import synthetic
from graph.risk.engine import RiskEngine
from graph.risk.facts import Network
from graph.risk.settings import RiskSettings
from graph.risk.structure import FlowGraph, concentration, sole_sources
from graph.risk.whatif import disrupted_set, what_if

SHAPES = [("chain", 30), ("tree", 63), ("diamond", 40), ("dag", 300), ("cyclic", 300)]


def nx_graph(net: Network) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(net.enterprises)
    for lk in net.links:
        g.add_edge(lk.supplier, lk.buyer, sku=lk.sku, volume=lk.volume)
    return g


@pytest.fixture(params=SHAPES, ids=[s for s, _ in SHAPES])
def net(request: pytest.FixtureRequest) -> Network:
    shape, n = request.param
    return synthetic.network(shape, n, seed=11)


def test_cut_vertices_equal_networkx(net: Network) -> None:
    expected = set(nx.articulation_points(nx_graph(net).to_undirected()))
    assert FlowGraph(net).articulation_points() == expected


def test_exact_betweenness_equals_networkx(net: Network) -> None:
    expected = nx.betweenness_centrality(nx_graph(net), normalized=True)
    got = FlowGraph(net).betweenness(exact_max_nodes=10_000, pivots=10, seed=1)
    assert got.method == "exact"
    assert got.values == pytest.approx(expected, abs=1e-9)


def test_sampled_betweenness_with_every_node_as_pivot_is_exact() -> None:
    net = synthetic.network("dag", 200, seed=3)
    exact = FlowGraph(net).betweenness(exact_max_nodes=10_000, pivots=1, seed=1).values
    sampled = FlowGraph(net).betweenness(exact_max_nodes=10, pivots=199, seed=1)
    assert sampled.method == "sampled:199 pivots"
    top_exact = sorted(exact, key=lambda k: -exact[k])[:5]
    top_sampled = sorted(sampled.values, key=lambda k: -sampled.values[k])[:10]
    assert set(top_exact[:3]) <= set(top_sampled)


def test_sole_sources_equal_networkx(net: Network) -> None:
    g = nx_graph(net)
    expected = set()
    for buyer in g.nodes:
        by_sku: dict[str, set[str]] = defaultdict(set)
        for supplier, _, data in g.in_edges(buyer, data=True):
            by_sku[data["sku"]].add(supplier)
        expected |= {(next(iter(s)), buyer, sku) for sku, s in by_sku.items() if len(s) == 1}
    assert {(s.supplier, s.buyer, s.sku) for s in sole_sources(net)} == expected


def test_hhi_equals_independent_computation(net: Network) -> None:
    g = nx_graph(net)
    volume: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for a, _b, data in g.edges(data=True):
        volume[data["sku"]][net.enterprises[a].region or "(unknown region)"] += data["volume"]
    got = concentration(net)
    assert set(got) == set(volume)
    for sku, by_region in volume.items():
        total = sum(by_region.values())
        assert got[sku].hhi == pytest.approx(sum((v / total) ** 2 for v in by_region.values()))


def test_downstream_tiers_equal_networkx(net: Network) -> None:
    g = nx_graph(net)
    sources = sorted(net.enterprises)[:2]
    expected = nx.multi_source_dijkstra_path_length(g, set(sources))
    expected = {k: int(v) for k, v in expected.items() if k not in sources}
    assert FlowGraph(net).downstream(sources) == expected
    counts = FlowGraph(net).downstream_counts(3)
    for eid in sorted(net.enterprises)[:20]:
        within = nx.single_source_shortest_path_length(g, eid, cutoff=3)
        assert counts[eid] == len(within) - 1


def test_engine_downstream_within_tiers_equals_networkx(net: Network) -> None:
    """What an alert lists as affected: the engine's search over its current links, bounded by tiers."""
    g = nx_graph(net)
    engine = RiskEngine(RiskSettings())
    engine.full(net)
    for eid in sorted(net.enterprises)[:20]:
        for tiers in (1, 3, None):
            expected = nx.single_source_shortest_path_length(g, eid, cutoff=tiers)
            expected.pop(eid)
            assert engine.downstream([eid], tiers=tiers) == expected


def nx_what_if(net: Network, disrupted: set[str], days: float, s: RiskSettings) -> dict[str, tuple]:
    """Fixed-point relaxation (Bellman-Ford style) over the networkx graph: an independent TTS/TTR."""
    g = nx_graph(net)
    shares = net.effective_shares()
    link_cover = {(lk.buyer, lk.sku): lk.days_of_cover for lk in net.links if lk.days_of_cover is not None}

    def cover(v: str, sku: str) -> float:
        c = link_cover.get((v, sku))
        c = net.enterprises[v].days_of_cover if c is None else c
        return s.default_days_of_cover if c is None else c

    fail = dict.fromkeys(disrupted, 0.0)
    gap: dict[str, tuple[float, float]] = {}
    while True:
        changed = False
        for v in g.nodes:
            if v in disrupted:
                continue
            by_sku: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for u, _, data in g.in_edges(v, data=True):
                if u in fail:
                    by_sku[data["sku"]].append((fail[u], shares[(u, v, data["sku"])]))
            for sku, lost in by_sku.items():
                acc = 0.0
                for t, sh in sorted(lost):
                    acc += sh
                    if acc >= s.critical_share - 1e-9:
                        c = cover(v, sku)
                        if v not in gap or t + c < sum(gap[v]):
                            gap[v] = (t, c)
                            changed = True
                        break
            if v in gap and sum(gap[v]) < days and fail.get(v, math.inf) > sum(gap[v]):
                fail[v] = sum(gap[v])
                changed = True
        if not changed:
            break
    cascade = nx.DiGraph((u, v) for u, v in g.edges if u in fail and v not in disrupted)
    cascade.add_nodes_from(disrupted)
    hops = nx.multi_source_dijkstra_path_length(cascade, disrupted)
    out = {}
    for v in g.nodes:
        if v in disrupted or not any(u in fail for u in g.predecessors(v)):
            continue
        start = gap[v][0] if v in gap else None
        ttr = days - start if start is not None else 0.0
        short = max(0.0, ttr - gap[v][1]) if v in gap else 0.0
        out[v] = (int(hops[v]), start, round(ttr, 9), round(short, 9), v in fail)
    return out


@pytest.mark.parametrize("days", [3.0, 15.0, 40.0])
def test_what_if_shortfall_equals_networkx(net: Network, days: float) -> None:
    s = RiskSettings()
    ids = sorted(net.enterprises)
    hit = disrupted_set(net, enterprises=ids[:2] + ids[-2:])
    got = what_if(net, hit, days, s)
    mine = {
        e.enterprise: (
            e.tier,
            e.gap_starts_day,
            round(e.time_to_recover, 9),
            round(e.shortfall_days, 9),
            e.stops_supplying,
        )
        for e in got.exposures
    }
    assert mine == nx_what_if(net, hit, days, s)
    assert [e.shortfall_days for e in got.exposures] == sorted(
        (e.shortfall_days for e in got.exposures), reverse=True
    )


def test_region_what_if_takes_out_every_enterprise_of_the_region(net: Network) -> None:
    region = net.enterprises[sorted(net.enterprises)[0]].region
    hit = disrupted_set(net, region=region)
    assert hit == {e for e, x in net.enterprises.items() if x.region == region}
    got = what_if(net, hit, 10.0, RiskSettings())
    assert set(got.disrupted) == hit
    assert not hit.intersection(e.enterprise for e in got.exposures)
