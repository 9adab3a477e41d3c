"""Risk engine on a generated network of 100,000 enterprises and >= 1,000,000 supply links (in memory).

Run: ``.venv/bin/python bench/risk.py [--nodes 100000] [--links-per-node 21] [--skus 2000]``.
Prints: full recompute time (and its parts), incremental recompute latency after one event
(p50/p99), risky-nodes top-50 p95, what-if for one enterprise and one region (p95), peak memory.
Neo4j I/O is not included (see docs/risk-model.md for what the projection read costs).
"""

from __future__ import annotations

import argparse
import gc
import heapq
import random
import resource
import statistics
import time

from graph.risk import synthetic
from graph.risk.engine import RiskEngine, analyse
from graph.risk.facts import Enterprise, OpenDisruption
from graph.risk.scoring import score_network
from graph.risk.settings import RiskSettings
from graph.risk.whatif import FlowIndex, disrupted_set, what_if, what_if_reference


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--links-per-node", type=int, default=21)
    ap.add_argument("--skus", type=int, default=2_000)
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--scenarios", type=int, default=20)
    a = ap.parse_args()
    s = RiskSettings()

    t0 = time.perf_counter()
    net = synthetic.network(
        "cyclic", a.nodes, seed=5, links_per_node=a.links_per_node, skus=a.skus, kpis=True
    )
    gen = time.perf_counter() - t0
    print(
        f"network: {len(net.enterprises):,} enterprises, {len(net.links):,} supply links, {a.skus} skus "
        f"(generated in {gen:.1f} s)"
    )

    engine = RiskEngine(s)
    t0 = time.perf_counter()
    facts = analyse(net, s)
    t_analyse = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_network(net, facts, s)
    t_score = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = engine.full(net)
    t_full = time.perf_counter() - t0
    gc.freeze()  # as the worker does after a full recompute (streams/risk.py)
    print(
        f"full recompute: {t_full:.1f} s (structure {t_analyse:.1f} s [{facts.betweenness_method}], "
        f"scoring {t_score:.1f} s); {sum(1 for x in scores.values() if x.score >= s.alert_threshold):,} "
        f"above the alert threshold"
    )

    rng = random.Random(9)  # noqa: S311 (benchmark data)
    ids = sorted(net.enterprises)
    lat: list[float] = []
    sizes: list[int] = []
    for i in range(a.events):
        eid = rng.choice(ids)
        e = engine.enterprises[eid]
        fresh = Enterprise(
            e.id,
            e.name,
            e.industry,
            e.region,
            e.days_of_cover,
            (OpenDisruption(f"bench-{i}", "high", "enterprise", 14, "fire"),),
            e.recent_alarms,
            e.expiring_certificates,
            e.facilities,
        )
        links = [engine._links[k] for k in (*engine._in[eid], *engine._out[eid])]
        t0 = time.perf_counter()
        changed = engine.rescore(enterprises=[fresh], links=links)
        lat.append(time.perf_counter() - t0)
        sizes.append(len(changed))
    print(
        f"incremental recompute after one event: p50 {pct(lat, 0.5) * 1000:.0f} ms, "
        f"p99 {pct(lat, 0.99) * 1000:.0f} ms "
        f"(nodes rescored per event: median {statistics.median(sizes):.0f}, "
        f"max {max(sizes)})"
    )

    tops: list[float] = []
    for _ in range(20):
        t0 = time.perf_counter()
        heapq.nlargest(50, engine.scores.values(), key=lambda x: x.score)
        tops.append(time.perf_counter() - t0)
    print(f"risky nodes top 50 (in memory): p95 {pct(tops, 0.95) * 1000:.1f} ms")

    t0 = time.perf_counter()
    idx = FlowIndex.of(engine.network)
    t_idx = time.perf_counter() - t0
    one: list[float] = []
    for _ in range(a.scenarios):
        t0 = time.perf_counter()
        what_if(idx, {rng.choice(ids)}, 30.0, s)
        one.append(time.perf_counter() - t0)
    region: list[float] = []
    region_ref: list[float] = []
    affected = 0
    for r in synthetic.REGIONS[:3]:
        hit = disrupted_set(net, region=r)
        t0 = time.perf_counter()
        w = what_if(idx, hit, 30.0, s)
        region.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = what_if_reference(idx, hit, 30.0, s)  # the heap sweep it replaced, side by side
        region_ref.append(time.perf_counter() - t0)
        assert w == ref, f"region {r}: the vectorised what-if differs from the heap sweep"
        affected = max(affected, len(w.exposures))
        del w, ref  # freeing a region's ~10^5 records belongs to neither the next what-if nor its oracle
    print(
        f"what-if one enterprise, 30 days: p95 {pct(one, 0.95) * 1000:.0f} ms; "
        f"one region (~{len(hit):,} enterprises): p95 {pct(region, 0.95):.2f} s ({affected:,} exposed); "
        f"index built once in {t_idx:.1f} s"
    )
    print(
        f"what-if one region, heap sweep (before): p95 {pct(region_ref, 0.95):.2f} s; vectorised "
        f"{pct(region_ref, 0.95) / pct(region, 0.95):.1f}x faster, results equal"
    )
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
