"""Added cost of supply-link and facility scores in the risk engine's full recompute and incremental
rescoring, measured side by side with the enterprise scoring on the same generated network.

    .venv/bin/python -m bench.risk_links --nodes 100000 --links-per-node 21 --skus 2000
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import time

from graph.risk import synthetic
from graph.risk.engine import RiskEngine
from graph.risk.facts import Facility, OpenDisruption
from graph.risk.settings import RiskSettings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--links-per-node", type=int, default=21)
    ap.add_argument("--skus", type=int, default=2_000)
    ap.add_argument("--events", type=int, default=50)
    a = ap.parse_args()
    s = RiskSettings()
    net = synthetic.network(
        "cyclic", a.nodes, seed=5, links_per_node=a.links_per_node, skus=a.skus, kpis=True
    )
    rng = random.Random(11)  # noqa: S311 (benchmark data)
    for e in net.enterprises.values():  # one facility per enterprise; 2% with an open disruption
        d = (OpenDisruption(f"{e.id}-fd", "high", "facility", 5.0, "fire"),) if rng.random() < 0.02 else ()
        net.facilities[f"{e.id}-f1"] = Facility(f"{e.id}-f1", e.id, e.region, d, rng.choice((0, 0, 0, 1)))
    print(
        f"network: {len(net.enterprises):,} enterprises, {len(net.links):,} links, "
        f"{len(net.facilities):,} facilities"
    )

    engine = RiskEngine(s)
    gc.disable()
    t0 = time.perf_counter()
    engine.full(net)
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine._marks.clear()  # as after a restart: everything is handed out for writing
    engine._score_links_and_facilities(None, None)
    t_lf = time.perf_counter() - t0
    n_first = len(engine.changed_links), len(engine.changed_facilities)
    t0 = time.perf_counter()
    engine._score_links_and_facilities(None, None)
    t_again = time.perf_counter() - t0
    gc.enable()
    gc.freeze()
    print(
        f"full recompute incl. links + facilities: {t_full:.1f} s; of which link + facility scoring "
        f"{t_lf:.1f} s ({n_first[0]:,} links, {n_first[1]:,} facilities changed on a fresh engine); "
        f"a second pass with nothing changed: {t_again:.1f} s, "
        f"{len(engine.changed_links):,} links / {len(engine.changed_facilities):,} facilities to write"
    )
    ids = sorted(net.enterprises)
    lat: list[float] = []
    nlinks: list[int] = []
    for _ in range(a.events):
        eid = rng.choice(ids)
        e = engine.enterprises[eid]
        hit = OpenDisruption(f"{eid}-x", "critical", "enterprise", 20.0, "flood")
        t0 = time.perf_counter()
        engine.rescore(
            enterprises=[type(e)(**{**{f: getattr(e, f) for f in e.__slots__}, "disruptions": (hit,)})],
            links=[engine._links[k] for k in (*engine._in[eid], *engine._out[eid])],
            touched=[eid],
        )
        lat.append(time.perf_counter() - t0)
        nlinks.append(len(engine.changed_links))
    lat.sort()
    print(
        "incremental (one disruption, incl. links + facilities): "
        f"p50 {statistics.median(lat) * 1000:.0f} ms, "
        f"p99 {lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0] * 1000:.0f} ms; "
        f"links rescored and changed per event: median {statistics.median(nlinks):.0f}"
    )
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
